"""The geometry of the per-instance chart: events per hour by type, stacked bars.

Computed here so the template only draws rectangles; the SVG is rendered server-side and
needs no script. Counts come from :func:`pollhub.console.queries.events_per_hour`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .queries import EVENT_TYPES, HOURS, first_hour

_KNOWN_CLASSES = {t: f"type-{t.lower()}" for t in EVENT_TYPES}


@dataclass(frozen=True)
class Segment:
    """One type's part of one hour's bar."""

    x: float
    y: float
    width: float
    height: float
    css_class: str
    label: str


@dataclass(frozen=True)
class Tick:
    """A label under the bars."""

    x: float
    text: str


@dataclass(frozen=True)
class Level:
    """A count on the left axis, with its grid line at ``y``."""

    y: float
    text: str


@dataclass(frozen=True)
class LegendEntry:
    """One event type, its colour and its total over the day."""

    event_type: str
    css_class: str
    total: int


@dataclass(frozen=True)
class Chart:
    """Everything the template draws."""

    width: int
    height: int
    plot_height: int
    segments: list[Segment]
    ticks: list[Tick]
    legend: list[LegendEntry]
    peak: int
    summary: str
    plot_left: float = 0
    plot_top: float = 0
    levels: list[Level] = field(default_factory=list)
    font_size: int = 9

    @property
    def empty(self) -> bool:
        """True when nothing happened in the last day."""
        return not self.segments


def build_chart(
    counts: dict[str, list[int]], now: datetime, *, width: int = 480, height: int = 120
) -> Chart:
    """Stacked bars of ``counts`` (per type, one number per hour, oldest first) ending ``now``.

    Labels grow with the chart (a larger chart is meant to be read, not glanced at): hours
    under the bars and, left of them, the counts of the busiest hour and of half of it.
    """
    font_size = round(max(9, min(14, width / 64)))
    plot_height = height - font_size - 8  # room for the hour labels
    labelled = width >= 480  # a small chart (the instances page's) is only glanced at
    plot_top = font_size if labelled else 0  # room for the top count's label
    types = _ordered_types(counts)
    totals_per_hour = [sum(counts[t][hour] for t in types) for hour in range(HOURS)]
    peak = max(totals_per_hour, default=0)
    plot_left = round(font_size * (0.65 * len(str(peak)) + 0.8), 2) if peak and labelled else 0
    slot = (width - plot_left) / HOURS
    start = first_hour(now)
    segments = []
    for hour in range(HOURS):
        baseline = float(plot_height)
        scale = plot_height - plot_top
        hour_start = start + timedelta(hours=hour)
        for event_type in types:
            count = counts[event_type][hour]
            if not count:
                continue
            bar = scale * count / peak
            baseline -= bar
            segments.append(
                Segment(
                    x=round(plot_left + hour * slot + 1, 2),
                    y=round(baseline, 2),
                    width=round(slot - 2, 2),
                    height=round(bar, 2),
                    css_class=_css_class(event_type),
                    label=f"{hour_start:%H:%M} UTC: {count} {event_type}",
                )
            )
    ticks = [
        Tick(round(plot_left + hour * slot, 2), f"{start + timedelta(hours=hour):%H:%M}")
        for hour in range(0, HOURS, 6)
    ]
    levels = [
        Level(round(plot_height - (plot_height - plot_top) * value / peak, 2), str(value))
        for value in sorted({peak, peak // 2})
        if value and peak and labelled
    ]
    legend = [LegendEntry(t, _css_class(t), sum(counts[t])) for t in types]
    summary = (
        ", ".join(f"{entry.total} {entry.event_type}" for entry in legend)
        if legend
        else "no events"
    )
    return Chart(
        width,
        height,
        plot_height,
        segments,
        ticks,
        legend,
        peak,
        summary,
        plot_left=plot_left,
        plot_top=plot_top,
        levels=levels,
        font_size=font_size,
    )


def _ordered_types(counts: dict[str, list[int]]) -> list[str]:
    present = [t for t, hours in counts.items() if any(hours)]
    known = [t for t in EVENT_TYPES if t in present]
    return known + sorted(t for t in present if t not in EVENT_TYPES)


def _css_class(event_type: str) -> str:
    return _KNOWN_CLASSES.get(event_type, "type-other")
