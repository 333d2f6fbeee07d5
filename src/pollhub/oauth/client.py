"""Talking OAuth 2.0 to a provider's token endpoint, with authlib's httpx client."""

from __future__ import annotations

import asyncio
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

from pollhub.clock import clock
from pollhub.elements.base import Element
from pollhub.errors import BadRequest, PollhubError
from pollhub.outbound.clients import fast_provider_transport
from pollhub.outbound.policy import allow_private_addresses, refusal_in

# authlib 1.9 prefers its httpx2 fork and warns when it falls back to httpx, which is what
# we want: respx (our tests' provider mock) intercepts httpx. authlib.deprecate forces its
# warnings to "always" when imported, so this filter must come after that import.
warnings.filterwarnings(
    "ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning
)
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # noqa: E402

TOKEN_TIMEOUT_SECONDS = 15


class ProviderUnavailable(PollhubError):
    """The provider could not be reached or answered nonsense."""

    status = 502


@dataclass(frozen=True)
class ClientApp:
    """The client application registered at the provider (``oauth.api.*`` configuration)."""

    client_id: str
    client_secret: str
    redirect_uri: str | None
    scope: str


@dataclass(frozen=True)
class TokenSet:
    """Tokens granted by a provider."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str | None


async def exchange_code(
    element: Element, configuration: Mapping[str, Any], app: ClientApp, code: str
) -> TokenSet:
    """Exchange an authorization code for tokens (RFC 6749 section 4.1.3).

    A provider's refusal (``invalid_grant`` and the like) is a :class:`BadRequest` carrying
    the provider's reason; an unreachable provider is :class:`ProviderUnavailable`.
    """
    token_url = element.token_endpoint(configuration)
    client = _client(app)
    try:
        token = await client.fetch_token(token_url, grant_type="authorization_code", code=code)
    except OAuthError as exc:
        raise _refused("authorization code", element, exc) from exc
    except httpx.HTTPError as exc:
        raise _unreachable(element, token_url, exc) from exc
    return _token_set(element, token, previous_refresh_token=None)


async def refresh_tokens(
    element: Element, configuration: Mapping[str, Any], app: ClientApp, refresh_token: str
) -> TokenSet:
    """Get a new access token with a refresh token (RFC 6749 section 6).

    The returned set carries the provider's new refresh token where it rotates them, else
    the one given. A refusal is a :class:`BadRequest` with the provider's reason.
    """
    token_url = element.token_endpoint(configuration)
    client = _client(app)
    try:
        token = await client.refresh_token(token_url, refresh_token=refresh_token)
    except OAuthError as exc:
        raise _refused("refresh token", element, exc) from exc
    except httpx.HTTPError as exc:
        raise _unreachable(element, token_url, exc) from exc
    return _token_set(element, token, previous_refresh_token=refresh_token)


def _client(app: ClientApp) -> AsyncOAuth2Client:
    # Microsoft and Google document the client credentials in the form body. Not closed
    # after use: its connections belong to the shared pool.
    return AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        token_endpoint_auth_method="client_secret_post",
        redirect_uri=app.redirect_uri,
        scope=app.scope,
        timeout=TOKEN_TIMEOUT_SECONDS,
        # The token endpoint's host may come from configuration (docushare.domain).
        transport=_shared_transport(),
        trust_env=False,
    )


def _unreachable(element: Element, token_url: str, exc: httpx.HTTPError) -> PollhubError:
    refused = refusal_in(exc)
    if refused is not None:
        return BadRequest(f"{element.name} token endpoint {refused}")
    return ProviderUnavailable(
        f"{element.name} token endpoint {token_url} could not be reached: {type(exc).__name__}"
    )


def _shared_transport() -> httpx.AsyncBaseTransport:
    """One provider transport (connection pool) per event loop for every token request.

    A client with a transport of its own per request would build TLS contexts each time
    (loading the CA bundle: 40-150 ms of CPU, most of the cost of creating an instance)
    and open a new connection to the token endpoint. On aiohttp, as polling: httpx's own
    pool cost a fifth of an instance creation's CPU (``bench/onboarding.py``).
    """
    allow = allow_private_addresses()
    transports = _transports.setdefault(asyncio.get_running_loop(), {})
    if allow not in transports:
        transports[allow] = fast_provider_transport(allow_private=allow)
    return transports[allow]


async def close_token_transports() -> None:
    """Close this event loop's shared token transports and their connections (at
    shutdown: an aiohttp session left open warns when it is collected)."""
    for transport in _transports.pop(asyncio.get_running_loop(), {}).values():
        await transport.aclose()


_transports: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[bool, httpx.AsyncBaseTransport]
] = weakref.WeakKeyDictionary()


def _refused(what: str, element: Element, exc: OAuthError) -> BadRequest:
    reason = exc.error or "error"
    if exc.description:
        reason = f"{reason}: {exc.description}"
    return BadRequest(f"{element.name} refused the {what} ({reason})", provider_message=reason)


def _token_set(
    element: Element, token: Mapping[str, Any], previous_refresh_token: str | None
) -> TokenSet:
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderUnavailable(f"{element.name} token endpoint returned no access_token")
    expires_in = token.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | float | str) and str(expires_in).isdecimal():
        expires_at = clock.now() + timedelta(seconds=int(expires_in))
    # Providers that do not rotate refresh tokens (Google) send none on refresh.
    refresh_token = token.get("refresh_token") or previous_refresh_token
    return TokenSet(access_token, refresh_token, expires_at, token.get("scope"))
