"""Webhook events whose changed objects are fetched before delivery.

With ``event.notification.fetch.objects`` on, the receiver only writes accepted events here
(so the provider still gets its 202 at once); a worker then fetches each changed object
(through the element's webhook capability), puts it in the event's ``raw`` and in the
notification body (beside its entry, e.g. Graph's ``resourceObject``),
and moves the events to the outbox — in one transaction, oldest first per instance, so the
instance's order holds. A fetch that keeps failing is given up after a few attempts and the
events are delivered without the object: an event is never lost for want of its details.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.leases import take_leases
from pollhub.db.models import Instance, WebhookInbox
from pollhub.delivery.outbox import ChangeEvent, enqueue_webhook_events
from pollhub.elements import get_element
from pollhub.elements.http import ProviderApi, ProviderError
from pollhub.elements.webhooks import WebhookCapability
from pollhub.oauth.tokens import InstanceInvalid, TokenKeeper

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5


def hold_for_fetching(
    session: AsyncSession, instance_id: int, events: list[ChangeEvent], body: Any
) -> None:
    """Keep accepted events until their objects are fetched (the caller commits)."""
    if not events:
        return
    now = clock.now()
    session.add(
        WebhookInbox(
            instance_id=instance_id,
            events=[
                {"eventType": e.event_type, "objectId": e.object_id, "objectType": e.object_type}
                for e in events
            ],
            body=body,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


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
        try:
            objects = await _fetch(tokens, http, hooks, instance.id, row.events)
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
            objects = {}
        events = [
            ChangeEvent(
                e["eventType"],
                e["objectId"],
                e["objectType"],
                clock.now(),
                objects.get(e["objectId"]),
            )
            for e in row.events
        ]
        await enqueue_webhook_events(
            session,
            instance,
            hub_key=element.hub,
            events=events,
            body=hooks.attach_objects(row.body, objects),
        )
        await session.delete(row)
        await session.commit()


async def _fetch(
    tokens: TokenKeeper,
    http: httpx.AsyncClient,
    hooks: WebhookCapability,
    instance_id: int,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    api = ProviderApi(http, await tokens.access_token(instance_id))
    objects: dict[str, Any] = {}
    for event in events:
        if event["eventType"] == "DELETED":
            continue  # a deleted object cannot be fetched
        found = await hooks.fetch(api, event["objectType"], event["objectId"])
        if found is not None:
            objects[event["objectId"]] = found
    return objects
