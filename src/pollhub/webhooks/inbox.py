"""Webhook events whose changed objects are fetched before delivery.

With ``event.notification.fetch.objects`` on, the receiver only writes accepted events here
(so the provider still gets its 202 at once); a worker then fetches each changed object
(through the element's webhook capability), puts it in the event's ``raw`` and in the
notification body (beside its entry, e.g. Graph's ``resourceObject``),
and moves the events to the outbox — in one transaction, oldest first per instance, so the
instance's order holds (while an instance has events here, its later ones queue behind).
A fetch that keeps failing is given up after a few attempts and the events are delivered
without the object: an event is never lost for want of its details.

A change notified without the object's version (OneDrive's notifications name only the
folder, with no etag) waits here whatever the configuration: the object is read, and the
version read decides whether it is news (:mod:`.news`) — so each change of the object
emits one event, and a repeat or replay of the notification none, as for versioned ones.
An object gone by then emits nothing (its deletion is news of its own).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.changes.memory import Memory
from pollhub.clock import clock
from pollhub.db.configuration import StoredConfiguration
from pollhub.db.leases import take_leases
from pollhub.db.models import Instance, WebhookInbox, WebhookSubscription
from pollhub.delivery.outbox import ChangeEvent, enqueue_webhook_events
from pollhub.elements import get_element
from pollhub.elements.http import ProviderApi, ProviderError
from pollhub.elements.reading import ChangeKind
from pollhub.elements.webhooks import WebhookCapability
from pollhub.oauth.tokens import InstanceInvalid, TokenKeeper
from pollhub.webhooks.news import news

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Unversioned:
    """A change notified without the object's version: whether it is news, and which
    event, is decided once the object is read."""

    subscription_row_id: int
    kind: ChangeKind | None
    object_id: str
    object_type: str


def hold_for_fetching(
    session: AsyncSession,
    instance_id: int,
    events: list[ChangeEvent | Unversioned],
    body: Any,
) -> None:
    """Keep accepted events until their objects are fetched (the caller commits)."""
    if not events:
        return
    now = clock.now()
    session.add(
        WebhookInbox(
            instance_id=instance_id,
            events=[_stored(e) for e in events],
            body=body,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _stored(event: ChangeEvent | Unversioned) -> dict[str, Any]:
    if isinstance(event, Unversioned):
        return {
            "eventType": None,
            "objectId": event.object_id,
            "objectType": event.object_type,
            "subscription": event.subscription_row_id,
            "kind": event.kind,
        }
    return {
        "eventType": event.event_type,
        "objectId": event.object_id,
        "objectType": event.object_type,
    }


async def has_waiting(session: AsyncSession, instance_id: int) -> bool:
    """Whether some of the instance's events wait here (its later ones must wait behind)."""
    found = await session.scalar(
        select(WebhookInbox.id).where(WebhookInbox.instance_id == instance_id).limit(1)
    )
    return found is not None


async def process_inbox(
    sessionmaker: async_sessionmaker[AsyncSession],
    tokens: TokenKeeper,
    http: httpx.AsyncClient,
    worker_id: str,
    limit: int = 20,
) -> int:
    """Fetch and deliver what is due in the inbox; returns how many rows were handled."""
    async with sessionmaker() as session:
        row_ids = await _claim(session, worker_id, limit)
        await session.commit()
    for row_id in row_ids:
        try:
            await _process(sessionmaker, tokens, http, row_id)
        except Exception:  # one broken row must not stop the others; its lease expires
            log.exception("webhook inbox row failed", extra={"row": row_id})
    return len(row_ids)


async def _claim(session: AsyncSession, worker_id: str, limit: int) -> list[int]:
    # Only each instance's oldest row: its events must reach the outbox in order.
    oldest = select(func.min(WebhookInbox.id)).group_by(WebhookInbox.instance_id)
    due = (
        select(WebhookInbox.id)
        .where(WebhookInbox.id.in_(oldest), WebhookInbox.next_attempt_at <= clock.now())
        .order_by(WebhookInbox.id)
        .limit(limit)
    )
    rows = await take_leases(
        session, WebhookInbox, due, worker_id=worker_id, lease=LEASE, returning=[WebhookInbox.id]
    )
    return [row.id for row in rows]


async def _process(
    sessionmaker: async_sessionmaker[AsyncSession],
    tokens: TokenKeeper,
    http: httpx.AsyncClient,
    row_id: int,
) -> None:
    async with sessionmaker() as session:
        row = await session.get(WebhookInbox, row_id)
        instance = await session.get(Instance, row.instance_id) if row else None
        element = get_element(instance.element_key) if instance is not None else None
        if row is None or instance is None or element is None or element.webhooks is None:
            return
        hooks = element.webhooks
        attach = StoredConfiguration.of(instance).fetch_objects
        gave_up = False
        try:
            objects = await _fetch(tokens, http, hooks, instance.id, row.events, attach)
        except (ProviderError, InstanceInvalid) as exc:
            row.attempts += 1
            if row.attempts < MAX_ATTEMPTS:
                row.lease_owner, row.lease_expires_at = None, None
                row.next_attempt_at = clock.now() + timedelta(seconds=2**row.attempts)
                log.warning(
                    "fetching changed objects failed: %s", exc, extra={"instance": instance.id}
                )
                await session.commit()
                return
            log.warning(
                "giving up fetching changed objects: %s", exc, extra={"instance": instance.id}
            )
            objects, gave_up = {}, True
        events = []
        for held in row.events:
            found = objects.get(held["objectId"])
            event_type = held["eventType"]
            if "subscription" in held:
                event_type = await _decide(session, instance.id, hooks, held, found, gave_up)
            if event_type:
                events.append(
                    ChangeEvent(
                        event_type, held["objectId"], held["objectType"], clock.now(), found
                    )
                )
        await enqueue_webhook_events(
            session,
            instance,
            hub_key=element.hub,
            events=events,
            body=hooks.attach_objects(row.body, objects) if attach else row.body,
        )
        await session.delete(row)
        await session.commit()


async def _decide(
    session: AsyncSession,
    instance_id: int,
    hooks: WebhookCapability,
    held: dict[str, Any],
    found: Any,
    gave_up: bool,
) -> str | None:
    """The event of a change notified without a version, now that its object was read."""
    kind: ChangeKind | None = held["kind"]
    if found is None:
        # Unreadable after every attempt: the notification's own word, rather than nothing.
        # Gone by now: nothing to report that its deletion will not.
        return ("UNKNOWN" if kind is None else kind.upper()) if gave_up else None
    if await session.get(WebhookSubscription, held["subscription"]) is None:
        return None  # unsubscribed meanwhile: the instance wants no events of it
    object_id, object_type = held["objectId"], held["objectType"]
    memory = await Memory.load(session, instance_id, object_type, [object_id], locked=True)
    return await news(
        session, held["subscription"], memory, kind, object_id, hooks.version_of(found)
    )


async def _fetch(
    tokens: TokenKeeper,
    http: httpx.AsyncClient,
    hooks: WebhookCapability,
    instance_id: int,
    events: list[dict[str, Any]],
    attach: bool,
) -> dict[str, Any]:
    # Objects to attach (with fetch.objects) and those whose version decides their event.
    api = ProviderApi(http, await tokens.access_token(instance_id))
    objects: dict[str, Any] = {}
    for event in events:
        if event["eventType"] == "DELETED" or not (attach or "subscription" in event):
            continue  # a deleted object cannot be fetched
        found = await hooks.fetch(api, event["objectType"], event["objectId"])
        if found is not None:
            objects[event["objectId"]] = found
    return objects
