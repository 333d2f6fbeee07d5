"""Reading an instance's hub resources on behalf of a caller holding its token.

``GET /hubs/{hub}/{resource…}`` runs the resource layer of :mod:`pollhub.elements.hub`
for the instance the ``Element`` token names, so a poller ``url`` is a call anyone with
the token can make to see what the poller sees.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance
from pollhub.elements import element_of, where
from pollhub.elements.base import Element
from pollhub.elements.credentials import MissingCredentials
from pollhub.elements.http import ProviderApi, ProviderError, ProviderNotFound, ProviderUnauthorized
from pollhub.elements.hub import HubPathError, get_object, list_page, plan_call
from pollhub.errors import BadRequest, Forbidden, NotFound, Unauthorized
from pollhub.instances.service import token_instance
from pollhub.oauth.client import ProviderUnavailable
from pollhub.oauth.credentials import instance_credentials
from pollhub.oauth.tokens import InstanceInvalid, TokenKeeper
from pollhub.outbound.clients import provider_client
from pollhub.tenancy.service import Caller

PROVIDER_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_PAGE_SIZE = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class HubPage:
    """One page of a hub list and the token of the next (None: the last page)."""

    objects: list[dict[str, Any]]
    next_page: str | None


async def instance_for_token(session: AsyncSession, caller: Caller) -> Instance:
    """The caller's instance the ``Element`` token names (another organization's: 401);
    a disabled instance's hub answers 403, as Cloud Elements' did."""
    instance = await token_instance(session, caller)
    if instance.disabled:
        raise Forbidden(
            f"instance {instance.id} is disabled; enable it with PUT /instances/enabled"
        )
    return instance


def _element(instance: Instance, hub: str) -> Element:
    element = element_of(instance)
    if element is None or element.hub != hub:
        raise NotFound(f"instance {instance.id} has no '{hub}' hub")
    return element


async def read_list(
    tokens: TokenKeeper,
    instance: Instance,
    *,
    hub: str,
    path: str,
    where_clause: str | None,
    page_size: int | None,
    next_page: str | None,
    page: int | None,
) -> HubPage:
    """A page of a hub list (a fanned-out path, a literal ``{calendarId}``, pages through
    each parent's list in turn)."""
    element = _element(instance, hub)
    try:
        call = plan_call(element, path, where_clause)
        call.check_applied_fields()
    except HubPathError as exc:
        raise NotFound(str(exc)) from None
    except where.WhereError as exc:
        raise BadRequest(f"'where': {exc}") from None
    configuration = dict(instance.configuration)

    async def run(api: ProviderApi) -> HubPage:
        token = _decode(next_page) if next_page else None
        for _ in range((page or 1) - 1 if token is None else 0):
            skipped = await list_page(api, call, configuration, page_size=page_size, token=token)
            if skipped.next_token is None:
                return HubPage([], None)
            token = skipped.next_token
        found = await list_page(api, call, configuration, page_size=page_size, token=token)
        return HubPage(found.objects, _encode(found.next_token) if found.next_token else None)

    return await _with_provider(tokens, element, instance, run)


async def read_one(
    tokens: TokenKeeper, instance: Instance, *, hub: str, path: str
) -> dict[str, Any]:
    """One object: ``…/{resource}/{id}``."""
    element = _element(instance, hub)
    match = element.find_resource(path, objects=True)
    if match is None or match.object_id is None:
        raise NotFound(f"{element.key} has no object at '{path}'")
    configuration = dict(instance.configuration)

    async def run(api: ProviderApi) -> dict[str, Any]:
        return await get_object(api, element, match, configuration)

    return await _with_provider(tokens, element, instance, run)


async def _with_provider(
    tokens: TokenKeeper,
    element: Element,
    instance: Instance,
    run: Callable[[ProviderApi], Awaitable[T]],
) -> T:
    try:
        if not element.uses_oauth:
            async with provider_client(timeout=PROVIDER_TIMEOUT) as http:
                return await run(ProviderApi(http, auth=instance_credentials(element, instance)))
        token = await tokens.access_token(instance.id)
        async with provider_client(timeout=PROVIDER_TIMEOUT) as http:
            try:
                return await run(ProviderApi(http, token))
            except ProviderUnauthorized:
                token = await tokens.access_token(instance.id, stale=token)
                return await run(ProviderApi(http, token))
    except (InstanceInvalid, MissingCredentials) as exc:
        raise Unauthorized(f"instance {instance.id} must be authorized again ({exc})") from None
    except ProviderNotFound as exc:
        raise NotFound("the provider has no such object", provider_message=str(exc)) from None
    except HubPathError as exc:
        raise BadRequest(str(exc)) from None
    except ProviderError as exc:
        raise ProviderUnavailable("the provider call failed", provider_message=str(exc)) from None


def _encode(token: str) -> str:
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise BadRequest("'nextPage' is not a page token this API gave") from None
