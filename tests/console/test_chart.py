"""The events-per-hour chart's geometry."""

from __future__ import annotations

from datetime import UTC, datetime

from pollhub.console.chart import build_chart

NOW = datetime(2026, 11, 25, 17, 40, tzinfo=UTC)


def test_bars_stack_by_type_and_the_busiest_hour_fills_the_height() -> None:
    hours = [0] * 24
    counts = {
        "DELETED": [*hours[:23], 1],
        "CREATED": [*hours[:23], 3],
        "RENAMED": [2, *hours[1:]],
    }

    chart = build_chart(counts, NOW, width=480, height=120)

    assert [(e.event_type, e.total) for e in chart.legend] == [
        ("CREATED", 3),
        ("DELETED", 1),
        ("RENAMED", 2),
    ]
    last_hour = [s for s in chart.segments if s.x > 460]
    assert [s.css_class for s in last_hour] == ["type-created", "type-deleted"]
    assert sum(s.height for s in last_hour) == chart.plot_height - chart.plot_top
    assert last_hour[0].label == "17:00 UTC: 3 CREATED"
    assert chart.segments[0].css_class == "type-other"
    assert [t.text for t in chart.ticks] == ["18:00", "00:00", "06:00", "12:00"]


def test_a_large_chart_labels_the_busiest_hours_count_and_half_of_it() -> None:
    counts = {"CREATED": [0] * 23 + [8]}

    chart = build_chart(counts, NOW, width=960, height=260)

    assert [level.text for level in chart.levels] == ["4", "8"]
    assert chart.levels[-1].y == chart.plot_top > 0
    assert chart.font_size >= 12
    assert chart.segments[0].x >= chart.plot_left > 0


def test_a_quiet_day_draws_no_bars() -> None:
    chart = build_chart({}, NOW)

    assert chart.empty and chart.summary == "no events"
