"""HTTP routes of an instance's event history: parse, authorize, call the service, answer.

(``POST /instances/{id}/events/poll`` belongs to polling and is defined there.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from pollhub.delivery import service
from pollhub.delivery.repository import FAILED
from pollhub.delivery.schemas import NotificationOut, RedeliveredOut
from pollhub.deps import CallerDep, EventId, InstanceId, SessionDep

router = APIRouter(prefix="/instances", tags=["events"])
NEXT_PAGE_HEADER = "Elements-Next-Page-Token"
TOTAL_HEADER = "Elements-Total-Count"


@router.get("/{instance_id}/events", response_model=list[NotificationOut])
async def list_events(
    instance_id: InstanceId,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    status: Annotated[
        str | None, Query(description="pending, retrying, delivered or failed")
    ] = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=service.MAX_PAGE_SIZE)] = 50,
    page: Annotated[int | None, Query(ge=1, le=1_000_000, description="1-based page")] = None,
    next_page: Annotated[
        str | None, Query(alias="nextPage", description=f"the {NEXT_PAGE_HEADER} of the last page")
    ] = None,
    include_body: Annotated[bool, Query(alias="includeBody")] = False,
) -> list[NotificationOut]:
    """The instance's notifications with delivery status, newest first.

    Page with ``pageSize`` and ``page``, or follow ``Elements-Next-Page-Token`` with
    ``nextPage``; ``Elements-Total-Count`` counts every match.
    """
    result = await service.list_notifications(
        session,
        caller,
        instance_id,
        status=status,
        page_size=page_size,
        page=page,
        cursor=next_page,
    )
    response.headers[TOTAL_HEADER] = str(result.total)
    if result.next_cursor:
        response.headers[NEXT_PAGE_HEADER] = result.next_cursor
    return [NotificationOut.of(n, include_body=include_body) for n in result.items]


@router.post("/{instance_id}/events/redeliver", response_model=RedeliveredOut)
async def redeliver_events(
    instance_id: InstanceId,
    session: SessionDep,
    caller: CallerDep,
    status: Annotated[str, Query(description="failed (default) or delivered")] = FAILED,
    since: Annotated[datetime | None, Query(description="only those created since (ISO)")] = None,
) -> RedeliveredOut:
    """Queue again every failed (or delivered) notification created since ``since``."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    count = await service.redeliver_all(session, caller, instance_id, status=status, since=since)
    await session.commit()
    return RedeliveredOut(redelivered=count)


@router.get("/{instance_id}/events/{event_id}", response_model=NotificationOut)
async def get_event(
    instance_id: InstanceId, event_id: EventId, session: SessionDep, caller: CallerDep
) -> NotificationOut:
    """One notification, with the exact callback body."""
    notification = await service.get_notification(session, caller, instance_id, event_id)
    return NotificationOut.of(notification, include_body=True)


@router.post("/{instance_id}/events/{event_id}/redeliver", response_model=NotificationOut)
async def redeliver_event(
    instance_id: InstanceId, event_id: EventId, session: SessionDep, caller: CallerDep
) -> NotificationOut:
    """Deliver a failed or delivered notification again, now, with a fresh retry schedule."""
    notification = await service.redeliver(session, caller, instance_id, event_id)
    await session.commit()
    return NotificationOut.of(notification, include_body=False)
