"""httpx clients for provider requests, keeping to the address policy.

:func:`provider_client` is what every provider call uses (token exchange and refresh
through authlib, subscriptions, object fetches); :func:`fast_provider_client` is the same
on a bare aiohttp session for the polling hot path. Both refuse a forbidden address at the
socket, follow no proxy from the environment (the check is on the address actually
connected to), and — as they are the only way out — cover the links providers return
(``@odata.nextLink``, ``next``) too.

None of them keeps cookies. One client serves every instance of every organization (a
worker's polls, its subscription upkeep, a process's token requests, its callbacks), so a
cookie one user's session at a provider set — or one client's callback receiver — would
otherwise go out with the next user's requests to that host.
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import aiohttp
import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpx_aiohttp import AiohttpTransport

from pollhub.outbound.connectors import guarded_connector
from pollhub.outbound.policy import (
    AddressRefused,
    allow_private_addresses,
    as_address,
    check_address,
    resolve,
)


class GuardedNetworkBackend(AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy allows.

    The name is resolved here, every address checked, and the connection made to a
    checked address (TLS still verifies the name): a DNS answer that changes between check
    and connect cannot redirect it.
    """

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        """Connect to ``host`` if, and only if, every address it has is allowed."""
        try:
            address = as_address(host)
            if address is not None:
                check_address(address, host)
                targets = [str(address)]
            else:
                resolved = await resolve(host, port)
                for found, _ in resolved:
                    check_address(found, host)
                targets = list(dict.fromkeys(str(found) for found, _ in resolved))
        except AddressRefused as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
        last: Exception = httpcore.ConnectError(f"{host} has no address")
        for target in targets:
            try:
                return await self._backend.connect_tcp(
                    target, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        """Unix sockets are never a provider's address."""
        raise httpcore.ConnectError("unix sockets are not used for provider requests")

    async def sleep(self, seconds: float) -> None:
        """As the wrapped backend sleeps."""
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's default transport on :class:`GuardedNetworkBackend`."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        if not allow_private:
            self._pool = httpcore.AsyncConnectionPool(
                ssl_context=httpx.create_ssl_context(trust_env=False),
                max_connections=100,
                max_keepalive_connections=20,
                network_backend=GuardedNetworkBackend(),
            )


def provider_transport(*, allow_private: bool | None = None) -> httpx.AsyncBaseTransport:
    """A transport for provider requests; ``allow_private`` defaults to the setting."""
    allow = allow_private_addresses() if allow_private is None else allow_private
    return GuardedTransport(allow_private=allow)


def provider_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (``options`` as httpx takes them) that obeys the policy."""
    return httpx.AsyncClient(
        transport=provider_transport(), trust_env=False, cookies=_no_cookies(), **options
    )


def _no_cookies() -> CookieJar:
    # The standard library's jar with a policy that accepts no domain: it never stores one.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def fast_provider_transport(*, allow_private: bool | None = None) -> httpx.AsyncBaseTransport:
    """:func:`provider_transport` on aiohttp: several times the requests per second of
    httpx's own pool (``bench/``), for the hot paths — polling and token exchanges."""

    return AiohttpTransport(client=lambda: guarded_session(allow_private=allow_private))


def guarded_session(
    *, allow_private: bool | None = None, connections: int | None = None, **options: Any
) -> aiohttp.ClientSession:
    """An aiohttp session (``options`` as aiohttp takes them) that obeys the address policy,
    follows no proxy from the environment and keeps no cookies; ``connections`` bounds its
    pool over all hosts together (aiohttp's default otherwise). ``allow_private`` defaults
    to the setting."""
    limits = {} if connections is None else {"limit": connections, "limit_per_host": 0}
    return aiohttp.ClientSession(
        connector=guarded_connector(allow_private=allow_private, **limits),
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        **options,
    )


class FastProviderClient:
    """Provider requests on a bare aiohttp session, for the polling hot path: httpx's own
    request layer (URL parsing, ``Request`` building, cookies, auth flow) cost half of a
    poll's CPU even on aiohttp's transport (``bench/``); the address policy is the same
    (:func:`guarded_connector`). :class:`pollhub.elements.http.ProviderApi` takes it in
    place of an ``httpx.AsyncClient``. Use as ``async with FastProviderClient(...)``.
    """

    def __init__(self, *, timeout: float = 30.0, connect_timeout: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session (inside ``async with``)."""
        assert self._session is not None, "use FastProviderClient in `async with`"
        return self._session

    async def __aenter__(self) -> FastProviderClient:
        self._session = guarded_session(timeout=self._timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def fast_provider_client(*, timeout: float = 30.0) -> FastProviderClient:
    """A :class:`FastProviderClient` (``timeout`` in seconds, for the whole request)."""
    return FastProviderClient(timeout=timeout)
