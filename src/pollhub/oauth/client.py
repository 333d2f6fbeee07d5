"""Talking OAuth 2.0 to a provider's token endpoint: authlib writes the requests (grant
parameters, client authentication), and they go straight to the shared provider transport."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from pollhub.clock import clock
from pollhub.elements.base import Element
from pollhub.errors import BadRequest, PollhubError
from pollhub.outbound.clients import fast_provider_transport
from pollhub.outbound.policy import allow_private_addresses, refusal_in

TOKEN_TIMEOUT_SECONDS = 15
TIMEOUT = httpx.Timeout(TOKEN_TIMEOUT_SECONDS).as_dict()
TOKEN_REQUEST_HEADERS = {  # authlib's, for a token request
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
}


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
    form = prepare_token_request("authorization_code", code=code, redirect_uri=app.redirect_uri)
    token = await _token_request(element, configuration, app, form, "authorization code")
    return _token_set(element, token, previous_refresh_token=None)


async def refresh_tokens(
    element: Element, configuration: Mapping[str, Any], app: ClientApp, refresh_token: str
) -> TokenSet:
    """Get a new access token with a refresh token (RFC 6749 section 6).

    The returned set carries the provider's new refresh token where it rotates them, else
    the one given. A refusal is a :class:`BadRequest` with the provider's reason.
    """
    form = prepare_token_request(
        "refresh_token", refresh_token=refresh_token, scope=app.scope or None
    )
    token = await _token_request(element, configuration, app, form, "refresh token")
    return _token_set(element, token, previous_refresh_token=refresh_token)


async def _token_request(
    element: Element, configuration: Mapping[str, Any], app: ClientApp, form: str, what: str
) -> Mapping[str, Any]:
    """POST ``form`` to the element's token endpoint; the token response's JSON object.

    Sent on the transport itself, not through an ``httpx.AsyncClient`` (authlib's client is
    one): the client's request layer was a tenth of an instance creation's CPU
    (``bench/onboarding.py``) and a token request needs none of it — no redirects, cookies
    or auth flow. Microsoft and Google document the client credentials in the form body.
    """
    token_url = element.token_endpoint(configuration)
    client = ClientAuth(app.client_id, app.client_secret, "client_secret_post")
    _, headers, body = client.prepare("POST", token_url, dict(TOKEN_REQUEST_HEADERS), form)
    request = httpx.Request(
        "POST", token_url, headers=headers, content=body, extensions={"timeout": TIMEOUT}
    )
    try:
        response = await _shared_transport().handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        raise _unreachable(element, token_url, exc) from exc
    # As authlib reads a token response: a JSON object, maybe an OAuth error.
    token = _json_object(response) if response.status_code < 500 else None
    if token is None:
        raise ProviderUnavailable(
            f"{element.name} token endpoint {token_url} answered HTTP {response.status_code} "
            "without a token response"
        )
    if "error" in token:
        raise _refused(what, element, token)
    return token


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        found = response.json()
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


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


def _refused(what: str, element: Element, token: Mapping[str, Any]) -> BadRequest:
    reason = str(token["error"] or "error")
    if token.get("error_description"):
        reason = f"{reason}: {token['error_description']}"
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
