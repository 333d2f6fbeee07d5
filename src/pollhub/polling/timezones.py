"""Time zones as poller configurations and provider date values name them.

Cloud Elements ran on the JVM, so configurations name zones the way Java's
``TimeZone.getTimeZone`` reads them (``GMT``, ``MST``, ``-6:00``, ``America/Denver``);
date values carry offsets and abbreviations (``Z``, ``-08:00``, ``PDT``). Pure: no clock,
no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["GMT", "resolve_timezone", "zone_from_value"]

GMT = timezone(timedelta(0), "GMT")
"""Zero offset named ``GMT``, as Java names it (``UTC`` is :data:`datetime.UTC`)."""

# Java's legacy three-letter ids (java.time.ZoneId.SHORT_IDS), which is what
# TimeZone.getTimeZone("PST") gave Cloud Elements: mostly real zones with daylight saving,
# except EST, MST and HST which are fixed offsets. Note BST is Bangladesh and AST Alaska.
_JAVA_SHORT_IDS: dict[str, str] = {
    "ACT": "Australia/Darwin",
    "AET": "Australia/Sydney",
    "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo",
    "AST": "America/Anchorage",
    "BET": "America/Sao_Paulo",
    "BST": "Asia/Dhaka",
    "CAT": "Africa/Harare",
    "CNT": "America/St_Johns",
    "CST": "America/Chicago",
    "CTT": "Asia/Shanghai",
    "EAT": "Africa/Addis_Ababa",
    "ECT": "Europe/Paris",
    "IET": "America/Indiana/Indianapolis",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "MIT": "Pacific/Apia",
    "NET": "Asia/Yerevan",
    "NST": "Pacific/Auckland",
    "PLT": "Asia/Karachi",
    "PNT": "America/Phoenix",
    "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles",
    "SST": "Pacific/Guadalcanal",
    "VST": "Asia/Ho_Chi_Minh",
}
_JAVA_FIXED_IDS: dict[str, timedelta] = {
    "EST": timedelta(hours=-5),
    "MST": timedelta(hours=-7),
    "HST": timedelta(hours=-10),
}

# Abbreviations as they appear in date *values* (Java Date.toString, RFC 1123 dates):
# each names one fixed offset, so "PDT" is -07:00 whatever the date. Also the fallback for
# configured zones that are not Java ids (PDT, CEST, ...).
_ABBREVIATION_MINUTES: dict[str, int] = {
    "UTC": 0, "GMT": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180,
    "MSK": 180, "IST": 330, "HKT": 480, "AWST": 480, "JST": 540, "KST": 540,
    "ACST": 570, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780,
    "NST": -210, "NDT": -150, "AST": -240, "ADT": -180, "EST": -300, "EDT": -240,
    "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "AKST": -540, "AKDT": -480, "HST": -600, "SST": -660,
}  # fmt: skip
_ABBREVIATION_OFFSETS = {
    name: timedelta(minutes=minutes) for name, minutes in _ABBREVIATION_MINUTES.items()
}

_OFFSET_RE = re.compile(r"(?:GMT|UTC|UT)?([+-])([0-9]{1,2})(?::?([0-9]{2}))?", re.IGNORECASE)


def _fixed_zone(offset: timedelta) -> timezone:
    """A fixed-offset zone named the way Java names it (``GMT-06:00``)."""
    if not offset:
        return GMT
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return timezone(offset, f"GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}")


def _parse_offset(text: str) -> timedelta | None:
    """``-6:00``, ``+0600``, ``GMT+2`` as an offset; None if ``text`` is not one."""
    match = _OFFSET_RE.fullmatch(text)
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 18 or minutes > 59 or (hours == 18 and minutes):
        raise ValueError(f"time zone offset {text!r} is out of range (-18:00 to +18:00)")
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if sign == "-" else offset


@lru_cache(maxsize=256)
def resolve_timezone(name: str | None) -> tzinfo:
    """The zone a configuration names, as Java's ``TimeZone.getTimeZone`` would read it.

    Accepts None or ``""`` (UTC, the Cloud Elements default), ``GMT``, ``UTC``, offsets
    (``-6:00``, ``+06:00``, ``-0600``, ``GMT+2``, ``UTC-05:30``), IANA names
    (``America/Denver``) and abbreviations. Abbreviations follow Java: ``EST``, ``MST``
    and ``HST`` are fixed offsets; ``PST``, ``CST``, ``CET``, ``IST``... are the IANA
    zones Java maps them to, so they follow daylight saving; daylight abbreviations such
    as ``PDT`` or ``CEST`` (unknown to Java) are fixed offsets. Raises ValueError for
    anything else, where Java would silently have used GMT.
    """
    text = (name or "").strip()
    upper = text.upper()
    if upper in ("", "UTC", "Z"):
        return UTC
    if upper in ("GMT", "UT"):
        return GMT
    offset = _parse_offset(text)
    if offset is not None:
        return _fixed_zone(offset)
    if upper in _JAVA_FIXED_IDS:
        return _fixed_zone(_JAVA_FIXED_IDS[upper])
    if upper in _JAVA_SHORT_IDS:
        return ZoneInfo(_JAVA_SHORT_IDS[upper])
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    if upper in _ABBREVIATION_OFFSETS:
        return _fixed_zone(_ABBREVIATION_OFFSETS[upper])
    raise ValueError(f"unknown time zone {name!r}")


def zone_from_value(text: str) -> tzinfo:
    """The zone written in a date value (``Z``, ``-08:00``, ``GMT-8``, ``PDT``).

    Unlike :func:`resolve_timezone`, an abbreviation here is always a fixed offset
    (``PDT`` is -07:00 whatever the date). Raises ValueError for an unknown zone.
    """
    upper = text.upper()
    if upper in ("Z", "UTC"):
        return UTC
    offset = _parse_offset(text)
    if offset is None:
        offset = _ABBREVIATION_OFFSETS.get(upper)
    if offset is None:
        raise ValueError(f"unknown time zone {text!r}")
    return _fixed_zone(offset)
