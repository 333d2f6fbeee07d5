"""The date formats each simulated provider writes, and a lenient ISO 8601 reader."""

from __future__ import annotations

from datetime import UTC, datetime


def seconds_z(moment: datetime) -> str:
    """``2026-11-21T08:30:12Z`` (OneDrive driveItem dates, DocuShare Flex dates)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def millis_z(moment: datetime) -> str:
    """``2026-11-21T08:30:12.345Z`` (Google's RFC 3339 timestamps)."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def ticks_z(moment: datetime) -> str:
    """``2026-11-25T18:23:45.9356913Z``: .NET's seven fractional digits, as Graph writes."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


def ticks_offset(moment: datetime) -> str:
    """``2026-11-25T18:23:45.9356913+00:00``: Graph's notification expiration format."""
    return ticks_z(moment)[:-1] + "+00:00"


def ticks_local(moment: datetime) -> str:
    """``2026-11-25T18:00:00.0000000``: Graph's ``dateTimeTimeZone.dateTime`` (no zone)."""
    return ticks_z(moment)[:-1]


def epoch_millis(moment: datetime) -> str:
    """Milliseconds since the epoch as a string (Gmail's ``internalDate``)."""
    return str(int(moment.timestamp() * 1000))


def parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 date-time as an aware UTC datetime, or None if unreadable.

    A value without a zone is taken as UTC, which is what the providers assume.
    """
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
