"""An instance's delivery history and its recovery: list, show, redeliver, prune.

Called by the API (``delivery/endpoints.py``) and the worker; takes a session and plain
arguments, raises domain errors, and leaves committing to the caller.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Instance, Notification
from pollhub.delivery.repository import DELIVERED, FAILED, PENDING, QUEUED, RETRYING, STATUSES
from pollhub.errors import BadRequest, Conflict, NotFound
from pollhub.instances.service import get_instance, named_instance
from pollhub.settings import get_settings
from pollhub.tenancy.service import Caller

MAX_PAGE_SIZE = 500
REDELIVERABLE = (FAILED, DELIVERED, QUEUED)


@dataclass(frozen=True)
class Page:
    """One page of an instance's notifications, newest first."""

    items: list[Notification]
    total: int
    next_cursor: str | None


async def list_notifications(
    session: AsyncSession,
    caller: Caller,
    instance: Instance | None,
    *,
    status: str | None = None,
    page_size: int = 50,
    page: int | None = None,
    cursor: str | None = None,
) -> Page:
    """Notifications newest first, by ``page`` number or by ``cursor``: one of the caller's
    instances' (:func:`pollhub.instances.service.get_instance`), or (``instance`` None) the
    organization's."""
    conditions = instance_scope(caller, instance)
    if status is not None and status not in STATUSES:
        raise BadRequest(f"'status' must be one of {', '.join(STATUSES)}, not '{status}'")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadRequest(f"'pageSize' must be between 1 and {MAX_PAGE_SIZE}")
    if page is not None and page < 1:
        raise BadRequest("'page' must be 1 or more")
    if status is not None:
        conditions.append(Notification.status == status)
    total = (
        await session.scalar(select(func.count()).select_from(Notification).where(*conditions)) or 0
    )
    query = select(Notification).where(*conditions).order_by(Notification.id.desc())
    if cursor is not None:
        query = query.where(Notification.id < decode_cursor(cursor))
    elif page is not None:
        query = query.offset((page - 1) * page_size)
    rows = list(await session.scalars(query.limit(page_size + 1)))
    items = rows[:page_size]
    more = len(rows) > page_size
    return Page(items, total, encode_cursor(items[-1].id) if more and items else None)


async def get_notification(
    session: AsyncSession, caller: Caller, instance: Instance | None, event_id: str
) -> Notification:
    """One notification by its ``eventId``: of one of the caller's instances, or (with
    ``instance`` None) of any instance of the caller's organization."""
    conditions = instance_scope(caller, instance)
    notification = await session.scalar(
        select(Notification).where(*conditions, Notification.event_id == event_id)
    )
    if notification is None:
        where = f" for instance {instance.id}" if instance is not None else ""
        raise NotFound(f"No event found with ID {event_id}{where}")
    return notification


async def scope(
    session: AsyncSession, caller: Caller, instance_id: int | None
) -> list[ColumnElement[bool]]:
    """The conditions selecting the notifications the caller may see: one instance's (which
    must be the caller's), the ``Element`` token's instance's, or the organization's."""
    if instance_id is not None:
        return instance_scope(caller, await get_instance(session, caller, instance_id))
    return instance_scope(caller, await named_instance(session, caller))


def instance_scope(caller: Caller, instance: Instance | None) -> list[ColumnElement[bool]]:
    """The conditions selecting one instance's notifications (an instance the caller may
    see), or (``instance`` None) the caller's organization's."""
    if instance is not None:
        return [Notification.instance_id == instance.id]
    return [Notification.organization_id == caller.organization_id]


async def redeliver(
    session: AsyncSession, caller: Caller, instance: Instance, event_id: str
) -> Notification:
    """Deliver a failed or delivered notification again, starting now, with fresh retries.

    A notification waiting for its next retry is retried now. One that is already queued,
    or being delivered at this moment, is a :class:`Conflict`.
    """
    notification = await get_notification(session, caller, instance, event_id)
    now = clock.now()
    leased = notification.lease_expires_at is not None and notification.lease_expires_at > now
    if notification.status == PENDING or leased:
        raise Conflict(f"Event {event_id} is already queued for delivery")
    if notification.status == RETRYING:
        notification.next_attempt_at = now
    else:
        _requeue(notification, now)
    await session.flush()
    return notification


async def redeliver_all(
    session: AsyncSession,
    instance: Instance,
    *,
    status: str = FAILED,
    since: datetime | None = None,
) -> int:
    """Bring back every ``status`` (failed or delivered) notification of the instance
    created since ``since``.

    Returns how many were queued again; they go out in their original order.
    """
    return await requeue_where(
        session, [Notification.instance_id == instance.id], status=status, since=since
    )


async def requeue_where(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    *,
    status: str,
    since: datetime | None = None,
) -> int:
    """Deliver again, from now and with fresh retries, every ``status`` notification
    matching ``conditions``; they go out in their original order (per instance)."""
    if status not in REDELIVERABLE:
        raise BadRequest(f"'status' must be one of {', '.join(REDELIVERABLE)}, not '{status}'")
    conditions = [*conditions, Notification.status == status]
    if since is not None:
        conditions.append(Notification.created_at >= since)
    result = await session.execute(
        update(Notification)
        .where(*conditions)
        .values(_requeued_values(clock.now()))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def prune_delivered(session: AsyncSession, now: datetime) -> int:
    """Delete notifications delivered more than ``POLLHUB_DELIVERED_RETENTION_DAYS`` ago.

    For the worker to call periodically; returns how many were deleted, commits nothing.
    Failed notifications are kept until redelivered: they are the ones a client needs.
    """
    cutoff = now - timedelta(days=get_settings().delivered_retention_days)
    result = await session.execute(
        delete(Notification)
        .where(Notification.status == DELIVERED, Notification.delivered_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _requeue(notification: Notification, now: datetime) -> None:
    for column, value in _requeued_values(now).items():
        setattr(notification, column, value)


def _requeued_values(now: datetime) -> dict[str, object]:
    # Attempts start over, so a redelivered notification gets the whole retry schedule.
    return {
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }


def encode_cursor(last_id: int) -> str:
    """An opaque page token for "after notification ``last_id``"."""
    return base64.urlsafe_b64encode(f"n:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The notification id in a page token :func:`encode_cursor` made."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = text.split(":", 1)
        last_id = int(value)
        if prefix != "n" or not 0 < last_id < 2**31:
            raise ValueError(text)
        return last_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("'nextPage' is not a page token this API returned") from exc
