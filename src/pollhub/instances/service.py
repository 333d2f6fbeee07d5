"""Element instances: create, read, change and delete them for an organization.

Called by the API, the console and the CLI alike; takes a session and plain arguments,
raises domain errors, and leaves committing to the caller's unit of work.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from pollhub.catalog.service import element_or_404, elements_of, find_element
from pollhub.clock import clock
from pollhub.db import configuration as keys
from pollhub.db.models import Instance, Notification
from pollhub.delivery.repository import ACTIVE
from pollhub.elements import element_of as _element_of
from pollhub.elements import get_element
from pollhub.elements.base import Element
from pollhub.errors import BadRequest, Conflict, NotFound, Unauthorized
from pollhub.instances.config import (
    MASK,
    InstanceConfiguration,
    check_sizes,
    effective_poller_configuration,
    effective_vendor_type,
    is_secret_key,
    parse_configuration,
)
from pollhub.instances.near_misses import near_miss_warnings
from pollhub.instances.schemas import InstanceCreate, InstanceUpdate, ProviderData
from pollhub.oauth.client import ClientApp, TokenSet, exchange_code
from pollhub.oauth.tokens import InstanceInvalid, needs_refresh, refresh_instance_tokens
from pollhub.outbound.policy import allow_private_addresses, check_outbound_url
from pollhub.polling.schedule import forget_poll_states, sync_poll_states
from pollhub.tenancy.secrets import hash_secret, new_secret
from pollhub.tenancy.service import Caller
from pollhub.webhooks import subscriptions as webhooks

# ``externalAuthentication``: "initial" creates an instance from tokens the client holds.
EXTERNAL_NONE, EXTERNAL_INITIAL = "none", "initial"


async def create_instance(
    session: AsyncSession, caller: Caller, body: InstanceCreate, *, element: Element | None = None
) -> Instance:
    """Validate the configuration, get the tokens, and store the instance.

    The tokens come from exchanging ``providerData.code`` at the provider, or — with
    ``externalAuthentication: "initial"`` — from the configuration (``oauth.user.token``,
    ``oauth.user.refresh_token``), refreshed at once when the access token is missing or
    stale. Nothing is stored unless the provider accepted the code; an imported refresh
    token the provider refuses leaves the instance invalid with the provider's reason.
    ``element`` is the one named by the path of ``/elements/{keyOrId}/instances``.
    """
    element = await _body_element(session, caller, body, element)
    check_sizes(body.tags, body.configuration)
    config = parse_configuration(element, body.configuration)
    await _check_outbound_urls(element, config)
    imported = body.externalAuthentication == EXTERNAL_INITIAL
    tokens = _imported_tokens(element, config) if imported else None
    if tokens is None:
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
        external_authentication=EXTERNAL_INITIAL if imported else EXTERNAL_NONE,
        created_at=now,
        updated_at=now,
    )
    _apply_configuration(instance, element, config, previous_secrets={})
    instance.configuration_sent = _sent_values({}, body.configuration, element)
    _apply_tokens(instance, tokens)
    if imported:
        await _refresh_imported(instance, element)
    session.add(instance)
    await session.flush()
    await _start_or_stop_events(session, instance, element, config, new=True)
    await _load_relations(session, instance, element)
    return instance


async def _load_relations(session: AsyncSession, instance: Instance, element: Element) -> None:
    # What the answer shows of a new instance, without re-reading its row: its custom
    # element, or none for a built-in one — a tenth of a creation's CPU went to a full
    # refresh. Its user is the caller, whom the answer names from authentication (``owner``).
    if get_element(element.key) is None:
        await session.refresh(instance, ["custom_element"])
        return
    set_committed_value(instance, "custom_element", None)


async def list_instances(
    session: AsyncSession,
    caller: Caller,
    tags: list[str] | None = None,
    *,
    element: Element | None = None,
) -> list[Instance]:
    """The caller's organization's instances, optionally only those carrying all ``tags``
    (and only those of ``element``)."""
    query = (
        select(Instance)
        .where(Instance.organization_id == caller.organization_id)
        .options(selectinload(Instance.user))
        .order_by(Instance.id)
    )
    if element is not None:
        query = query.where(Instance.element_key == element.key)
    if caller.element_token:
        query = query.where(Instance.token_hash == hash_secret(caller.element_token))
    instances = list(await session.scalars(query))
    if tags:
        wanted = set(tags)
        instances = [i for i in instances if wanted <= set(i.tags)]
    return instances


async def get_instance(
    session: AsyncSession, caller: Caller, instance_id: int, *, element: Element | None = None
) -> Instance:
    """One of the caller's instances; another organization's (or, when ``element`` is
    given, another element's) is :class:`NotFound`."""
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
    wrong_element = (
        instance is not None and element is not None and instance.element_key != element.key
    )
    if instance is None or wrong_token or wrong_element:
        raise NotFound(f"No instance found with ID {instance_id}")
    return instance


async def token_instance(session: AsyncSession, caller: Caller) -> Instance:
    """The instance named by the caller's ``Element`` token (the id-less routes)."""
    if not caller.element_token:
        raise Unauthorized(
            "This call takes its instance from the Authorization header: add "
            "', Element <instance token>'"
        )
    instance = await session.scalar(
        select(Instance)
        .where(
            Instance.organization_id == caller.organization_id,
            Instance.token_hash == hash_secret(caller.element_token),
        )
        .options(selectinload(Instance.user))
    )
    if instance is None:
        raise Unauthorized("Invalid Organization or User secret, or invalid Element token")
    return instance


async def named_instance(session: AsyncSession, caller: Caller) -> Instance | None:
    """The ``Element`` token's instance when the caller names one; None when the call is
    about the whole organization."""
    return await token_instance(session, caller) if caller.element_token else None


async def update_instance(
    session: AsyncSession, instance: Instance, body: InstanceUpdate
) -> Instance:
    """Change name, tags or configuration (partially), or re-authenticate with a new code
    (or, with ``externalAuthentication: "initial"``, with tokens in the configuration) of
    an instance the caller may change (:func:`get_instance`, :func:`token_instance`)."""
    _refuse_while_draining(instance)
    check_sizes(body.tags, None)
    if body.name is not None:
        instance.name = body.name
    if body.tags is not None:
        instance.tags = list(body.tags)
    if (
        body.configuration is not None
        or _has_code(body.providerData)
        or body.externalAuthentication == EXTERNAL_INITIAL
    ):
        await _reconfigure(
            session,
            instance,
            body.configuration or {},
            body.providerData,
            imported=body.externalAuthentication == EXTERNAL_INITIAL,
            replace=False,
        )
    instance.updated_at = clock.now()
    await session.flush()
    return instance


async def replace_instance(
    session: AsyncSession, caller: Caller, instance: Instance, body: InstanceCreate
) -> Instance:
    """``PUT``: the caller's instance becomes what ``body`` says (name, tags, the whole
    configuration); with ``providerData.code`` it is re-provisioned. Secrets echoed back
    as ``********`` and the instance's tokens are kept."""
    _refuse_while_draining(instance)
    own = element_of(instance)
    if (
        body.element is not None
        and (await _body_element(session, caller, body, None)).key != own.key
    ):
        raise BadRequest(f"element 'key': instance {instance.id} is an instance of {own.key}")
    check_sizes(body.tags, body.configuration)
    instance.name = body.name
    instance.tags = list(body.tags)
    await _reconfigure(
        session,
        instance,
        body.configuration,
        body.providerData,
        imported=body.externalAuthentication == EXTERNAL_INITIAL,
        replace=True,
    )
    instance.updated_at = clock.now()
    await session.flush()
    return instance


async def set_enabled(session: AsyncSession, instance: Instance, *, enabled: bool) -> Instance:
    """Enable or disable an instance. A disabled one is neither polled nor delivered to —
    its notifications wait, and its provider subscriptions stay — and picks up where it
    stopped when enabled again."""
    instance.disabled = not enabled
    instance.updated_at = clock.now()
    await session.flush()
    return instance


async def _reconfigure(
    session: AsyncSession,
    instance: Instance,
    changes: dict[str, Any],
    provider_data: ProviderData | None,
    *,
    imported: bool,
    replace: bool,
) -> None:
    element = element_of(instance)
    merged = _merge_configuration(instance, changes, replace=replace)
    check_sizes(None, merged)
    config = parse_configuration(element, merged)
    await _check_outbound_urls(element, config)
    tokens = _imported_tokens(element, config) if imported else None
    if tokens is None and _has_code(provider_data):
        tokens = await _authorize(element, config, provider_data)
    _apply_configuration(instance, element, config, previous_secrets=instance.secrets)
    instance.configuration_sent = _sent_values(
        {} if replace else instance.configuration_sent or {}, changes, element
    )
    if tokens is not None:
        _apply_tokens(instance, tokens)
        instance.valid, instance.invalid_reason = True, None
        if imported:
            instance.external_authentication = EXTERNAL_INITIAL
            await _refresh_imported(instance, element)
    await _start_or_stop_events(session, instance, element, config)


@dataclass(frozen=True)
class Deletion:
    """What ``DELETE /instances/{id}`` did: deleted now (dropping ``undelivered``
    callbacks), or deferred until those ``undelivered`` callbacks are delivered."""

    deleted: bool
    undelivered: int


async def delete_instance(
    session: AsyncSession, instance: Instance, *, drain: bool = False
) -> Deletion:
    """Remove an instance and everything that hangs off it, or, with ``drain`` and
    callbacks still to deliver, stop its events now and delete it once they are delivered
    (or have failed for good): see :func:`delete_drained_instances`."""
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


def _refuse_while_draining(instance: Instance) -> None:
    if is_draining(instance):
        raise Conflict(
            f"Instance {instance.id} is being deleted once its pending callbacks are "
            "delivered; DELETE it again without drain to delete it now"
        )


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
    """The configuration as the API shows it: values as the client sent them (``"15"``,
    ``"true"``) where it sent them, every secret as ``********`` — also a key its custom
    element has declared secret, or whose name says secret, since the value was stored."""
    element = _element_of(instance)
    shown = dict(instance.configuration)
    for key, value in (instance.configuration_sent or {}).items():
        if key in shown and _is_scalar(value) and _is_scalar(shown[key]):
            shown[key] = value
    shown.update({key: MASK for key in shown if is_secret_key(key, element)})
    shown.update({key: MASK for key in instance.secrets})
    return shown


@dataclass(frozen=True)
class ConfigurationEntry:
    """One configuration key of an instance, as ``/instances/{id}/configuration`` lists it."""

    id: int
    key: str
    propertyValue: str | None


def configuration_entries(instance: Instance) -> list[ConfigurationEntry]:
    """Every configuration key the instance has or could have, with its value as text."""
    element = element_of(instance)
    shown = shown_configuration(instance)
    listed = [
        field.alias
        for field in InstanceConfiguration.model_fields.values()
        if field.alias and not field.alias.startswith(keys.USER_KEY_PREFIX)
    ]
    if element.event_mechanism != "polling":
        listed = [key for key in listed if not key.startswith(keys.POLLER_KEY_PREFIX)]
    listed += [*element.required_configuration, *shown]
    return [
        ConfigurationEntry(configuration_id(key), key, _as_text(shown.get(key)))
        for key in dict.fromkeys(listed)
    ]


def configuration_entry(instance: Instance, config_id: str) -> ConfigurationEntry:
    """One entry, by the id ``/configuration`` gave (or by its key)."""
    for entry in configuration_entries(instance):
        if config_id in (str(entry.id), entry.key):
            return entry
    raise NotFound(f"No configuration found with ID {config_id} for instance {instance.id}")


async def set_configuration_entry(
    session: AsyncSession,
    instance: Instance,
    config_id: str,
    value: Any,
    *,
    key: str | None = None,
) -> ConfigurationEntry:
    """Set one entry's value (``None`` removes the key), validated like any configuration
    change; ``key``, when the client echoes it, must be the entry's."""
    entry = configuration_entry(instance, config_id)
    if key is not None and key != entry.key:
        raise BadRequest(f"'key': configuration {config_id} is '{entry.key}', not '{key}'")
    body = InstanceUpdate(configuration={entry.key: value})
    instance = await update_instance(session, instance, body)
    return configuration_entry(instance, entry.key)


def configuration_id(key: str) -> int:
    """A configuration entry's id: stable for its key, as the original's ids were."""
    return zlib.crc32(key.encode()) & 0x7FFFFFFF


async def element_for_path(session: AsyncSession, caller: Caller, key_or_id: str) -> Element:
    """The element of ``/elements/{keyOrId}/...``; an unknown one is :class:`NotFound`."""
    return await element_or_404(session, caller.organization_id, key_or_id)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _as_text(value: Any) -> str | None:
    # The original keeps every configuration value as text: "true", "15", JSON for objects.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _sent_values(
    previous: dict[str, Any], changes: dict[str, Any], element: Element
) -> dict[str, Any]:
    sent = dict(previous)
    for key, value in changes.items():
        if value is None or is_secret_key(key, element):
            sent.pop(key, None)
        else:
            sent[key] = value
    return sent


async def _body_element(
    session: AsyncSession, caller: Caller, body: InstanceCreate, from_path: Element | None
) -> Element:
    if body.element is None:
        if from_path is None:
            raise BadRequest("'element': required: {\"key\": …}, a key GET /elements lists")
        return from_path
    named = body.element.key or str(body.element.id)
    element = await _element(session, caller, named)
    if from_path is not None and element.key != from_path.key:
        raise BadRequest(f"element 'key': '{named}' is not the element of the path")
    return element


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


def _imported_tokens(element: Element, config: InstanceConfiguration) -> TokenSet:
    """The tokens of ``externalAuthentication: "initial"``, checked as a refresh will need."""
    if not (config.user_token or config.user_refresh_token):
        raise BadRequest(
            f"configuration '{keys.REFRESH_TOKEN}' (or '{keys.ACCESS_TOKEN}') is required "
            "with 'externalAuthentication': 'initial'"
        )
    for key, value in (
        (keys.OAUTH_API_KEY, config.oauth_api_key),
        (keys.OAUTH_API_SECRET, config.oauth_api_secret),
    ):
        if not value:
            raise BadRequest(f"configuration '{key}' is required to refresh {element.key} tokens")
    expires_at = None
    if config.user_refresh_time is not None and config.user_refresh_interval is not None:
        obtained = datetime.fromtimestamp(config.user_refresh_time / 1000, UTC)
        expires_at = obtained + timedelta(seconds=config.user_refresh_interval)
    return TokenSet(config.user_token or "", config.user_refresh_token, expires_at, None)


async def _refresh_imported(instance: Instance, element: Element) -> None:
    # An imported access token that is missing or stale is refreshed now, so the first poll
    # (due at once) and any webhook subscription start with a working token.
    if not needs_refresh(instance):
        return
    # A refusal marks it invalid with the provider's reason; the client re-authenticates it.
    with contextlib.suppress(InstanceInvalid):
        await refresh_instance_tokens(instance, element)


def _merge_configuration(
    instance: Instance, changes: dict[str, Any], *, replace: bool
) -> dict[str, Any]:
    if replace:
        # A full update keeps only what pollhub itself stored (the provider's subscription
        # ids) and the secrets a client may echo back masked.
        kept = {k: v for k, v in instance.configuration.items() if k == keys.SUBSCRIPTION_IDS}
        merged = {**kept, **{k: v for k, v in instance.secrets.items() if k in changes}}
    else:
        merged = {**instance.configuration, **instance.secrets}
    for key in keys.USER_TOKENS:
        merged.pop(key, None)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif value == MASK and key in merged:
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
    secrets = {k: v for k, v in previous_secrets.items() if k.startswith(keys.USER_KEY_PREFIX)}
    plain: dict[str, Any] = {}
    for key, value in values.items():
        (secrets if is_secret_key(key, element) else plain)[key] = value
    instance.configuration = plain
    instance.secrets = secrets
    instance.events_enabled = config.events_enabled


async def _start_or_stop_events(
    session: AsyncSession,
    instance: Instance,
    element: Element,
    config: InstanceConfiguration,
    *,
    new: bool = False,
) -> None:
    """Start, re-plan or stop the instance's polls (workers see it at their next tick), or
    create or delete its provider webhook subscriptions. A ``new`` instance has neither
    yet, so nothing is read back."""
    if element.polls and config.events_enabled:
        resources = effective_poller_configuration(element, config)
        interval = config.refresh_interval_seconds()
        await sync_poll_states(session, instance, resources, interval, new=new)
        return
    if not new:
        await forget_poll_states(session, instance.id)
    subscribed = not new and await webhooks.has_subscriptions(session, instance.id)
    if not element.polls and config.events_enabled and not subscribed:
        if instance.valid:  # an invalid instance's token cannot subscribe
            await webhooks.subscribe(session, instance, element)
    elif not config.events_enabled and subscribed:
        await webhooks.unsubscribe(session, instance)


def _apply_tokens(instance: Instance, tokens: TokenSet | None) -> None:
    if tokens is None:
        return
    instance.secrets = keys.with_tokens(instance.secrets, tokens.access_token, tokens.refresh_token)
    instance.access_token_expires_at = tokens.expires_at
