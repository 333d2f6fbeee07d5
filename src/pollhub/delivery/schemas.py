"""Response bodies of the event history API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pollhub.db.models import Notification
from pollhub.delivery.repository import ACTIVE


class NotificationOut(BaseModel):
    """One notification and how its delivery went."""

    eventId: str
    status: str
    attempts: int
    lastResponseCode: int | None
    lastError: str | None
    createdDate: datetime
    deliveredDate: datetime | None
    nextAttemptDate: datetime | None
    objectType: str
    eventTypes: list[str]
    eventCount: int
    callbackUrl: str
    body: Any = None

    @classmethod
    def of(cls, notification: Notification, *, include_body: bool) -> NotificationOut:
        """The view of ``notification``; the callback body only when asked for."""
        return cls(
            eventId=notification.event_id,
            status=notification.status,
            attempts=notification.attempts,
            lastResponseCode=notification.last_status_code,
            lastError=notification.last_error,
            createdDate=notification.created_at,
            deliveredDate=notification.delivered_at,
            nextAttemptDate=(
                notification.next_attempt_at if notification.status in ACTIVE else None
            ),
            objectType=notification.object_type,
            eventTypes=notification.event_types.split(",") if notification.event_types else [],
            eventCount=notification.event_count,
            callbackUrl=notification.callback_url,
            body=json.loads(notification.body) if include_body else None,
        )


class RedeliveredOut(BaseModel):
    """How many notifications were queued again."""

    redelivered: int


class DeliveryConfig(BaseModel):
    """Where a delivery goes."""

    url: str


class DeliveryOut(BaseModel):
    """One delivery of ``/notifications/subscriptions/deliveries``: the callback, where it
    goes, how it stands, and the payload itself (with its ``eventId``) in ``delivery``."""

    id: str
    eventId: str
    instanceId: int
    channel: str
    status: str
    config: DeliveryConfig
    attempts: int
    lastResponseCode: int | None
    lastError: str | None
    createdDate: datetime
    delivery: Any

    @classmethod
    def of(cls, notification: Notification, channel: str) -> DeliveryOut:
        """The view of ``notification`` as a delivery."""
        return cls(
            id=notification.event_id,
            eventId=notification.event_id,
            instanceId=notification.instance_id,
            channel=channel,
            status=notification.status,
            config=DeliveryConfig(url=notification.callback_url),
            attempts=notification.attempts,
            lastResponseCode=notification.last_status_code,
            lastError=notification.last_error,
            createdDate=notification.created_at,
            delivery=json.loads(notification.body),
        )


class ReleasedOut(BaseModel):
    """How many queued deliveries were released."""

    released: int


class AnalyticsOut(BaseModel):
    """Notifications created in one time bucket and how they ended (``success`` is the
    original's name for ``delivered``)."""

    timestamp: datetime
    count: int
    delivered: int
    success: int
    failed: int
    instanceId: int | None = None
    accountId: int | None = None
