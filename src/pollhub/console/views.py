"""What the instances page shows of each instance, gathered from the services and queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Instance
from pollhub.instances import service as instances
from pollhub.tenancy.service import Caller

from . import queries
from .chart import Chart, build_chart


@dataclass(frozen=True)
class InstanceView:
    """One row of the instances page."""

    id: int
    name: str
    element_name: str
    mechanism: str
    tags: list[str]
    valid: bool
    invalid_reason: str | None
    events_enabled: bool
    last_poll_at: datetime | None
    last_error: str | None
    chart: Chart
    warnings: list[str]


async def instance_views(
    session: AsyncSession, caller: Caller, listed: Sequence[Instance], *, chart_width: int = 240
) -> list[InstanceView]:
    """The views of ``listed`` (the caller's instances), with polling status and chart."""
    ids = [i.id for i in listed]
    now = clock.now()
    polls = await queries.poll_summaries(session, caller, ids)
    per_hour = await queries.events_per_hour(session, caller, ids, now)
    views = []
    for instance in listed:
        element = instances.element_of(instance)
        poll = polls.get(instance.id)
        views.append(
            InstanceView(
                id=instance.id,
                name=instance.name,
                element_name=element.name,
                mechanism=element.event_mechanism,
                tags=list(instance.tags),
                valid=instance.valid,
                invalid_reason=instance.invalid_reason,
                events_enabled=instance.events_enabled,
                last_poll_at=poll.last_poll_at if poll else None,
                last_error=poll.last_error if poll else None,
                chart=build_chart(
                    per_hour.get(instance.id, {}), now, width=chart_width, height=chart_width // 4
                ),
                warnings=instances.configuration_warnings(instance),
            )
        )
    return views
