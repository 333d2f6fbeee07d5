"""Time zones named in poller configurations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollhub.polling.timezones import resolve_timezone

# Monday 20 August 2018, 15:30:07.123456 UTC (the moment of the Java Date.toString seed).
MOMENT = datetime(2018, 8, 20, 15, 30, 7, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "offset_in_august"),
    [
        (None, timedelta(0)),
        ("", timedelta(0)),
        ("GMT", timedelta(0)),
        ("gmt", timedelta(0)),
        ("UTC", timedelta(0)),
        ("America/Denver", timedelta(hours=-6)),
        ("Europe/Paris", timedelta(hours=2)),
        ("MST", timedelta(hours=-7)),  # Java: fixed, no daylight saving
        ("EST", timedelta(hours=-5)),
        ("HST", timedelta(hours=-10)),
        ("PST", timedelta(hours=-7)),  # Java: America/Los_Angeles, so PDT in August
        ("CST", timedelta(hours=-5)),
        ("CET", timedelta(hours=2)),  # IANA CET follows daylight saving
        ("IST", timedelta(hours=5, minutes=30)),
        ("PDT", timedelta(hours=-7)),  # not a Java id: a fixed offset
        ("CEST", timedelta(hours=2)),
        ("-6:00", timedelta(hours=-6)),
        ("+6:00", timedelta(hours=6)),
        ("+06:00", timedelta(hours=6)),
        ("-0600", timedelta(hours=-6)),
        ("GMT+2", timedelta(hours=2)),
        ("GMT-08:00", timedelta(hours=-8)),
        ("UTC+05:30", timedelta(hours=5, minutes=30)),
    ],
)
def test_resolve_timezone_reads_names_abbreviations_and_offsets(
    name: str | None, offset_in_august: timedelta
) -> None:
    assert MOMENT.astimezone(resolve_timezone(name)).utcoffset() == offset_in_august


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
        ("XYZ", "unknown time zone 'XYZ'"),
        ("America", "unknown time zone"),
        ("../etc/passwd", "unknown time zone"),
        ("+25:00", "out of range"),
        ("-06:75", "out of range"),
    ],
)
def test_resolve_timezone_rejects_unknown_zones(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_timezone(name)
