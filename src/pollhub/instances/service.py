"""Element instances: create, read, change and delete them for an organization.

Called by the API, the console and the CLI alike; takes a session and plain arguments,
raises domain errors, and leaves committing to the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from pollhub.catalog.service import elements_of, find_element
from pollhub.clock import clock
from pollhub.db import configuration as keys
from pollhub.db.models import Instance, Notification
from pollhub.delivery.repository import ACTIVE
from pollhub.elements import element_of as _element_of
from pollhub.elements.base import Element
from pollhub.errors import BadRequest, Conflict, NotFound
from pollhub.instances.config import (
    MASK,
    InstanceConfiguration,
    effective_poller_configuration,
    effective_vendor_type,
    is_secret_key,
    parse_configuration,
)
from pollhub.instances.near_misses import near_miss_warnings
from pollhub.instances.schemas import InstanceCreate, InstanceUpdate, ProviderData
from pollhub.oauth.client import ClientApp, TokenSet, exchange_code
from pollhub.oauth.tokens import store_tokens
from pollhub.outbound.policy import allow_private_addresses, check_outbound_url
from pollhub.polling.schedule import forget_poll_states, sync_poll_states
from pollhub.tenancy.secrets import hash_secret, new_secret
from pollhub.tenancy.service import Caller
from pollhub.webhooks import subscriptions as webhooks


async def create_instance(session: AsyncSession, caller: Caller, body: InstanceCreate) -> Instance:
    """Validate the configuration, exchange the authorization code, and store the instance.

    Nothing is stored unless the provider accepted the code.
    """
    element = await _element(session, caller, body.element.key)
    config = parse_configuration(element, body.configuration)
    await _check_outbound_urls(element, config)
    tokens = await _authorize(element, config, body.providerData)
    now = clock.now()
    token = new_secret()
    instance = Instance(
        organization_id=caller.organization_id,
        user_id=caller.user_id,
        element_key=element.key,
        name=body.name,
        tags=list(body.tags),
        token=token,
        token_hash=hash_secret(token),
        valid=True,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    _apply_configuration(instance, element, config, previous_secrets={})
    store_tokens(instance, tokens)
    session.add(instance)
    await session.flush()
    await _start_or_stop_events(session, instance, element, config)
    await session.refresh(instance, ["user", "custom_element"])
    return instance


async def list_instances(
    session: AsyncSession, caller: Caller, tags: list[str] | None = None
) -> list[Instance]:
    """The caller's organization's instances, optionally only those carrying all ``tags``."""
    query = (
        select(Instance)
        .where(Instance.organization_id == caller.organization_id)
        .options(selectinload(Instance.user))
        .order_by(Instance.id)
    )
    if caller.element_token:
        query = query.where(Instance.token_hash == hash_secret(caller.element_token))
    instances = list(await session.scalars(query))
    if tags:
        wanted = set(tags)
        instances = [i for i in instances if wanted <= set(i.tags)]
    return instances


async def get_instance(session: AsyncSession, caller: Caller, instance_id: int) -> Instance:
    """One of the caller's instances; another organization's is :class:`NotFound`."""
    instance = await session.scalar(
        select(Instance)
        .where(Instance.id == instance_id, Instance.organization_id == caller.organization_id)
        .options(selectinload(Instance.user))
    )
    wrong_token = (
        instance is not None
        and caller.element_token is not None
        and instance.token_hash != hash_secret(caller.element_token)
    )
    if instance is None or wrong_token:
        raise NotFound(f"No instance found with ID {instance_id}")
    return instance


async def update_instance(
    session: AsyncSession, caller: Caller, instance_id: int, body: InstanceUpdate
) -> Instance:
    """Change name, tags or configuration (partially), or re-authenticate with a new code."""
    instance = await get_instance(session, caller, instance_id)
    if is_draining(instance):
        raise Conflict(
            f"Instance {instance_id} is being deleted once its pending callbacks are "
            "delivered; DELETE it again without drain to delete it now"
        )
    element = element_of(instance)
    if body.name is not None:
        instance.name = body.name
    if body.tags is not None:
        instance.tags = list(body.tags)
    if body.configuration is not None or _has_code(body.providerData):
        merged = _merge_configuration(instance, body.configuration or {})
        config = parse_configuration(element, merged)
        await _check_outbound_urls(element, config)
        if _has_code(body.providerData):
            tokens = await _authorize(element, config, body.providerData)
            store_tokens(instance, tokens)
            instance.valid, instance.invalid_reason = True, None
        _apply_configuration(instance, element, config, previous_secrets=instance.secrets)
        await _start_or_stop_events(session, instance, element, config)
    instance.updated_at = clock.now()
    await session.flush()
    return instance


@dataclass(frozen=True)
class Deletion:
    """What ``DELETE /instances/{id}`` did: deleted now (dropping ``undelivered``
    callbacks), or deferred until those ``undelivered`` callbacks are delivered."""

    deleted: bool
    undelivered: int


async def delete_instance(
    session: AsyncSession, caller: Caller, instance_id: int, *, drain: bool = False
) -> Deletion:
    """Remove an instance and everything that hangs off it, or, with ``drain`` and
    callbacks still to deliver, stop its events now and delete it once they are delivered
    (or have failed for good): see :func:`delete_drained_instances`."""
    instance = await get_instance(session, caller, instance_id)
    undelivered = await _undelivered_count(session, instance.id)
    await webhooks.unsubscribe(session, instance)
    if drain and undelivered:
        await forget_poll_states(session, instance.id)
        instance.events_enabled = False
        instance.delete_requested_at = instance.updated_at = clock.now()
        await session.flush()
        return Deletion(deleted=False, undelivered=undelivered)
    await session.delete(instance)
    await session.flush()
    return Deletion(deleted=True, undelivered=undelivered)


async def delete_drained_instances(session: AsyncSession) -> int:
    """Delete the instances asked to be deleted once drained whose outbox is now empty;
    returns how many. For the worker to call periodically; commits nothing."""
    undelivered = exists().where(
        Notification.instance_id == Instance.id, Notification.status.in_(ACTIVE)
    )
    result = await session.execute(
        delete(Instance)
        .where(Instance.delete_requested_at.is_not(None), ~undelivered)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def is_draining(instance: Instance) -> bool:
    """True once ``DELETE ?drain=true`` was asked and the instance awaits its deletion."""
    return instance.delete_requested_at is not None


async def _undelivered_count(session: AsyncSession, instance_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.instance_id == instance_id, Notification.status.in_(ACTIVE))
    )
    return int(count or 0)


def element_of(instance: Instance) -> Element:
    """The element an instance belongs to (built-in, or its organization's own)."""
    element = _element_of(instance)
    if element is None:  # a built-in element this version of pollhub no longer has
        raise BadRequest(f"element 'key': unknown element '{instance.element_key}'")
    return element


def configuration_warnings(instance: Instance) -> list[str]:
    """Keys of the instance's configuration that look like a misspelt known key."""
    keys = sorted([*instance.configuration, *instance.secrets])
    return near_miss_warnings(element_of(instance), keys)


def shown_configuration(instance: Instance) -> dict[str, Any]:
    """The configuration as the API shows it: every secret as ``********`` — also a key
    its custom element has declared secret since the value was stored."""
    element = _element_of(instance)
    shown = {
        key: MASK if is_secret_key(key, element) else value
        for key, value in instance.configuration.items()
    }
    shown.update({key: MASK for key in instance.secrets})
    return shown


async def _element(session: AsyncSession, caller: Caller, key: str) -> Element:
    element = await find_element(session, caller.organization_id, key)
    if element is None:
        known = ", ".join(e.key for e in await elements_of(session, caller.organization_id))
        raise BadRequest(f"element 'key': unknown element '{key}'; known: {known}")
    return element


async def _check_outbound_urls(element: Element, config: InstanceConfiguration) -> None:
    # Refuse a callback URL or a provider host into pollhub's own network now, with a 400
    # naming the key; every connection is checked again (pollhub.outbound).
    allow_private = allow_private_addresses()
    await check_outbound_url(
        config.callback_url, key=keys.CALLBACK_URL, allow_private=allow_private
    )
    values = {**config.model_dump(by_alias=True), **config.extras()}
    for key, url in element.configured_urls(values).items():
        await check_outbound_url(url, key=key, allow_private=allow_private)


def _has_code(provider_data: ProviderData | None) -> bool:
    return bool(provider_data and provider_data.code)


async def _authorize(
    element: Element, config: InstanceConfiguration, provider_data: ProviderData | None
) -> TokenSet | None:
    """Exchange the code for tokens; None for an element whose credentials are in its
    configuration (an API key, a user name and password) or that needs none."""
    if not element.uses_oauth:
        return None
    if not _has_code(provider_data):
        raise BadRequest("'providerData.code' is required: the provider's authorization code")
    assert provider_data is not None and provider_data.code is not None
    missing = [
        key
        for key, value in (
            (keys.OAUTH_API_KEY, config.oauth_api_key),
            (keys.OAUTH_API_SECRET, config.oauth_api_secret),
        )
        if not value
    ]
    if missing:
        raise BadRequest(f"configuration '{missing[0]}' is required to authorize {element.key}")
    app = ClientApp(
        client_id=config.oauth_api_key or "",
        client_secret=config.oauth_api_secret or "",
        redirect_uri=config.oauth_callback_url,
        scope=config.oauth_scope or element.default_scope,
    )
    return await exchange_code(element, config.model_dump(by_alias=True), app, provider_data.code)


def _merge_configuration(instance: Instance, changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**instance.configuration, **instance.secrets}
    for key in keys.USER_TOKENS:
        merged.pop(key, None)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif value == MASK and key in instance.secrets:
            continue  # a client echoing back what GET showed keeps the stored secret
        else:
            merged[key] = value
    return merged


def _apply_configuration(
    instance: Instance,
    element: Element,
    config: InstanceConfiguration,
    previous_secrets: dict[str, Any],
) -> None:
    values = config.model_dump(
        by_alias=True, exclude_unset=True, exclude_none=True, exclude={"poller_configuration"}
    )
    values[keys.EVENTS_ENABLED] = config.events_enabled
    values[keys.VENDOR_TYPE] = effective_vendor_type(element, config)
    if element.polls:
        values[keys.REFRESH_INTERVAL] = config.refresh_interval
        values[keys.POLLER_CONFIGURATION] = {
            name: resource.model_dump(exclude_none=True)
            for name, resource in effective_poller_configuration(element, config).items()
        }
    secrets = {k: v for k, v in previous_secrets.items() if k in keys.USER_TOKENS}
    plain: dict[str, Any] = {}
    for key, value in values.items():
        (secrets if is_secret_key(key, element) else plain)[key] = value
    instance.configuration = plain
    instance.secrets = secrets
    instance.events_enabled = config.events_enabled


async def _start_or_stop_events(
    session: AsyncSession, instance: Instance, element: Element, config: InstanceConfiguration
) -> None:
    """Start, re-plan or stop the instance's polls (workers see it at their next tick), or
    create or delete its provider webhook subscriptions."""
    if element.polls and config.events_enabled:
        resources = effective_poller_configuration(element, config)
        await sync_poll_states(session, instance, resources, config.refresh_interval_seconds())
        return
    await forget_poll_states(session, instance.id)
    subscribed = await webhooks.has_subscriptions(session, instance.id)
    if not element.polls and config.events_enabled and not subscribed:
        await webhooks.subscribe(session, instance, element)
    elif not config.events_enabled and subscribed:
        await webhooks.unsubscribe(session, instance)
