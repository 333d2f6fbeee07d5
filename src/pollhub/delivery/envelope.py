"""Cloud Elements' callback envelope (CONTRACT section 5), serialized once to exact bytes."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# The original's envelope names its sender; pollhub names itself the same way.
NOTIFICATION_USER = "notifications@pollhub"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class EnvelopeInstance:
    """What the envelope says about the instance a notification belongs to."""

    id: int
    element_key: str
    name: str
    tags: Sequence[str]
    organization_id: int
    user_id: int


@dataclass(frozen=True)
class EnvelopeEvent:
    """One entry of ``message.events``: a normalized change."""

    event_type: str
    object_id: str
    object_type: str
    date: datetime
    poll_date: datetime


def new_event_id() -> str:
    """A fresh ``message.eventId`` (20 URL-safe characters, like the original's ids)."""
    return secrets.token_urlsafe(15)


def new_envelope_id() -> str:
    """A fresh envelope ``id``: a string of digits, as the original sends."""
    return str(secrets.randbelow(9 * 10**15) + 10**15)


def java_date(moment: datetime) -> str:
    """``moment`` as Java's ``Date.toString()`` in UTC: ``Mon Aug 20 15:30:07 UTC 2018``.

    Spelled out rather than ``strftime`` so the names never follow the process locale.
    """
    t = moment.astimezone(UTC)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:02d} {t:%H:%M:%S} UTC {t.year}"


def iso_second(moment: datetime) -> str:
    """``moment`` as ``yyyy-MM-dd'T'HH:mm:ss'Z'`` in UTC (the events' ``date``/``pollDate``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_millis(moment: datetime) -> int:
    """``moment`` as milliseconds since the epoch (``raw.pollDate`` of polling callbacks)."""
    # Integer arithmetic: a float timestamp can round 123 ms down to 122.
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def build_body(
    *,
    instance: EnvelopeInstance,
    hub_key: str,
    event_id: str,
    envelope_id: str,
    created: datetime,
    raw: Any,
    events: Sequence[EnvelopeEvent],
) -> bytes:
    """The exact bytes POSTed for one notification.

    Keys are in the order of the original's captured payload (reference section 1.1);
    the JSON is compact UTF-8, and these bytes are what every attempt sends and signs.
    """
    envelope = {
        "severity": "medium",
        "createdDate": java_date(created),
        "topic": f"instance-{instance.id}-{instance.element_key}-events",
        "action": "create",
        "id": envelope_id,
        "message": {
            "elementKey": instance.element_key,
            "accountId": instance.organization_id,
            "eventId": event_id,
            # pollhub has one level of tenant; the original's account and company are both it.
            "companyId": instance.organization_id,
            "instanceId": instance.id,
            "instance_id": instance.id,
            "instanceName": instance.name,
            "instanceTags": list(instance.tags),
            "raw": raw,
            "userId": instance.user_id,
            "events": [_event(e, instance.element_key, hub_key) for e in events],
        },
        "user": NOTIFICATION_USER,
    }
    return json.dumps(
        envelope, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode()


def _event(event: EnvelopeEvent, element_key: str, hub_key: str) -> dict[str, Any]:
    return {
        "date": iso_second(event.date),
        "elementKey": element_key,
        "pollDate": iso_second(event.poll_date),
        "eventType": event.event_type,
        "hubKey": hub_key,
        "objectId": event.object_id,
        "objectType": event.object_type,
    }


def _json_default(value: Any) -> Any:
    # Provider objects are JSON already; a parsed date or a set is the most a caller adds.
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
