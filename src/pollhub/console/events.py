"""An instance's events page: its callbacks and their delivery, live; payloads; redelivery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Instance
from pollhub.delivery import service as delivery
from pollhub.delivery.repository import STATUSES
from pollhub.deps import EventId, SessionDep
from pollhub.errors import Conflict
from pollhub.instances import service as instances
from pollhub.tenancy.service import Caller

from . import queries
from .chart import build_chart
from .forms import text
from .web import (
    CallerDep,
    ConsoleRoute,
    ConsoleSessionDep,
    InstanceDep,
    render,
    render_fragment,
    see_other,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
REDELIVERABLE = frozenset(delivery.REDELIVERABLE)
# The events page's chart: the page's full width, with labels meant to be read.
DAY_CHART_WIDTH, DAY_CHART_HEIGHT = 960, 260


@dataclass(frozen=True)
class EventFilter:
    """The status and type the page shows ('' for any)."""

    status: str = ""
    type: str = ""

    @classmethod
    def of(cls, status: str | None, event_type: str | None) -> EventFilter:
        """Only values the page offers; anything else means any."""
        return cls(
            status if status in STATUSES else "",
            event_type if event_type in queries.EVENT_TYPES else "",
        )


StatusQuery = Annotated[str | None, Query()]
TypeQuery = Annotated[str | None, Query(alias="type")]


@router.get("/instances/{instance_id}/events")
async def events_page(
    request: Request,
    instance: InstanceDep,
    db: SessionDep,
    caller: CallerDep,
    status: StatusQuery = None,
    event_type: TypeQuery = None,
) -> Response:
    """The notifications of one instance, filtered, with the day's chart."""
    chosen = EventFilter.of(status, event_type)
    context = {
        "instance": instance,
        "element": instances.element_of(instance),
        "statuses": STATUSES,
        "event_types": queries.EVENT_TYPES,
        **await _live(db, caller, instance, chosen),
    }
    return render(request, "events.html", context)


@router.get("/instances/{instance_id}/events/live")
async def events_rows(
    request: Request,
    instance: InstanceDep,
    db: SessionDep,
    caller: CallerDep,
    status: StatusQuery = None,
    event_type: TypeQuery = None,
) -> Response:
    """Just the table's rows and the chart, which the page fetches every few seconds."""
    context = await _live(db, caller, instance, EventFilter.of(status, event_type))
    return render_fragment(request, "_events_live.html", {"instance": instance, **context})


@router.get("/instances/{instance_id}/events/{event_id}")
async def payload_page(
    request: Request, instance: InstanceDep, event_id: EventId, db: SessionDep, caller: CallerDep
) -> Response:
    """One callback, with the exact body it carries."""
    notification = await delivery.get_notification(db, caller, instance, event_id)
    payload = json.dumps(json.loads(notification.body), indent=2, ensure_ascii=False)
    context = {
        "instance": instance,
        "event": notification,
        "payload": payload,
        "redeliverable": notification.status in REDELIVERABLE,
        "filter": EventFilter(),
    }
    return render(request, "payload.html", context)


@router.post("/instances/{instance_id}/events/{event_id}/redeliver")
async def redeliver(
    request: Request,
    instance: InstanceDep,
    event_id: EventId,
    db: SessionDep,
    caller: CallerDep,
    console: ConsoleSessionDep,
) -> Response:
    """Send a delivered or failed callback again, now, with a fresh retry schedule."""
    form = await request.form()
    try:
        await delivery.redeliver(db, caller, instance, event_id)
    except Conflict as exc:
        console.flash("error", exc.message)
    else:
        await db.commit()
        console.flash("notice", f"Event {event_id} is queued for delivery again.")
    chosen = EventFilter.of(text(form, "status"), text(form, "type"))
    response = see_other(request, "events_page", instance_id=instance.id)
    query = "&".join(f"{k}={v}" for k, v in (("status", chosen.status), ("type", chosen.type)) if v)
    if query:
        response.headers["location"] += f"?{query}"
    # The page opens at the row, highlighted, showing its new state (queued again, then
    # delivered with a new time) as the live table updates.
    response.headers["location"] += f"#event-{event_id}"
    return response


async def _live(
    db: AsyncSession, caller: Caller, instance: Instance, chosen: EventFilter
) -> dict[str, object]:
    """What the page shows and keeps up to date: the filtered rows and the day's chart."""
    page = await queries.list_events(
        db, instance, status=chosen.status or None, event_type=chosen.type or None
    )
    now = clock.now()
    per_hour = await queries.events_per_hour(db, caller, [instance.id], now)
    return {
        "day_chart": build_chart(
            per_hour.get(instance.id, {}), now, width=DAY_CHART_WIDTH, height=DAY_CHART_HEIGHT
        ),
        "events": page.items,
        "total": page.total,
        "redeliverable": REDELIVERABLE,
        "filter": chosen,
    }
