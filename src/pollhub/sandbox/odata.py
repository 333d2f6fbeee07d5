"""The part of OData's ``$filter`` Graph accepts on a folder's children.

``property op value`` comparisons joined by ``and``: ``eq ne gt ge lt le``, strings in
single quotes (``''`` escapes one), date-times bare (``2026-11-21T08:30:12Z``). Graph
refuses other properties with 400 ``invalidRequest``; so does the sandbox.
Docs: https://learn.microsoft.com/graph/filter-query-parameter
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pollhub.sandbox.timefmt import parse_datetime

FILTERABLE = ("name", "lastModifiedDateTime", "createdDateTime")
_COMPARISON = re.compile(
    r"\s*(?P<field>\w+)\s+(?P<op>eq|ne|gt|ge|lt|le)\s+(?P<value>'(?:[^']|'')*'|[^\s']+)\s*",
    re.IGNORECASE,
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}

Predicate = Callable[[dict[str, Any]], bool]


class InvalidFilter(ValueError):
    """The ``$filter`` is malformed or uses what Graph does not support here."""


def parse_filter(text: str) -> Predicate:
    """A predicate over driveItem JSON; raises :class:`InvalidFilter`."""
    predicates = [_comparison(part) for part in re.split(r"\s+and\s+", text.strip(), flags=re.I)]
    return lambda item: all(predicate(item) for predicate in predicates)


def _comparison(text: str) -> Predicate:
    match = _COMPARISON.fullmatch(text)
    if match is None:
        raise InvalidFilter(f"Invalid filter clause: '{text}'.")
    field, op, raw = match.group("field"), match.group("op").lower(), match.group("value")
    if field not in FILTERABLE:
        raise InvalidFilter(f"Filtering on '{field}' is not supported.")
    compare = _OPS[op]
    if raw.startswith("'"):
        text_value = raw[1:-1].replace("''", "'")
        return lambda item: compare(str(item.get(field, "")).lower(), text_value.lower())
    moment = parse_datetime(raw)
    if moment is None:
        raise InvalidFilter(f"Invalid value '{raw}' for {field}.")

    def holds(item: dict[str, Any]) -> bool:
        found = parse_datetime(str(item.get(field, "")))
        return found is not None and compare(_second(found), _second(moment))

    return holds


def _second(moment: datetime) -> datetime:
    # driveItem dates are written to the second; compare at that precision.
    return moment.replace(microsecond=0)
