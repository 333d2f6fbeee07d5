"""FastAPI dependencies and request helpers shared by the simulated providers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import Request

from pollhub.sandbox.errors import Provider, ProviderError, bad_request, unauthorized
from pollhub.sandbox.faults import fault_error
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.tokens import AccessGrant


def get_state(request: Request) -> SandboxState:
    """The sandbox state of the app serving this request."""
    return cast(SandboxState, request.app.state.sandbox)


LOGIN_PROVIDERS: tuple[Provider, ...] = ("microsoft-login", "google-oauth")


def fault_gate(provider: Provider) -> Callable[[Request], Awaitable[None]]:
    """A dependency that applies the next armed fault for ``provider``, if any."""

    async def gate(request: Request) -> None:
        # An expired access token is refused only where one is presented: DocuShare Flex's
        # and Dropbox's token endpoints share their API's host and provider, and a refresh
        # there must not be refused for it. The login providers' own "expired_token" is a
        # refused refresh token (faults.fault_error).
        presented = provider in LOGIN_PROVIDERS or request.headers.get(
            "authorization", ""
        ).lower().startswith("bearer ")
        fault = get_state(request).faults.take(provider, access_token=presented)
        if fault is None:
            return
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_seconds)
            return
        raise fault_error(provider, fault)

    return gate


def realm_of(provider: Provider, request: Request) -> str:
    """The authorization server whose tokens this provider's API accepts."""
    if provider == "graph":
        return "microsoft"
    if provider in ("google", "dropbox"):
        return provider
    return f"docushare:{request.path_params['domain'].lower()}"


def access_token_check(provider: Provider) -> Callable[[Request], Awaitable[AccessGrant]]:
    """A dependency that admits only a valid ``Authorization: Bearer`` access token."""

    async def check(request: Request) -> AccessGrant:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        if not token and provider == "google":
            # Google also takes the token as a query parameter.
            token = request.query_params.get("access_token", "")
        realm = realm_of(provider, request)
        if not token:
            raise unauthorized(provider, reason="missing", realm_hint=realm)
        grant, expired = get_state(request).tokens.verify(realm, token)
        if grant is None:
            raise unauthorized(
                provider, reason="expired" if expired else "invalid", realm_hint=realm
            )
        return grant

    return check


def provider_base(request: Request, host: str) -> str:
    """The absolute URL at which ``https://{host}`` is served, e.g.
    ``http://127.0.0.1:8000/sandbox/graph.microsoft.com`` — links the sandbox returns
    point wherever it is mounted."""
    url = str(request.url.replace(query="", fragment=""))
    marker = f"/{host}/"
    index = url.find(marker)
    if index < 0:
        return url.rstrip("/")
    return url[: index + len(marker) - 1]


def int_query(
    request: Request,
    name: str,
    default: int,
    *,
    minimum: int,
    maximum: int,
    error: Callable[[str], ProviderError],
) -> int:
    """An integer query parameter, clamped to ``maximum`` as the providers do."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise error(f"Invalid value '{raw}' for {name}.") from None
    if value < minimum:
        raise error(f"Invalid value '{raw}' for {name}.")
    return min(value, maximum)


def bool_query(request: Request, name: str, provider: Provider) -> bool:
    """A ``true``/``false`` query parameter (absent means false)."""
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise bad_request(provider, f"Invalid value '{raw}' for {name}.")
    return raw == "true"
