"""Dates in poller configurations: provider date values and URL placeholders.

Poller configurations read a resource's dates with a ``datesConfiguration`` (a Java
pattern from :mod:`~pollhub.polling.javadate`, or the word ``milliseconds`` for
epoch-millisecond fields, in a zone from :mod:`~pollhub.polling.timezones`), and put the
last poll time into hub URLs with placeholders such as ``${gmtDate:FORMAT}`` (reference
``cloud_elements.md`` sections 3.3-3.4). Everything here is pure: no clock, no I/O, so
the poller and the API's configuration checks share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

from pollhub.polling.javadate import DateFormat, compile_format
from pollhub.polling.timezones import GMT, resolve_timezone

__all__ = [
    "DEFAULT_URL_DATE_FORMAT",
    "MILLISECONDS",
    "find_placeholders",
    "format_date",
    "parse_provider_date",
    "render_url",
    "validate_date_format",
    "validate_url_template",
]

MILLISECONDS = "milliseconds"
"""The ``updatedDateFormat`` value for fields holding epoch milliseconds."""

DEFAULT_URL_DATE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss'Z'"
"""The format of a bare ``${date}`` placeholder (its format is unspecified in the docs)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# ------------------------------------------------------------------ provider date values


def validate_date_format(fmt: str | None) -> None:
    """Raise ValueError if ``fmt`` is not a usable ``updatedDateFormat``.

    Empty (ISO 8601 or epoch guessed per value) and ``milliseconds`` are valid.
    """
    if fmt and fmt.strip().lower() != MILLISECONDS:
        compile_format(fmt)


def _from_epoch_ms(value: str | int | float) -> datetime:
    if isinstance(value, bool):
        raise ValueError(f"date {value!r} is not epoch milliseconds")
    try:
        # int() for integer strings keeps epoch values exact; float() only for fractions.
        if isinstance(value, str):
            milliseconds: float = int(value) if value.lstrip("-").isdecimal() else float(value)
        else:
            milliseconds = value
        return _EPOCH + timedelta(milliseconds=milliseconds)
    except (ValueError, OverflowError):
        raise ValueError(f"date {value!r} is not epoch milliseconds") from None


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?[0-9]+(?:\.[0-9]+)?", text) is not None


def parse_provider_date(
    value: str | int | float | None, fmt: str | None, tz: str | None
) -> datetime | None:
    """A provider's date field as an aware UTC datetime, read per the configuration.

    ``fmt`` is a ``datesConfiguration`` format: ``milliseconds`` (epoch ms, a number or
    numeric string), empty (ISO 8601 via ``datetime.fromisoformat``, else epoch ms if
    numeric) or a Java pattern. ``tz`` is the configured zone, used when the value has
    none. A missing or empty value gives None; a value that does not fit raises
    ValueError.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    zone = resolve_timezone(tz)
    if isinstance(value, str):
        value = value.strip()
    fmt = (fmt or "").strip()
    if fmt.lower() == MILLISECONDS:
        return _from_epoch_ms(value)
    if not fmt:
        if not isinstance(value, str) or _is_number(value):
            return _from_epoch_ms(value)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"date {value!r} is neither ISO 8601 nor epoch milliseconds") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    return compile_format(fmt).parse(str(value), zone)


def format_date(dt: datetime, fmt: str, tz: str | None = None) -> str:
    """``dt`` written in the Java pattern ``fmt`` (or ``milliseconds``) in zone ``tz``.

    ``tz`` defaults to UTC; ``dt`` must be aware.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"cannot format naive datetime {dt!r}; give it a time zone")
    if fmt.strip().lower() == MILLISECONDS:
        return str(_epoch_microseconds(dt) // 1000)
    return compile_format(fmt).format(dt.astimezone(resolve_timezone(tz)))


# --------------------------------------------------------------------- URL placeholders

_PLACEHOLDER_RE = re.compile(r"\$\{([^}]*)\}")
_EPOCH_UNITS: dict[str, Literal["s", "ms", "us"]] = {
    "": "ms",
    "ms": "ms",
    "s": "s",
    "0": "s",  # seen in the repsly element; read as "no fractional digits", i.e. seconds
    "us": "us",
}
_MICROSECONDS_PER_UNIT = {"s": 1_000_000, "ms": 1000, "us": 1}


def _epoch_microseconds(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class _Placeholder:
    """One parsed ``${...}``: which moment, and how to write it."""

    moment: Literal["since", "now"]
    zone: tzinfo = UTC
    date_format: DateFormat | None = None
    epoch_unit: Literal["s", "ms", "us"] = "ms"

    def render(self, since: datetime, now: datetime) -> str:
        moment = now if self.moment == "now" else since
        if self.date_format is None:
            return str(_epoch_microseconds(moment) // _MICROSECONDS_PER_UNIT[self.epoch_unit])
        return self.date_format.format(moment.astimezone(self.zone))


def _split_zone_and_format(rest: str) -> tuple[tzinfo, DateFormat]:
    """``-6:00:yyyy-MM-dd`` as zone ``-6:00`` and format ``yyyy-MM-dd``.

    Zones (``-6:00``) and formats (``HH:mm``) both hold colons, so take the longest text
    before a colon that is a valid zone.
    """
    colons = [i for i, char in enumerate(rest) if char == ":"]
    for i in reversed(colons):
        if not rest[:i].strip():
            break  # resolve_timezone("") is UTC, but an empty zone is a mistake here
        try:
            zone = resolve_timezone(rest[:i])
        except ValueError:
            continue
        return zone, compile_format(rest[i + 1 :])
    raise ValueError("expected a time zone and a date format, as in ZONE:FORMAT")


@lru_cache(maxsize=256)
def _parse_placeholder(body: str) -> _Placeholder:
    placeholder = "${" + body + "}"
    name, colon, rest = body.partition(":")
    try:
        if name in ("gmtDate", "date"):
            # Our servers run on GMT, so ${date} (the server's zone) equals ${gmtDate}.
            if colon and not rest:
                raise ValueError("empty date format")
            return _Placeholder("since", GMT, compile_format(rest or DEFAULT_URL_DATE_FORMAT))
        if name in ("dateTimeZone", "nowTimeZone"):
            zone, date_format = _split_zone_and_format(rest)
            return _Placeholder("now" if name == "nowTimeZone" else "since", zone, date_format)
        if name == "epoch" and rest in _EPOCH_UNITS:
            return _Placeholder("since", epoch_unit=_EPOCH_UNITS[rest])
        if name == "milliseconds" and not colon:
            return _Placeholder("since", epoch_unit="ms")
    except ValueError as exc:
        raise ValueError(f"bad placeholder {placeholder!r}: {exc}") from None
    raise ValueError(f"unknown placeholder {placeholder!r}")


def find_placeholders(template: str) -> list[str]:
    """The ``${...}`` placeholders in a URL template, in order, as written.

    Raises ValueError for a ``${`` that is never closed. ``{id}``-style resource tokens
    are not placeholders and are left alone.
    """
    if "${" in _PLACEHOLDER_RE.sub("", template):
        raise ValueError(f"unterminated placeholder in URL {template!r}")
    return [match.group(0) for match in _PLACEHOLDER_RE.finditer(template)]


def validate_url_template(template: str) -> None:
    """Raise ValueError naming the first unknown or malformed placeholder in ``template``.

    For refusing a bad ``event.poller.configuration`` when an instance is created.
    """
    for placeholder in find_placeholders(template):
        _parse_placeholder(placeholder[2:-1])


def render_url(template: str, since: datetime, now: datetime) -> str:
    """``template`` with its date placeholders replaced.

    ``since`` is the last poll time (after ``pollDelay``), ``now`` the start of this poll
    (only ``${nowTimeZone:...}`` uses it). Both must be aware. Values are inserted as
    they are, not URL-encoded (``-08:00`` keeps its ``:``, ``+`` stays ``+``): the caller
    encodes query values when it sends the request.

    Placeholders: ``${gmtDate:FMT}`` and ``${date:FMT}`` (last poll in GMT), bare
    ``${date}`` (``yyyy-MM-dd'T'HH:mm:ss'Z'``), ``${dateTimeZone:ZONE:FMT}``,
    ``${nowTimeZone:ZONE:FMT}``, ``${epoch}``/``${epoch:ms}``/``${milliseconds}``
    (milliseconds), ``${epoch:s}``/``${epoch:0}`` (seconds), ``${epoch:us}``.
    """
    for moment in (since, now):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"cannot render a URL with naive datetime {moment!r}")
    find_placeholders(template)  # rejects an unterminated ${
    return _PLACEHOLDER_RE.sub(
        lambda match: _parse_placeholder(match.group(1)).render(since, now), template
    )
