"""Graph subscriptions of an instance: created with its events, renewed before they
expire, re-created when Graph drops them, deleted with the instance.

A worker acts on a subscription when its ``renew_at`` is due, holding a lease
(:mod:`pollhub.db.leases`, as polls are shared), so any number of workers keep
subscriptions alive without two renewing the same one.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.leases import take_leases
from pollhub.db.models import Instance, WebhookSubscription
from pollhub.delivery.outbox import ChangeEvent, enqueue_webhook_events
from pollhub.elements import microsoftgraph as graph
from pollhub.elements.http import ProviderApi, ProviderError, ProviderNotFound
from pollhub.errors import BadRequest
from pollhub.oauth.tokens import InstanceInvalid, TokenKeeper
from pollhub.outbound.clients import provider_client
from pollhub.polling.fingerprints import Memory
from pollhub.settings import get_settings

log = logging.getLogger(__name__)

SUBSCRIPTION_IDS_KEY = "event.notification.subscription.id"
LEASE = timedelta(minutes=2)
RETRY_FAILED_AFTER = timedelta(minutes=5)
GRAPH_TIMEOUT = httpx.Timeout(30.0)


def notification_url(instance_id: int) -> str:
    """Where Graph sends an instance's change notifications."""
    return f"{get_settings().public_url}/elements/api-v2/events/microsoftgraph/{instance_id}"


def lifecycle_url(instance_id: int) -> str:
    """Where Graph sends an instance's lifecycle notifications."""
    return f"{notification_url(instance_id)}/lifecycle"


async def subscribe(session: AsyncSession, instance: Instance) -> None:
    """Create the instance's Graph subscriptions (on creation, or when events turn on).

    Graph refusing one (its validation handshake failed, a scope is missing) is a
    :class:`BadRequest` with Graph's reason, so the request that asked for events fails.
    """
    configuration = instance.configuration
    try:
        wanted = graph.resources_for(
            str(configuration.get("oauth.scope") or graph.ELEMENT.default_scope),
            configuration.get("event.objects"),
        )
    except ValueError as exc:
        raise BadRequest(f"configuration 'event.objects': {exc}") from exc
    if not wanted:
        raise BadRequest(
            "configuration 'oauth.scope' grants no resource Graph can notify about "
            f"(subscribable: {', '.join(graph.RESOURCES)})"
        )
    async with provider_client(timeout=GRAPH_TIMEOUT) as http:
        api = ProviderApi(http, str(instance.secrets.get("oauth.user.token", "")))
        for resource in wanted:
            try:
                session.add(await _create(api, instance.id, resource))
            except ProviderError as exc:
                raise BadRequest(f"Microsoft Graph refused the subscription: {exc}") from exc
    await session.flush()
    await _show_ids(session, instance)


async def has_subscriptions(session: AsyncSession, instance_id: int) -> bool:
    """Whether the instance has any webhook subscription."""
    found = await session.scalar(
        select(WebhookSubscription.id)
        .where(WebhookSubscription.instance_id == instance_id)
        .limit(1)
    )
    return found is not None


async def unsubscribe(session: AsyncSession, instance: Instance) -> None:
    """Delete the instance's subscriptions at Graph (best effort) and forget them."""
    rows = list(
        await session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.instance_id == instance.id)
        )
    )
    if not rows:
        return
    async with provider_client(timeout=GRAPH_TIMEOUT) as http:
        api = ProviderApi(http, str(instance.secrets.get("oauth.user.token", "")))
        for row in rows:
            try:
                await graph.delete_subscription(api, row.subscription_id)
            except ProviderNotFound:
                pass  # already gone
            except ProviderError as exc:
                # It expires on its own within days; notifications meanwhile are refused.
                log.warning(
                    "could not delete Graph subscription: %s",
                    exc,
                    extra={"instance": instance.id, "subscription": row.subscription_id},
                )
            await session.delete(row)
    configuration = dict(instance.configuration)
    configuration.pop(SUBSCRIPTION_IDS_KEY, None)
    instance.configuration = configuration


async def _create(
    api: ProviderApi, instance_id: int, resource: graph.SubscribableResource
) -> WebhookSubscription:
    now = clock.now()
    expires_at = graph.subscription_expiry(resource, now)
    client_state = secrets.token_urlsafe(32)
    created = await graph.create_subscription(
        api,
        resource,
        notification_url=notification_url(instance_id),
        lifecycle_url=lifecycle_url(instance_id),
        client_state=client_state,
        expires_at=expires_at,
    )
    return WebhookSubscription(
        instance_id=instance_id,
        subscription_id=str(created["id"]),
        object_type=resource.object_type,
        client_state=client_state,
        expires_at=expires_at,
        renew_at=_renew_at(now, expires_at),
        status="active",
        needs_catch_up=False,
        created_at=now,
    )


def _renew_at(now: datetime, expires_at: datetime) -> datetime:
    # Halfway through its life: a failing renewal has days to succeed before it lapses.
    return now + (expires_at - now) / 2


async def _show_ids(session: AsyncSession, instance: Instance) -> None:
    ids = await session.scalars(
        select(WebhookSubscription.subscription_id)
        .where(WebhookSubscription.instance_id == instance.id)
        .order_by(WebhookSubscription.id)
    )
    configuration = dict(instance.configuration)
    configuration[SUBSCRIPTION_IDS_KEY] = ",".join(ids)
    instance.configuration = configuration


# ------------------------------------------------------------------------ maintenance


@dataclass(frozen=True)
class _Due:
    row_id: int
    instance_id: int


async def claim_due(session: AsyncSession, worker_id: str, limit: int = 50) -> list[_Due]:
    """Lease subscriptions that need renewal, re-creation or a catch-up read."""
    due = (
        select(WebhookSubscription.id)
        .where(WebhookSubscription.renew_at <= clock.now())
        .order_by(WebhookSubscription.renew_at)
        .limit(limit)
    )
    rows = await take_leases(
        session,
        WebhookSubscription,
        due,
        worker_id=worker_id,
        lease=LEASE,
        returning=[WebhookSubscription.id, WebhookSubscription.instance_id],
    )
    return [_Due(row.id, row.instance_id) for row in rows]


async def maintain(
    sessionmaker: async_sessionmaker[AsyncSession],
    tokens: TokenKeeper,
    http: httpx.AsyncClient,
    worker_id: str,
) -> int:
    """Renew, re-create or catch up every due subscription; returns how many were handled."""
    async with sessionmaker() as session:
        due = await claim_due(session, worker_id)
        await session.commit()
    for item in due:
        try:
            await _maintain_one(sessionmaker, tokens, http, item)
        except Exception:  # one broken subscription must not stop the others
            log.exception("subscription maintenance failed", extra={"instance": item.instance_id})
    return len(due)


async def _maintain_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    tokens: TokenKeeper,
    http: httpx.AsyncClient,
    due: _Due,
) -> None:
    try:
        token = await tokens.access_token(due.instance_id)
    except InstanceInvalid:
        return  # the lease lapses; nothing can be done until the user re-authenticates
    api = ProviderApi(http, token)
    async with sessionmaker() as session:
        row = await session.get(WebhookSubscription, due.row_id)
        instance = await session.get(Instance, due.instance_id)
        if row is None or instance is None:
            return
        resource = graph.RESOURCES[row.object_type]
        now = clock.now()
        try:
            if row.status == "active":
                expires_at = graph.subscription_expiry(resource, now)
                try:
                    await graph.renew_subscription(api, row.subscription_id, expires_at)
                    row.expires_at, row.renew_at = expires_at, _renew_at(now, expires_at)
                except ProviderNotFound:
                    row.status, row.needs_catch_up = "removed", True
            if row.status != "active":
                replacement = await _create(api, instance.id, resource)
                row.subscription_id = replacement.subscription_id
                row.client_state = replacement.client_state
                row.expires_at, row.renew_at = replacement.expires_at, replacement.renew_at
                row.status = "active"
            if row.needs_catch_up:
                await catch_up(session, api, instance, resource)
                row.needs_catch_up = False
            row.last_error = None
        except ProviderError as exc:
            row.status = "failed" if row.status != "active" else row.status
            row.last_error = str(exc)
            row.renew_at = now + RETRY_FAILED_AFTER
            log.warning("subscription upkeep failed: %s", exc, extra={"instance": instance.id})
        row.lease_owner, row.lease_expires_at = None, None
        await _show_ids(session, instance)
        await session.commit()


async def catch_up(
    session: AsyncSession,
    api: ProviderApi,
    instance: Instance,
    resource: graph.SubscribableResource,
) -> int:
    """Read the resource in full and report what changed unseen (after ``missed``
    notifications or a lost subscription); returns the number of changes reported."""
    objects = await graph.read_all(api, resource)
    memory = await Memory.load(
        session, instance.id, resource.object_type, [], everything=True, locked=True
    )
    events = []
    seen_ids = set()
    for change in objects:
        seen_ids.add(change.object_id)
        etag = str(change.raw.get("@odata.etag") or change.raw.get("lastModifiedDateTime") or "")
        previous = memory.get(change.object_id)
        if previous is not None and previous.fingerprint == etag and not previous.deleted:
            continue
        event_type = "UPDATED" if previous is not None and not previous.deleted else "CREATED"
        memory.remember(session, change.object_id, etag, False)
        events.append(
            ChangeEvent(event_type, change.object_id, resource.object_type, clock.now(), change.raw)
        )
    for missing in sorted(memory.live_ids() - seen_ids):
        memory.remember(session, missing, "deleted", True)
        events.append(ChangeEvent("DELETED", missing, resource.object_type, clock.now(), None))
    await enqueue_webhook_events(
        session,
        instance,
        hub_key=graph.ELEMENT.hub,
        events=events,
        body={"catchUp": True, "resource": resource.resource, "value": [c.raw for c in objects]},
    )
    return len(events)
