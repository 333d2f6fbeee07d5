"""Java ``SimpleDateFormat`` patterns: formatting, parsing and bad patterns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pollhub.polling.javadate import compile_format

# Monday 20 August 2018, 15:30:07.123456 UTC (the moment of the Java Date.toString seed).
MOMENT = datetime(2018, 8, 20, 15, 30, 7, 123456, tzinfo=UTC)
MORNING = datetime(2026, 3, 5, 0, 4, 9, 7000, tzinfo=UTC)  # Thursday, 12 AM, 7 ms


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# ------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("pattern", "moment", "expected"),
    [
        ("yyyy", MOMENT, "2018"),
        ("yy", MOMENT, "18"),
        ("y", MOMENT, "2018"),
        ("M", MORNING, "3"),
        ("MM", MORNING, "03"),
        ("MMM", MOMENT, "Aug"),
        ("MMMM", MOMENT, "August"),
        ("d", MORNING, "5"),
        ("dd", MORNING, "05"),
        ("H", MORNING, "0"),
        ("HH", MOMENT, "15"),
        ("h", MOMENT, "3"),
        ("hh", MORNING, "12"),
        ("m", MORNING, "4"),
        ("mm", MORNING, "04"),
        ("s", MORNING, "9"),
        ("ss", MORNING, "09"),
        ("SSS", MORNING, "007"),
        ("S", MORNING, "7"),
        ("a", MOMENT, "PM"),
        ("a", MORNING, "AM"),
        ("EEE", MOMENT, "Mon"),
        ("EEEE", MORNING, "Thursday"),
        ("Z", MOMENT, "+0000"),
        ("X", MOMENT, "Z"),
        ("XXX", MOMENT, "Z"),
        ("z", MOMENT, "UTC"),
        ("'T'", MOMENT, "T"),
        ("'Z'", MOMENT, "Z"),
        ("''", MOMENT, "'"),
        ("'o''clock'", MOMENT, "o'clock"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", MOMENT, "2018-08-20T15:30:07.123Z"),
        ("yyyy-MM-dd'T'HH:mm:ss'Z'", MOMENT, "2018-08-20T15:30:07Z"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", MOMENT, "2018-08-20T15:30:07.123+0000"),
        ("yyyy-MM-dd'T'HH:mm:ssXXX", MOMENT, "2018-08-20T15:30:07Z"),
        ("EEE MMM dd HH:mm:ss z yyyy", MOMENT, "Mon Aug 20 15:30:07 UTC 2018"),
        ("MM/dd/yyyy hh:mm a", MOMENT, "08/20/2018 03:30 PM"),
        ("yyyyMMddHHmmssSSS", MOMENT, "20180820153007123"),
    ],
)
def test_format_writes_each_pattern_letter_like_java(
    pattern: str, moment: datetime, expected: str
) -> None:
    assert compile_format(pattern).format(moment) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ss.S", "07.1"),
        ("ss.SSS", "07.123"),
        ("ss.SSSSSS", "07.123456"),
        ("ss,SSS", "07,123"),
    ],
)
def test_format_writes_s_after_a_dot_as_a_decimal_fraction(pattern: str, expected: str) -> None:
    assert compile_format(pattern).format(MOMENT) == expected


# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("yyyy", "2018", utc(2018, 1, 1)),
        ("yy", "18", utc(2018, 1, 1)),
        ("yy", "69", utc(1969, 1, 1)),
        ("yy", "2018", utc(2018, 1, 1)),
        ("yyyy-M-d", "2018-8-5", utc(2018, 8, 5)),
        ("yyyy-MM-dd", "2018-08-05", utc(2018, 8, 5)),
        ("dd MMM yyyy", "05 Aug 2018", utc(2018, 8, 5)),
        ("dd MMM yyyy", "05 AUG 2018", utc(2018, 8, 5)),
        ("dd MMMM yyyy", "05 May 2018", utc(2018, 5, 5)),
        ("dd MMMM yyyy", "05 September 2018", utc(2018, 9, 5)),
        ("HH:mm:ss", "15:30:07", utc(1970, 1, 1, 15, 30, 7)),
        ("h:mm a", "3:30 pm", utc(1970, 1, 1, 15, 30)),
        ("h:mm a", "12:05 AM", utc(1970, 1, 1, 0, 5)),
        ("h:mm a", "12:05 PM", utc(1970, 1, 1, 12, 5)),
        ("HHmmssSSS", "153007123", datetime(1970, 1, 1, 15, 30, 7, 123000, tzinfo=UTC)),
        ("EEE yyyy-MM-dd", "Monday 2018-08-20", utc(2018, 8, 20)),
        ("HH:mm Z", "15:30 -0800", utc(1970, 1, 1, 23, 30)),
        ("HH:mm X", "15:30 -08", utc(1970, 1, 1, 23, 30)),
        ("HH:mm XX", "15:30 +0130", utc(1970, 1, 1, 14, 0)),
        ("HH:mm XXX", "15:30 Z", utc(1970, 1, 1, 15, 30)),
        ("HH:mm z", "15:30 PST", utc(1970, 1, 1, 23, 30)),
        ("HH:mm z", "15:30 GMT-08:00", utc(1970, 1, 1, 23, 30)),
        ("HH:mm z", "15:30 GMT", utc(1970, 1, 1, 15, 30)),
        ("yyyyMMdd", "20180820", utc(2018, 8, 20)),
        (
            "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
            "2018-08-20T15:30:07.123Z",
            datetime(2018, 8, 20, 15, 30, 7, 123000, tzinfo=UTC),
        ),
        ("yyyy-MM-dd'T'HH:mm:ss'Z'", "2018-08-20T15:30:07Z", utc(2018, 8, 20, 15, 30, 7)),
        (
            "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            "2018-08-20T08:30:07.123-0700",
            datetime(2018, 8, 20, 15, 30, 7, 123000, tzinfo=UTC),
        ),
        ("yyyy-MM-dd'T'HH:mm:ssXXX", "2018-08-20T17:30:07+02:00", utc(2018, 8, 20, 15, 30, 7)),
        ("EEE MMM dd HH:mm:ss z yyyy", "Mon Aug 20 15:30:07 UTC 2018", utc(2018, 8, 20, 15, 30, 7)),
        ("MM/dd/yyyy hh:mm a", "08/20/2018 03:30 PM", utc(2018, 8, 20, 15, 30)),
        ("''yyyy''", "'2018'", utc(2018, 1, 1)),
    ],
)
def test_parse_reads_each_pattern_letter_into_utc(
    pattern: str, value: str, expected: datetime
) -> None:
    parsed = compile_format(pattern).parse(value)

    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "microsecond"),
    [
        ("2026-11-21T08:30:12Z", 0),
        ("2026-11-21T08:30:12.5Z", 500000),
        ("2026-11-21T08:30:12.123Z", 123000),
        ("2026-11-21T08:30:12.1234567Z", 123456),  # .NET's 7 digits, truncated
        ("2026-11-21T08:30:12.123456789Z", 123456),
    ],
)
def test_parse_accepts_a_missing_or_longer_fraction_for_dot_sss(
    value: str, microsecond: int
) -> None:
    parsed = compile_format("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").parse(value)

    assert parsed == datetime(2026, 11, 21, 8, 30, 12, microsecond, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("yyyy-MM-dd'T'HH:mm:ss'Z'", "2026-11-21T08:30:12.25Z", (250000, 0)),
        ("yyyy-MM-dd'T'HH:mm:ssXXX", "2026-11-21T08:30:12.25-06:00", (250000, -6)),
        ("yyyy-MM-dd'T'HH:mm:ss", "2026-11-21T08:30:12Z", (0, 0)),
        ("yyyy-MM-dd'T'HH:mm:ss", "2026-11-21T08:30:12.25+02:00", (250000, 2)),
        ("yyyy-MM-dd'T'HH:mm:ss", "2026-11-21T08:30:12-0600", (0, -6)),
    ],
)
def test_parse_reads_a_fraction_and_zone_suffix_the_pattern_does_not_mention(
    pattern: str, value: str, expected: tuple[int, int]
) -> None:
    microsecond, offset_hours = expected
    local = datetime(
        2026, 11, 21, 8, 30, 12, microsecond, tzinfo=timezone(timedelta(hours=offset_hours))
    )

    assert compile_format(pattern).parse(value) == local


def test_parse_ignores_a_weekday_that_disagrees_with_the_date_like_java() -> None:
    assert compile_format("EEE yyyy-MM-dd").parse("Fri 2018-08-20") == utc(2018, 8, 20)


@pytest.mark.parametrize(
    ("pattern", "value", "message"),
    [
        ("yyyy-MM-dd", "garbage", "does not match format 'yyyy-MM-dd'"),
        ("yyyy-MM-dd", "2018-08-20T15:30:07Z", "does not match"),
        ("yyyy-MM-dd", "2018-13-01", "month must be in 1..12"),
        ("yyyy-MM-dd", "2018-02-30", "day is out of range"),
        ("HH:mm", "24:00", "hour must be in 0..23"),
        ("h:mm a", "13:00 PM", "hour 13 is not 1-12"),
        ("dd MMM yyyy", "05 Agu 2018", "does not match"),
        ("HH:mm z", "15:30 XYZ", "unknown time zone 'XYZ'"),
        ("HH:mm Z", "15:30 +2500", "out of range"),
        ("ssSSSS", "071000", "milliseconds 1000 is not 0-999"),
        ("yyyy-MM-dd'T'HH:mm:ss'Z'", "2018-08-20t15:30:07Z", "does not match"),
    ],
)
def test_parse_rejects_values_that_do_not_fit_and_names_value_and_pattern(
    pattern: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        compile_format(pattern).parse(value)

    assert repr(value) in str(caught.value)
    assert repr(pattern) in str(caught.value)


def test_compile_format_is_cached() -> None:
    assert compile_format("yyyy-MM-dd") is compile_format("yyyy-MM-dd")


# --------------------------------------------------------------------- bad patterns


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("yyyy-MM-ddTHH:mm", "illegal pattern letter 'T'"),
        ("yyyy-MM-dd'T'HH:mm:ssQ", "illegal pattern letter 'Q'"),
        ("yyyy-DDD", "unsupported pattern letter 'D'"),
        ("kk:mm", "unsupported pattern letter 'k'"),
        ("yyyy-MM-dd'T", "unterminated quote"),
        ("HH:mm XXXX", "'X' repeats 4 times"),
        ("HH:mm zzzz", "long time zone names"),
        ("", "empty"),
    ],
)
def test_bad_pattern_raises_a_clear_error(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_format(pattern)
