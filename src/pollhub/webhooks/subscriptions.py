"""Webhook subscriptions of an instance: created with its events, renewed before they
expire, re-created when the provider drops them, deleted with the instance. The
provider's side of each step is its element's webhook capability.

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

from pollhub.changes.memory import Memory
from pollhub.changes.verdicts import classify
from pollhub.clock import clock
from pollhub.db.configuration import SUBSCRIPTION_IDS, StoredConfiguration
from pollhub.db.leases import take_leases
from pollhub.db.models import Instance, WebhookSubscription
from pollhub.delivery.outbox import ChangeEvent, enqueue_webhook_events
from pollhub.elements import get_element
from pollhub.elements.base import Element
from pollhub.elements.http import ProviderApi, ProviderError, ProviderNotFound
from pollhub.elements.webhooks import WebhookCapability
from pollhub.errors import BadRequest
from pollhub.oauth.tokens import InstanceInvalid, TokenKeeper
from pollhub.outbound.clients import provider_client
from pollhub.settings import get_settings
from pollhub.webhooks import receipts

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
RETRY_FAILED_AFTER = timedelta(minutes=5)
PROVIDER_TIMEOUT = httpx.Timeout(30.0)


def notification_url(instance: Instance) -> str:
    """Where the provider sends an instance's change notifications."""
    base = get_settings().public_url
    return f"{base}/elements/api-v2/events/{instance.element_key}/{instance.id}"


def lifecycle_url(instance: Instance) -> str:
    """Where the provider sends an instance's lifecycle notifications."""
    return f"{notification_url(instance)}/lifecycle"


async def subscribe(session: AsyncSession, instance: Instance, element: Element) -> None:
    """Create the instance's subscriptions (on creation, or when events turn on).

    The provider refusing one (its validation handshake failed, a scope is missing) is a
    :class:`BadRequest` with its reason, so the request that asked for events fails.
    """
    hooks = _capability(element)
    config = StoredConfiguration.of(instance)
    try:
        wanted = hooks.object_types(
            config.oauth_scope or element.default_scope, config.event_objects
        )
    except ValueError as exc:
        raise BadRequest(f"configuration 'event.objects': {exc}") from exc
    if not wanted:
        raise BadRequest(
            f"configuration 'oauth.scope' grants no resource {element.name} can notify about "
            f"(subscribable: {', '.join(hooks.known_object_types())})"
        )
    async with provider_client(timeout=PROVIDER_TIMEOUT) as http:
        api = ProviderApi(http, config.access_token or "")
        for object_type in wanted:
            try:
                session.add(await _create(api, hooks, instance, object_type))
            except ProviderError as exc:
                raise BadRequest(f"{element.name} refused the subscription: {exc}") from exc
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
    """Delete the instance's subscriptions at the provider (best effort) and forget them."""
    rows = list(
        await session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.instance_id == instance.id)
        )
    )
    element = get_element(instance.element_key)
    if not rows or element is None or element.webhooks is None:
        return
    async with provider_client(timeout=PROVIDER_TIMEOUT) as http:
        api = ProviderApi(http, StoredConfiguration.of(instance).access_token or "")
        for row in rows:
            try:
                await element.webhooks.unsubscribe(api, row.subscription_id)
            except ProviderNotFound:
                pass  # already gone
            except ProviderError as exc:
                # It expires on its own within days; notifications meanwhile are refused.
                log.warning(
                    "could not delete the provider's subscription: %s",
                    exc,
                    extra={"instance": instance.id, "subscription": row.subscription_id},
                )
            await session.delete(row)
    configuration = dict(instance.configuration)
    configuration.pop(SUBSCRIPTION_IDS, None)
    instance.configuration = configuration


def _capability(element: Element) -> WebhookCapability:
    if element.webhooks is None:
        raise BadRequest(f"{element.key} does not send webhooks")
    return element.webhooks


async def _create(
    api: ProviderApi, hooks: WebhookCapability, instance: Instance, object_type: str
) -> WebhookSubscription:
    now = clock.now()
    expires_at = hooks.expiry(object_type, now)
    client_state = secrets.token_urlsafe(32)
    subscription_id = await hooks.subscribe(
        api,
        object_type,
        notification_url=notification_url(instance),
        lifecycle_url=lifecycle_url(instance),
        client_state=client_state,
        expires_at=expires_at,
    )
    return WebhookSubscription(
        instance_id=instance.id,
        subscription_id=subscription_id,
        object_type=object_type,
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
    configuration[SUBSCRIPTION_IDS] = ",".join(ids)
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
        element = get_element(instance.element_key) if instance is not None else None
        if row is None or instance is None or element is None or element.webhooks is None:
            return
        hooks = element.webhooks
        now = clock.now()
        try:
            if row.status == "active":
                expires_at = hooks.expiry(row.object_type, now)
                try:
                    await hooks.renew(api, row.subscription_id, expires_at)
                    row.expires_at, row.renew_at = expires_at, _renew_at(now, expires_at)
                except ProviderNotFound:
                    row.status, row.needs_catch_up = "removed", True
            if row.status != "active":
                replacement = await _create(api, hooks, instance, row.object_type)
                row.subscription_id = replacement.subscription_id
                row.client_state = replacement.client_state
                row.expires_at, row.renew_at = replacement.expires_at, replacement.renew_at
                row.status = "active"
            if row.needs_catch_up:
                await catch_up(session, api, instance, element, row)
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
    element: Element,
    subscription: WebhookSubscription,
) -> int:
    """Read the subscription's resource in full and report what changed unseen (after
    ``missed`` notifications or a lost subscription); returns the number of changes
    reported. The versions read count as processed by the subscription: their
    notifications, arriving later, are no news."""
    hooks = _capability(element)
    object_type = subscription.object_type
    objects = await hooks.read_all(api, object_type)
    memory = await Memory.load(session, instance.id, object_type, [], everything=True, locked=True)
    events = []
    read: list[receipts.Change] = []
    for change in objects:
        version = hooks.version_of(change.raw)
        verdict = classify(change.kind, version, memory.seen(change.object_id), unseen="CREATED")
        memory.remember(session, change.object_id, verdict.fingerprint, verdict.deleted)
        if version or verdict.deleted:
            read.append((change.object_id, verdict.fingerprint))
        if verdict.event_type:
            events.append(
                ChangeEvent(
                    verdict.event_type, change.object_id, object_type, clock.now(), change.raw
                )
            )
    # A full read: what was known and is missing now was deleted unseen.
    missing = memory.forget_missing(session, [c.object_id for c in objects])
    events.extend(ChangeEvent("DELETED", m, object_type, clock.now(), None) for m in missing)
    await receipts.record(session, subscription.id, read)
    await receipts.forget_deleted(session, subscription.id, missing)
    await enqueue_webhook_events(
        session,
        instance,
        hub_key=element.hub,
        events=events,
        body={"catchUp": True, "objectType": object_type, "value": [c.raw for c in objects]},
    )
    return len(events)
