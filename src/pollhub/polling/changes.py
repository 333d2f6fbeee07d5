"""Deciding what a provider's object means: CREATED, UPDATED, DELETED — or nothing new.

Pure functions. The poller remembers a fingerprint of the last version of every object it
has seen; an object whose fingerprint has not moved was already reported (an overlapping
window, a retried poll), so the same change is never reported twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pollhub.elements.reading import ProviderChange
from pollhub.elements.where import field_value
from pollhub.polling.config import DatesConfiguration
from pollhub.polling.dates import parse_provider_date

# Cloud Elements compared created and updated dates for equality; a second of slack absorbs
# providers that stamp the two a few milliseconds apart on creation.
DEFAULT_CREATED_TOLERANCE_SECONDS = 1.0


@dataclass(frozen=True)
class Seen:
    """What was last remembered of an object."""

    fingerprint: str
    deleted: bool


@dataclass(frozen=True)
class ObjectDates:
    """An object's created and updated dates, where the configuration says to find them."""

    created: datetime | None
    updated: datetime | None


@dataclass(frozen=True)
class Verdict:
    """What to report (``event_type`` None: nothing) and what to remember."""

    event_type: str | None
    fingerprint: str
    deleted: bool


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
    if change.kind == "deleted":
        basis = "deleted"
    elif dates.updated is not None:
        basis = dates.updated.isoformat()
    else:
        basis = json.dumps(change.raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(basis.encode()).hexdigest()


def classify_change(
    change: ProviderChange,
    previous: Seen | None,
    dates: ObjectDates,
    *,
    baseline: bool,
    since: datetime | None,
    tolerance_seconds: float = DEFAULT_CREATED_TOLERANCE_SECONDS,
) -> Verdict:
    """Classify one object against what was seen before.

    ``baseline`` reads, and objects the reader marks silent, are remembered, not reported.
    ``since`` is the start of the last successful poll.
    """
    digest = fingerprint(change, dates)
    deleted = change.kind == "deleted"
    if baseline or change.silent:
        return Verdict(None, digest, deleted)
    if previous is not None and previous.fingerprint == digest and previous.deleted == deleted:
        return Verdict(None, digest, deleted)  # reported already
    if deleted:
        return Verdict("DELETED", digest, True)
    if change.kind is not None:
        return Verdict(change.kind.upper(), digest, False)
    if previous is not None:
        # Seen before: changed, or back from the dead (a restored file) — which is a creation.
        return Verdict("CREATED" if previous.deleted else "UPDATED", digest, False)
    return Verdict(_new_object_type(dates, since, tolerance_seconds), digest, False)


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
