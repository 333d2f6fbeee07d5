"""HTTP routes of the event history: parse, authorize, call the service, answer.

An instance's history (``/instances/{id}/events``), the organization's
(``/instances/events``, with analytics), and Cloud Elements' deliveries API
(``/notifications/subscriptions/deliveries``). ``POST /instances/{id}/events/poll``
belongs to polling and is defined there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from pollhub.delivery import deliveries, service
from pollhub.delivery.analytics import Bucket, Window, analytics
from pollhub.delivery.repository import FAILED
from pollhub.delivery.schemas import (
    AnalyticsOut,
    DeliveryOut,
    NotificationOut,
    RedeliveredOut,
    ReleasedOut,
)
from pollhub.deps import CallerDep, EventId, InstanceDep, NamedInstanceDep, SessionDep

router = APIRouter(prefix="/instances", tags=["events"])
# Included before the instances router: "/instances/events" is not "/instances/{id}".
organization_router = APIRouter(prefix="/instances/events", tags=["events"])
deliveries_router = APIRouter(prefix="/notifications/subscriptions/deliveries", tags=["events"])
NEXT_PAGE_HEADER = "Elements-Next-Page-Token"
TOTAL_HEADER = "Elements-Total-Count"
StatusQuery = Annotated[
    str | None, Query(description="pending, retrying, delivered, failed or queued")
]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=service.MAX_PAGE_SIZE)]
PageNumber = Annotated[int | None, Query(ge=1, le=1_000_000, description="1-based page")]
NextPage = Annotated[
    str | None,
    Query(alias="nextPage", max_length=100, description=f"the {NEXT_PAGE_HEADER} of the last page"),
]
Where = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="e.g. channel='webhook' and status='queued' and config.url='https://…'",
    ),
]
From = Annotated[datetime | None, Query(alias="from", description="ISO date-time (UTC)")]
To = Annotated[datetime | None, Query(alias="to", description="ISO date-time (UTC)")]
Interval = Annotated[str, Query(description="minute, hour or day")]
AccountIds = Annotated[list[int] | None, Query(alias="accountIds[]")]


@organization_router.get("", response_model=list[NotificationOut])
async def list_organization_events(
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    named: NamedInstanceDep,
    status: StatusQuery = None,
    page_size: PageSize = 50,
    page: PageNumber = None,
    next_page: NextPage = None,
    include_body: Annotated[bool, Query(alias="includeBody")] = False,
) -> list[NotificationOut]:
    """Every instance's notifications (only the ``Element`` token's instance's when one is
    named), newest first, paged like an instance's history."""
    result = await service.list_notifications(
        session, caller, named, status=status, page_size=page_size, page=page, cursor=next_page
    )
    return _notifications(response, result, include_body=include_body)


@organization_router.get("/analytics", response_model=list[AnalyticsOut])
async def event_analytics(
    session: SessionDep,
    caller: CallerDep,
    start: From = None,
    end: To = None,
    interval: Interval = "hour",
    account_ids: AccountIds = None,
) -> list[AnalyticsOut]:
    """Notifications per time bucket over ``from``..``to``, with how many were delivered
    and how many failed; every bucket of the range, empty ones as 0."""
    window = Window.of(start, end, interval)
    buckets = await analytics(session, caller, window, account_ids=account_ids)
    return [_analytics(b) for b in buckets]


@organization_router.get("/analytics/instances", response_model=list[AnalyticsOut])
async def event_analytics_per_instance(
    session: SessionDep,
    caller: CallerDep,
    start: From = None,
    end: To = None,
    interval: Interval = "hour",
) -> list[AnalyticsOut]:
    """The same counts per instance (``instanceId``), for the buckets that have any."""
    window = Window.of(start, end, interval)
    buckets = await analytics(session, caller, window, group_by="instance")
    return [_analytics(b, instance=True) for b in buckets]


@organization_router.get("/analytics/accounts", response_model=list[AnalyticsOut])
async def event_analytics_per_account(
    session: SessionDep,
    caller: CallerDep,
    start: From = None,
    end: To = None,
    interval: Interval = "hour",
    account_ids: AccountIds = None,
) -> list[AnalyticsOut]:
    """The same counts per account (``accountId``: the organization, pollhub's account)."""
    window = Window.of(start, end, interval)
    buckets = await analytics(session, caller, window, group_by="account", account_ids=account_ids)
    return [_analytics(b, account=True) for b in buckets]


@organization_router.get("/{event_id}", response_model=NotificationOut)
async def get_organization_event(
    event_id: EventId, session: SessionDep, caller: CallerDep, named: NamedInstanceDep
) -> NotificationOut:
    """One notification of any of the organization's instances (of the ``Element`` token's
    instance when one is named), with its exact body."""
    notification = await service.get_notification(session, caller, named, event_id)
    return NotificationOut.of(notification, include_body=True)


@deliveries_router.get("", response_model=list[DeliveryOut])
async def list_deliveries(
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    where: Where = None,
    page_size: PageSize = 100,
    next_page: NextPage = None,
) -> list[DeliveryOut]:
    """Pull deliveries (typically ``status='queued'``), oldest first, each with its payload."""
    result = await deliveries.list_deliveries(
        session, caller, deliveries.parse_where(where), page_size=page_size, cursor=next_page
    )
    _page_headers(response, result)
    return [DeliveryOut.of(n, deliveries.CHANNEL) for n in result.items]


@deliveries_router.put("", response_model=ReleasedOut)
async def release_deliveries(
    session: SessionDep, caller: CallerDep, where: Where = None
) -> ReleasedOut:
    """Release the matching queued deliveries: delivered again, in their order, from now."""
    count = await deliveries.release_deliveries(session, caller, deliveries.parse_where(where))
    await session.commit()
    return ReleasedOut(released=count)


@router.get("/{instance_id}/events", response_model=list[NotificationOut])
async def list_events(
    instance: InstanceDep,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    status: StatusQuery = None,
    page_size: PageSize = 50,
    page: PageNumber = None,
    next_page: NextPage = None,
    include_body: Annotated[bool, Query(alias="includeBody")] = False,
) -> list[NotificationOut]:
    """The instance's notifications with delivery status, newest first.

    Page with ``pageSize`` and ``page``, or follow ``Elements-Next-Page-Token`` with
    ``nextPage``; ``Elements-Total-Count`` counts every match.
    """
    result = await service.list_notifications(
        session, caller, instance, status=status, page_size=page_size, page=page, cursor=next_page
    )
    return _notifications(response, result, include_body=include_body)


@router.post("/{instance_id}/events/redeliver", response_model=RedeliveredOut)
async def redeliver_events(
    instance: InstanceDep,
    session: SessionDep,
    status: Annotated[str, Query(description="failed (default), delivered or queued")] = FAILED,
    since: Annotated[datetime | None, Query(description="only those created since (ISO)")] = None,
) -> RedeliveredOut:
    """Queue again every failed (or delivered, or queued) notification created since
    ``since``."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    count = await service.redeliver_all(session, instance, status=status, since=since)
    await session.commit()
    return RedeliveredOut(redelivered=count)


@router.get("/{instance_id}/events/{event_id}", response_model=NotificationOut)
async def get_event(
    instance: InstanceDep, event_id: EventId, session: SessionDep, caller: CallerDep
) -> NotificationOut:
    """One notification, with the exact callback body."""
    notification = await service.get_notification(session, caller, instance, event_id)
    return NotificationOut.of(notification, include_body=True)


@router.post("/{instance_id}/events/{event_id}/redeliver", response_model=NotificationOut)
async def redeliver_event(
    instance: InstanceDep, event_id: EventId, session: SessionDep, caller: CallerDep
) -> NotificationOut:
    """Deliver a failed or delivered notification again, now, with a fresh retry schedule."""
    notification = await service.redeliver(session, caller, instance, event_id)
    await session.commit()
    return NotificationOut.of(notification, include_body=False)


def _page_headers(response: Response, page: service.Page) -> None:
    response.headers[TOTAL_HEADER] = str(page.total)
    if page.next_cursor:
        response.headers[NEXT_PAGE_HEADER] = page.next_cursor


def _notifications(
    response: Response, page: service.Page, *, include_body: bool
) -> list[NotificationOut]:
    _page_headers(response, page)
    return [NotificationOut.of(n, include_body=include_body) for n in page.items]


def _analytics(bucket: Bucket, *, instance: bool = False, account: bool = False) -> AnalyticsOut:
    return AnalyticsOut(
        timestamp=bucket.timestamp,
        count=bucket.count,
        delivered=bucket.delivered,
        success=bucket.delivered,
        failed=bucket.failed,
        instanceId=bucket.group if instance else None,
        accountId=bucket.group if account else None,
    )
