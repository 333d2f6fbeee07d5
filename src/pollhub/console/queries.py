"""Read-only queries the console needs and the services do not offer (yet).

Each one first checks ownership through :mod:`pollhub.instances.service` or filters by the
caller's organization, so a tenant only ever sees its own rows. Candidates to move into
``polling``/``delivery`` services once the API wants the same answers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance, Notification, PollState
from pollhub.delivery.repository import STATUSES
from pollhub.errors import BadRequest
from pollhub.tenancy.service import Caller

HOURS = 24
EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")


@dataclass(frozen=True)
class PollSummary:
    """How polling of one instance stands, over all its resources."""

    last_poll_at: datetime | None
    last_error: str | None
    resources: int


@dataclass(frozen=True)
class EventPage:
    """The newest notifications matching a filter, and how many match in all."""

    items: list[Notification]
    total: int


async def poll_summaries(
    session: AsyncSession, caller: Caller, instance_ids: Sequence[int]
) -> dict[int, PollSummary]:
    """Per instance: its latest poll, and the error of a resource whose last poll failed."""
    states = await session.scalars(
        select(PollState).where(
            PollState.organization_id == caller.organization_id,
            PollState.instance_id.in_(instance_ids),
        )
    )
    grouped: dict[int, list[PollState]] = defaultdict(list)
    for state in states:
        grouped[state.instance_id].append(state)
    summaries = {}
    for instance_id, group in grouped.items():
        polled = [s.last_poll_at for s in group if s.last_poll_at is not None]
        errors = [s.last_error for s in group if s.last_error and s.consecutive_failures]
        summaries[instance_id] = PollSummary(
            last_poll_at=max(polled) if polled else None,
            last_error=errors[0] if errors else None,
            resources=len(group),
        )
    return summaries


async def list_events(
    session: AsyncSession,
    instance: Instance,
    *,
    status: str | None = None,
    event_type: str | None = None,
    limit: int = 100,
) -> EventPage:
    """One of the caller's instances' newest notifications, by delivery status and by event
    type. (``delivery.service.list_notifications`` filters by status only.)
    """
    if status is not None and status not in STATUSES:
        raise BadRequest(f"'status' must be one of {', '.join(STATUSES)}, not '{status}'")
    conditions: list[ColumnElement[bool]] = [Notification.instance_id == instance.id]
    if status is not None:
        conditions.append(Notification.status == status)
    if event_type:
        conditions.append(_has_type(event_type))
    rows = list(
        await session.scalars(
            select(Notification).where(*conditions).order_by(Notification.id.desc()).limit(limit)
        )
    )
    total = len(rows)
    if total == limit:
        counted = select(func.count()).select_from(Notification).where(*conditions)
        total = await session.scalar(counted) or 0
    return EventPage(rows, total)


def _has_type(event_type: str) -> ColumnElement[bool]:
    # ``event_types`` is a comma-separated list such as "CREATED,UPDATED".
    column = Notification.event_types
    return or_(
        column == event_type,
        column.startswith(f"{event_type},"),
        column.endswith(f",{event_type}"),
        column.contains(f",{event_type},"),
    )


def first_hour(now: datetime) -> datetime:
    """The start of the oldest of the 24 clock hours that end with the current one."""
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)


async def events_per_hour(
    session: AsyncSession, caller: Caller, instance_ids: Sequence[int], now: datetime
) -> dict[int, dict[str, list[int]]]:
    """Per instance and event type, how many events were detected in each of the last
    24 clock hours, the current one included (oldest first)."""
    since = first_hour(now)
    rows = await session.execute(
        select(
            Notification.id,
            Notification.instance_id,
            Notification.created_at,
            Notification.event_types,
            Notification.event_count,
        ).where(
            Notification.organization_id == caller.organization_id,
            Notification.instance_id.in_(instance_ids),
            Notification.created_at >= since,
        )
    )
    counts: dict[int, dict[str, list[int]]] = defaultdict(dict)
    mixed: dict[int, tuple[int, int]] = {}
    for row in rows:
        hour = min(HOURS - 1, int((row.created_at - since) / timedelta(hours=1)))
        types = [t for t in row.event_types.split(",") if t]
        if len(types) == 1:
            _add(counts[row.instance_id], types[0], hour, row.event_count)
        elif types:
            mixed[row.id] = (row.instance_id, hour)
    await _count_mixed(session, mixed, counts)
    return dict(counts)


async def _count_mixed(
    session: AsyncSession,
    mixed: dict[int, tuple[int, int]],
    counts: dict[int, dict[str, list[int]]],
) -> None:
    # A notification carrying several types says how many events, not how many of each:
    # only its body does, so those few bodies are read.
    if not mixed:
        return
    bodies = await session.execute(
        select(Notification.id, Notification.body).where(Notification.id.in_(mixed))
    )
    for notification_id, body in bodies:
        instance_id, hour = mixed[notification_id]
        for event in json.loads(body).get("message", {}).get("events", []):
            _add(counts[instance_id], str(event.get("eventType", "")), hour, 1)


def _add(by_type: dict[str, list[int]], event_type: str, hour: int, count: int) -> None:
    by_type.setdefault(event_type, [0] * HOURS)[hour] += count
