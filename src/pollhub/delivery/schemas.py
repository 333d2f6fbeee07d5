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
