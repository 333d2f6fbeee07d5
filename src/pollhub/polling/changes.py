"""What a polled object means, from its dates: the poller's side of change detection.

Pure functions. The verdict itself is :func:`pollhub.changes.verdicts.classify`, shared
with webhooks; this module reads an object's id and dates as the poller configuration
says and picks its version (its updated date, else all of it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pollhub.changes.verdicts import Seen, Verdict, classify, digest
from pollhub.elements.reading import ProviderChange
from pollhub.elements.where import field_value
from pollhub.polling.config import DatesConfiguration
from pollhub.polling.dates import parse_provider_date

# Cloud Elements compared created and updated dates for equality; a second of slack absorbs
# providers that stamp the two a few milliseconds apart on creation.
DEFAULT_CREATED_TOLERANCE_SECONDS = 1.0


@dataclass(frozen=True)
class ObjectDates:
    """An object's created and updated dates, where the configuration says to find them."""

    created: datetime | None
    updated: datetime | None


def object_id(change: ProviderChange, id_field: str) -> str:
    """The configured ``idField``'s value, else the element's natural id."""
    value = field_value(change.raw, id_field) if id_field else None
    return str(value) if value not in (None, "") else change.object_id


def object_dates(raw: Any, dates: DatesConfiguration | None) -> ObjectDates:
    """Read the configured date fields; a missing or unreadable date is None."""
    if dates is None:
        return ObjectDates(None, None)
    return ObjectDates(
        _date(raw, dates.createdDateField, dates.createdDateFormat, dates.createdDateTimezone),
        _date(raw, dates.updatedDateField, dates.updatedDateFormat, dates.updatedDateTimezone),
    )


def _date(raw: Any, field: str, fmt: str, zone: str) -> datetime | None:
    if not field:
        return None
    value = field_value(raw, field)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        return parse_provider_date(value, fmt, zone)
    except ValueError:
        return None


def fingerprint(change: ProviderChange, dates: ObjectDates) -> str:
    """A digest of the version of the object: its updated date, else all of it."""
    return digest(_version(change, dates))


def _version(change: ProviderChange, dates: ObjectDates) -> str:
    if change.kind == "deleted":
        return "deleted"
    if dates.updated is not None:
        return dates.updated.isoformat()
    return json.dumps(change.raw, sort_keys=True, separators=(",", ":"), default=str)


def classify_change(
    change: ProviderChange,
    previous: Seen | None,
    dates: ObjectDates,
    *,
    baseline: bool,
    since: datetime | None,
    first_poll: datetime | None = None,
    tolerance_seconds: float = DEFAULT_CREATED_TOLERANCE_SECONDS,
) -> Verdict:
    """Classify one polled object against what was seen before.

    ``baseline`` reads, and objects the reader marks silent, are remembered, not reported.
    ``since`` is the start of the last successful poll; ``first_poll`` the start of the
    resource's first (baseline) poll.
    """
    return classify(
        change.kind,
        _version(change, dates),
        previous,
        unseen=_new_object_type(dates, since, tolerance_seconds),
        quiet=baseline or change.silent or _ended_before(change, previous, dates, first_poll),
    )


def _ended_before(
    change: ProviderChange, previous: Seen | None, dates: ObjectDates, first_poll: datetime | None
) -> bool:
    """A delete, dated at or before the first poll, of an object that poll never listed:
    the object was gone before the resource was watched (a look-back, or a window whose
    start is rendered to the second, reaches into the first poll's own second).

    Only an object with no memory qualifies: one the baseline listed existed after the
    first poll, so its deletion is news whatever its date says. A delete's date is the
    object's updated date (the tombstone's); without one nothing can be told, and the
    delete is reported.
    """
    if change.kind != "deleted" or previous is not None or first_poll is None:
        return False
    return dates.updated is not None and dates.updated <= first_poll


def _new_object_type(dates: ObjectDates, since: datetime | None, tolerance: float) -> str:
    """An object not seen before: created, unless its dates say it existed before the last
    poll and has merely changed (Cloud Elements' rule: same dates mean created)."""
    created, updated = dates.created, dates.updated
    if created is None or updated is None:
        return "CREATED"
    if abs((updated - created).total_seconds()) <= tolerance:
        return "CREATED"
    if since is not None and created >= since:
        return "CREATED"
    return "UPDATED"
