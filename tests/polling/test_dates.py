"""Provider date values and URL placeholders of the poller configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollhub.polling.dates import (
    find_placeholders,
    format_date,
    parse_provider_date,
    render_url,
    validate_date_format,
    validate_url_template,
)

# Monday 20 August 2018, 15:30:07.123456 UTC (the moment of the Java Date.toString seed).
MOMENT = datetime(2018, 8, 20, 15, 30, 7, 123456, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# ------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("pattern", "zone", "expected"),
    [
        ("Z", "America/Denver", "-0600"),  # August: daylight time
        ("X", "America/Denver", "-06"),
        ("XX", "America/Denver", "-0600"),
        ("XXX", "America/Denver", "-06:00"),
        ("XXX", "+05:30", "+05:30"),
        ("z", "America/Denver", "MDT"),
        ("z", "GMT", "GMT"),
        ("z", "UTC", "UTC"),
        ("z", "-6:00", "GMT-06:00"),
        ("HH:mm", "America/Denver", "09:30"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "EST", "2018-08-20T10:30:07.123-0500"),
    ],
)
def test_format_date_writes_zone_fields_in_the_configured_zone(
    pattern: str, zone: str, expected: str
) -> None:
    assert format_date(MOMENT, pattern, zone) == expected


def test_format_date_writes_milliseconds_as_epoch_milliseconds() -> None:
    assert format_date(MOMENT, "milliseconds", None) == "1534779007123"


def test_format_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_date(datetime(2018, 8, 20), "yyyy", None)


# ---------------------------------------------------------------------------- parsing


def test_literal_z_pattern_is_read_in_the_configured_zone() -> None:
    pattern = "yyyy-MM-dd'T'HH:mm:ss'Z'"

    summer = parse_provider_date("2026-07-01T08:30:00Z", pattern, "America/Denver")
    winter = parse_provider_date("2026-12-01T08:30:00Z", pattern, "America/Denver")

    assert summer == utc(2026, 7, 1, 14, 30)  # MDT, -06:00
    assert winter == utc(2026, 12, 1, 15, 30)  # MST, -07:00


def test_zone_in_the_value_wins_over_the_configured_zone() -> None:
    parsed = parse_provider_date(
        "2026-07-01T08:30:00.000+0000", "yyyy-MM-dd'T'HH:mm:ss.SSSZ", "America/Denver"
    )

    assert parsed == utc(2026, 7, 1, 8, 30)


# ------------------------------------------------------------------------ round trips

MILLISECOND = timedelta(milliseconds=1)
SECOND = timedelta(seconds=1)
ROUND_TRIP_PATTERNS = [
    ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", MILLISECOND),
    ("yyyy-MM-dd'T'HH:mm:ss'Z'", SECOND),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", MILLISECOND),
    ("yyyy-MM-dd'T'HH:mm:ssXXX", SECOND),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSXX", MILLISECOND),
    ("EEE MMM dd HH:mm:ss z yyyy", SECOND),
    ("EEEE, dd MMMM yyyy hh:mm:ss a XXX", SECOND),
    ("MM/dd/yyyy hh:mm:ss.SSS a", MILLISECOND),
    ("yyyyMMddHHmmssSSS", MILLISECOND),
]
ROUND_TRIP_MOMENTS = [
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2000, 2, 29, 0, 0, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 9, 0, 1, 1000, tzinfo=UTC),  # 03:00:01 MDT, just after spring-forward
    datetime(2026, 11, 1, 10, 30, 0, 500000, tzinfo=UTC),  # after fall-back in Denver and LA
    datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC),
]
ROUND_TRIP_ZONES = ["UTC", "GMT", "America/Denver", "-6:00", "+05:30", "EST", "PST"]


@pytest.mark.parametrize(("pattern", "resolution"), ROUND_TRIP_PATTERNS)
@pytest.mark.parametrize("zone", ROUND_TRIP_ZONES)
def test_format_then_parse_gives_back_the_moment_to_the_pattern_resolution(
    pattern: str, resolution: timedelta, zone: str
) -> None:
    for moment in ROUND_TRIP_MOMENTS:
        truncated = moment - (moment - datetime.min.replace(tzinfo=UTC)) % resolution
        text = format_date(moment, pattern, zone)

        assert parse_provider_date(text, pattern, zone) == truncated, text


def test_ambiguous_wall_time_without_zone_is_read_as_its_first_occurrence() -> None:
    # 01:30 happens twice in Denver on 2026-11-01; without an offset in the value we
    # take the first (daylight time, -06:00), Python's fold=0.
    parsed = parse_provider_date("2026-11-01 01:30", "yyyy-MM-dd HH:mm", "America/Denver")

    assert parsed == utc(2026, 11, 1, 7, 30)


@pytest.mark.parametrize("fmt", ["", None, "milliseconds", "yyyy-MM-dd'T'HH:mm:ss'Z'"])
def test_validate_date_format_accepts_every_configuration_form(fmt: str | None) -> None:
    validate_date_format(fmt)


def test_validate_date_format_rejects_a_bad_pattern() -> None:
    with pytest.raises(ValueError, match="illegal pattern letter 'T'"):
        validate_date_format("yyyy-MM-ddTHH")


# ------------------------------------------------------------ provider date values


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (1506544512258, "milliseconds", datetime(2017, 9, 27, 20, 35, 12, 258000, tzinfo=UTC)),
        ("1506544512258", "milliseconds", datetime(2017, 9, 27, 20, 35, 12, 258000, tzinfo=UTC)),
        (1506544512258.0, "milliseconds", datetime(2017, 9, 27, 20, 35, 12, 258000, tzinfo=UTC)),
        ("1506544512258", "", datetime(2017, 9, 27, 20, 35, 12, 258000, tzinfo=UTC)),
        (1506544512258, None, datetime(2017, 9, 27, 20, 35, 12, 258000, tzinfo=UTC)),
        ("2026-11-21T08:30:12Z", None, utc(2026, 11, 21, 8, 30, 12)),
        (
            "2026-11-21T08:30:12.1234567+02:00",
            "",
            datetime(2026, 11, 21, 6, 30, 12, 123456, tzinfo=UTC),
        ),
        ("  2026-11-21T08:30:12Z ", "yyyy-MM-dd'T'HH:mm:ss'Z'", utc(2026, 11, 21, 8, 30, 12)),
        (20261121, "yyyyMMdd", utc(2026, 11, 21)),
    ],
)
def test_parse_provider_date_reads_milliseconds_iso_and_java_patterns(
    value: str | int | float, fmt: str | None, expected: datetime
) -> None:
    assert parse_provider_date(value, fmt, None) == expected


def test_parse_provider_date_reads_naive_iso_in_the_configured_zone() -> None:
    assert parse_provider_date("2026-12-01T08:30:00", "", "America/Denver") == utc(
        2026, 12, 1, 15, 30
    )


@pytest.mark.parametrize("value", [None, "", "   "])
def test_parse_provider_date_gives_none_for_a_missing_value(value: str | None) -> None:
    assert parse_provider_date(value, "yyyy-MM-dd", None) is None


@pytest.mark.parametrize(
    ("value", "fmt", "message"),
    [
        ("yesterday", "milliseconds", "date 'yesterday' is not epoch milliseconds"),
        (True, "milliseconds", "is not epoch milliseconds"),
        ("yesterday", "", "neither ISO 8601 nor epoch milliseconds"),
        ("2026-11-21", "yyyy/MM/dd", "does not match format 'yyyy/MM/dd'"),
    ],
)
def test_parse_provider_date_rejects_values_that_do_not_fit(
    value: str | bool, fmt: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_provider_date(value, fmt, None)


def test_parse_provider_date_rejects_an_unknown_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Nowhere'"):
        parse_provider_date("2026-11-21", "yyyy-MM-dd", "Nowhere")


# ------------------------------------------------------------------- URL placeholders

SINCE = MOMENT  # the last poll
NOW = MOMENT + timedelta(minutes=15, seconds=1)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "/hubs/crm/contacts?where=lastUpdated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
            "/hubs/crm/contacts?where=lastUpdated>'2018-08-20T15:30:07Z'",
        ),
        ("${gmtDate:yyyy-MM-dd'T'HH:mm:ssXXX}", "2018-08-20T15:30:07Z"),
        ("${gmtDate:HH:mm z}", "15:30 GMT"),
        ("${date:yyyy-MM-dd'T'HH:mm:ss.SSS'Z'}", "2018-08-20T15:30:07.123Z"),
        ("where=LastModifiedDate>=${date}", "where=LastModifiedDate>=2018-08-20T15:30:07Z"),
        ("${dateTimeZone:-6:00:yyyy-MM-dd HH:mm}", "2018-08-20 09:30"),
        ("${dateTimeZone:+6:00:HH:mm}", "21:30"),
        ("${dateTimeZone:MST:HH:mm:ss}", "08:30:07"),
        ("${dateTimeZone:GMT:yyyy-MM-dd'T'HH:mm:ss}", "2018-08-20T15:30:07"),
        ("${dateTimeZone:America/Denver:HH:mm XXX}", "09:30 -06:00"),
        ("${nowTimeZone:GMT:yyyy-MM-dd'T'HH:mm:ss}", "2018-08-20T15:45:08"),
        ("${epoch}", "1534779007123"),
        ("${epoch:ms}", "1534779007123"),
        ("${epoch:s}", "1534779007"),
        ("${epoch:0}", "1534779007"),
        ("${epoch:us}", "1534779007123456"),
        ("where=timestamp>'${milliseconds}'", "where=timestamp>'1534779007123'"),
        (
            "/hubs/general/calendars/{calendarId}/changed-events",
            "/hubs/general/calendars/{calendarId}/changed-events",
        ),
        (
            "from='${dateTimeZone:GMT:HH:mm}' and to='${nowTimeZone:GMT:HH:mm}'",
            "from='15:30' and to='15:45'",
        ),
    ],
)
def test_render_url_replaces_each_placeholder(template: str, expected: str) -> None:
    assert render_url(template, SINCE, NOW) == expected


def test_render_url_inserts_values_without_url_encoding() -> None:
    rendered = render_url("?since=${dateTimeZone:+05:30:yyyy-MM-dd'T'HH:mm:ssXXX}", SINCE, NOW)

    assert rendered == "?since=2018-08-20T21:00:07+05:30"


def test_render_url_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        render_url("${epoch}", datetime(2018, 8, 20), NOW)


def test_find_placeholders_lists_them_in_order_as_written() -> None:
    template = "/x/{id}?a=${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}&b=${epoch:s}"

    assert find_placeholders(template) == ["${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}", "${epoch:s}"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("?a=${lastPoll}", r"unknown placeholder '\$\{lastPoll\}'"),
        ("?a=${epoch:ns}", r"unknown placeholder '\$\{epoch:ns\}'"),
        ("?a=${milliseconds:s}", "unknown placeholder"),
        ("?a=${gmtDate:yyyy-MM-ddTHH}", "illegal pattern letter 'T'"),
        ("?a=${gmtDate:}", "empty date format"),
        ("?a=${date:yyyy-MM-dd'T}", "unterminated quote"),
        ("?a=${dateTimeZone:yyyy-MM-dd}", "expected a time zone and a date format"),
        ("?a=${dateTimeZone:Mars/Base:yyyy}", "expected a time zone and a date format"),
        ("?a=${nowTimeZone::HH:mm}", "expected a time zone and a date format"),
        ("?a=${gmtDate:yyyy", "unterminated placeholder"),
    ],
)
def test_validate_url_template_names_the_bad_placeholder(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_url_template(template)


def test_render_url_raises_for_an_unknown_placeholder() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        render_url("?a=${since}", SINCE, NOW)


def test_validate_url_template_accepts_every_documented_placeholder() -> None:
    validate_url_template(
        "?a=${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}&b=${date:yyyy}&c=${date}"
        "&d=${dateTimeZone:-6:00:yyyy-MM-dd}&e=${nowTimeZone:EST:HH:mm}"
        "&f=${epoch}&g=${epoch:s}&h=${epoch:ms}&i=${epoch:us}&j=${epoch:0}&k=${milliseconds}"
    )
