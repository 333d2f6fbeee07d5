"""The outbox: turning detected changes into notifications, in the caller's transaction.

The poller calls :func:`enqueue_polled_changes` and the webhook receiver
:func:`enqueue_webhook_events` in the same transaction that advances their cursor (or
accepts the webhook), and commits it themselves. So a change is either stored together
with the cursor that moved past it, or not at all: nothing is lost between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.configuration import QUEUE, StoredConfiguration
from pollhub.db.models import Instance, Notification
from pollhub.delivery.envelope import (
    EnvelopeEvent,
    EnvelopeInstance,
    build_body,
    epoch_millis,
    new_envelope_id,
    new_event_id,
)
from pollhub.delivery.repository import QUEUED, instance_is_queuing

# The original's page sizes (reference section 1.3): 10 events per polling notification,
# 20 per webhook notification, the full vendor body repeated in each webhook notification.
POLLING_BATCH = 10
WEBHOOK_BATCH = 20
PENDING = "pending"


@dataclass(frozen=True)
class ChangeEvent:
    """One change to report: what happened to which object, and the provider's object."""

    event_type: str  # "CREATED" | "UPDATED" | "DELETED" | "UNKNOWN"
    object_id: str
    object_type: str
    date: datetime | None  # when the object changed (provider's date), aware UTC
    raw: Any = None  # the provider's object (polling); goes into message.raw[objectType]


async def enqueue_polled_changes(
    session: AsyncSession,
    instance: Instance,
    *,
    hub_key: str,
    object_type: str,
    events: Sequence[ChangeEvent],
    poll_date: datetime,
) -> list[Notification]:
    """Add notifications for the changes one poll of one resource found (10 per notification).

    ``message.raw`` is ``{objectType: [provider objects], "pollDate": ms, "objectType": …}``.
    Only adds rows; the caller commits. Nothing is added when the instance's events are
    disabled or it has no callback URL.
    """
    if not _wants_events(instance):
        return []
    status = await _first_status(session, instance)
    notifications = []
    for batch in _batches(events, POLLING_BATCH):
        raw = {
            object_type: [event.raw for event in batch],
            "pollDate": epoch_millis(poll_date),
            "objectType": object_type,
        }
        notifications.append(
            _add(session, instance, hub_key=hub_key, batch=batch, raw=raw, poll_date=poll_date)
        )
        notifications[-1].status = status
    return notifications


async def enqueue_webhook_events(
    session: AsyncSession,
    instance: Instance,
    *,
    hub_key: str,
    events: Sequence[ChangeEvent],
    body: Any,
) -> list[Notification]:
    """Add notifications for the events of one provider webhook (20 per notification).

    ``message.raw`` is the full vendor ``body`` in every notification, as the original does;
    each event's ``pollDate`` is when pollhub received the webhook. Only adds rows; the
    caller commits. Nothing is added when events are disabled or there is no callback URL.
    """
    if not _wants_events(instance):
        return []
    received = clock.now()
    status = await _first_status(session, instance)
    notifications = [
        _add(session, instance, hub_key=hub_key, batch=batch, raw=body, poll_date=received)
        for batch in _batches(events, WEBHOOK_BATCH)
    ]
    for notification in notifications:
        notification.status = status
    return notifications


async def _first_status(session: AsyncSession, instance: Instance) -> str:
    # An instance whose deliveries are queued (failure policy "queue", reference section
    # 5.3) queues its new notifications behind them, until the client releases them.
    if StoredConfiguration.of(instance).failure_policy != QUEUE:
        return PENDING
    return QUEUED if await instance_is_queuing(session, instance.id) else PENDING


def _wants_events(instance: Instance) -> bool:
    return bool(instance.events_enabled and StoredConfiguration.of(instance).callback_url)


def _batches(events: Sequence[ChangeEvent], size: int) -> list[Sequence[ChangeEvent]]:
    return [events[start : start + size] for start in range(0, len(events), size)]


def _add(
    session: AsyncSession,
    instance: Instance,
    *,
    hub_key: str,
    batch: Sequence[ChangeEvent],
    raw: Any,
    poll_date: datetime,
) -> Notification:
    now = clock.now()
    event_id = new_event_id()
    body = build_body(
        instance=EnvelopeInstance(
            id=instance.id,
            element_key=instance.element_key,
            name=instance.name,
            tags=instance.tags,
            organization_id=instance.organization_id,
            user_id=instance.user_id,
        ),
        hub_key=hub_key,
        event_id=event_id,
        envelope_id=new_envelope_id(),
        created=now,
        raw=raw,
        events=[
            EnvelopeEvent(
                event_type=event.event_type,
                object_id=event.object_id,
                object_type=event.object_type,
                # A provider that gives no date: the moment pollhub saw the change.
                date=event.date or poll_date,
                poll_date=poll_date,
            )
            for event in batch
        ],
    )
    notification = Notification(
        event_id=event_id,
        instance_id=instance.id,
        organization_id=instance.organization_id,
        callback_url=str(StoredConfiguration.of(instance).callback_url),
        body=body,
        object_type=_distinct(event.object_type for event in batch)[:200],
        event_types=_distinct(event.event_type for event in batch)[:100],
        event_count=len(batch),
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(notification)
    return notification


def _distinct(values: Any) -> str:
    return ",".join(dict.fromkeys(values))
