"""Calling a provider's API with an instance's access token, errors turned into types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import httpx

from pollhub.clock import clock
from pollhub.outbound.clients import FastProviderClient
from pollhub.outbound.policy import refusal_in


class ProviderError(Exception):
    """The provider answered with an error that retrying later may fix (5xx, bad gateway)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProviderThrottled(ProviderError):
    """429 (or 503 with Retry-After): back off for ``retry_after`` seconds."""

    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class ProviderUnauthorized(ProviderError):
    """401: the access token is expired or revoked."""


class ProviderNotFound(ProviderError):
    """404 on a path that should exist (elements decide what it means)."""


class ProviderGone(ProviderError):
    """410: the provider dropped the cursor's state."""


@dataclass(frozen=True)
class ProviderResponse:
    """A provider's JSON answer (an object or an array) and its ``Link: rel=next``."""

    body: Any
    next_link: str | None


class ProviderApi:
    """Calls one provider's JSON API on behalf of one instance."""

    def __init__(
        self,
        client: httpx.AsyncClient | FastProviderClient,
        access_token: str | None = None,
        *,
        auth: httpx.Auth | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Authenticate with an OAuth ``access_token``, or with ``auth`` (an API key,
        basic credentials), or not at all; ``pace`` is awaited before each request (the
        provider's rate limits)."""
        self._client = client
        self._headers = {"Accept": "application/json"}
        if access_token is not None:
            self._headers["Authorization"] = f"Bearer {access_token}"
        self._auth = auth
        self._pace = pace
        # Credentials a provider might echo in an error body, never to be recorded.
        self._secrets = [s for s in (access_token, getattr(auth, "secret", None)) if s]

    async def get_json(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET ``url`` and return its JSON object, or raise a typed :class:`ProviderError`."""
        body = await self.send("GET", url, params=params)
        if body is None:
            raise ProviderError(f"{_where(url)} answered with no content")
        return body

    async def get(self, url: str, params: dict[str, Any] | None = None) -> ProviderResponse:
        """GET ``url``: any JSON body (object or array) and the ``Link`` header's next URL."""
        response = await self._request("GET", url, params=params, json=None)
        body = _json(response, url) if response.content else None
        next_url = response.links.get("next", {}).get("url")
        return ProviderResponse(body, next_url)

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Send a request; the JSON object answered (None for 204), or a typed error."""
        response = await self._request(method, url, params=params, json=json)
        if response.status_code == 204 or not response.content:
            return None
        body = _json(response, url)
        if not isinstance(body, dict):
            raise ProviderError(f"{_where(url)} answered with JSON that is not an object")
        return body

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
    ) -> httpx.Response:
        if self._pace is not None:
            await self._pace()
        if isinstance(self._client, FastProviderClient):
            response = await self._fast_request(self._client, method, url, params, json)
        else:
            try:
                response = await self._client.request(
                    method,
                    url,
                    # An empty dict would replace the URL's own query (a next-page link's).
                    params=params or None,
                    json=json,
                    headers=self._headers,
                    auth=self._auth,
                )
            except httpx.TransportError as exc:
                raise _unreachable(url, exc) from exc
        if response.status_code >= 400:
            raise _error(response, url, self._secrets)
        return response

    async def _fast_request(
        self,
        client: FastProviderClient,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
    ) -> httpx.Response:
        # The same request on aiohttp directly; the answer as an httpx.Response, so that
        # everything after this reads one type.
        headers = self._headers
        if self._auth is not None:  # an API key or basic credentials: httpx's own flow
            signed = next(
                self._auth.sync_auth_flow(
                    httpx.Request(method, url, params=params, headers=headers)
                )
            )
            url, params, headers = str(signed.url), None, dict(signed.headers)
        query = [
            (name, _query_value(item))
            for name, value in (params or {}).items()
            # A list is the parameter repeated, as httpx writes it (Gmail's historyTypes).
            for item in (value if isinstance(value, list | tuple) else [value])
        ]
        # Parameters replace the URL's own query, as httpx does (a next link carries its own).
        target = url.split("?", 1)[0] if query else url
        try:
            async with client.session.request(
                method, target, params=query or None, json=json, headers=headers
            ) as answer:
                content = await answer.read()
                return httpx.Response(
                    answer.status, headers=list(answer.headers.items()), content=content
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _unreachable(url, exc) from exc


def _query_value(value: Any) -> str:
    # As httpx writes a query value (aiohttp takes only str and numbers).
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def _json(response: httpx.Response, url: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(f"{_where(url)} answered with something other than JSON") from exc


def _unreachable(url: str, exc: Exception) -> ProviderError:
    refused = refusal_in(exc)  # checked first: aiohttp reports it as a timeout
    if refused is not None:
        return ProviderError(f"could not reach {_where(url)}: {refused}")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ProviderError(f"timed out calling {_where(url)}")
    return ProviderError(f"could not reach {_where(url)}: {type(exc).__name__}")


def _where(url: str) -> str:
    return str(httpx.URL(url).copy_with(query=None))


def _error(response: httpx.Response, url: str, secrets: list[str]) -> ProviderError:
    status = response.status_code
    detail = _detail(response)
    for secret in secrets:
        detail = detail.replace(secret, "********")
    message = f"{_where(url)} answered {status}: {detail}"
    if status == 401:
        return ProviderUnauthorized(message, status)
    if status == 429 or (status == 503 and "Retry-After" in response.headers):
        return ProviderThrottled(message, status, retry_after(response))
    if status == 404:
        return ProviderNotFound(message, status)
    if status == 410:
        return ProviderGone(message, status)
    return ProviderError(message, status)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)[:200]
    return str(error or body)[:200]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None
