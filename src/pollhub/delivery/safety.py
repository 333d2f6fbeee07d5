"""Callback URL safety: a hosted pollhub must not be turned against its own network.

A callback URL whose host is, or resolves to, a loopback, private, link-local, shared
(CGNAT), multicast, reserved or cloud-metadata address is refused unless
``POLLHUB_ALLOW_PRIVATE_CALLBACKS`` is set. It is checked twice:

* when an instance is created or its configuration changed (:func:`check_callback_url`),
  a clear 400 naming ``event.notification.callback.url``; a name that does not resolve then
  is accepted (DNS may not be reachable, or the name not yet published) and checked later;
* at every delivery, after DNS: :class:`GuardedResolver` resolves the name, refuses the
  whole host if any address is forbidden, and hands aiohttp exactly the addresses it
  checked, so the connection goes to a checked IP and a DNS answer that changes between
  check and connect (DNS rebinding) gains nothing. IP literals, which aiohttp does not
  resolve, are checked by :func:`check_literal_host` before the request. Redirects are never
  followed (a 3xx is a failed attempt), so there is no second host to check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from pollhub.db.configuration import CALLBACK_URL
from pollhub.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_RESOLVE_TIMEOUT_SECONDS = 3.0
# Cloud metadata and host-agent addresses; several are public-looking, so named one by one.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "168.63.129.16",  # Azure wire server and DNS
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class CallbackRefused(Exception):
    """A callback's host is, or resolves to, an address pollhub must not call."""


def refusal_reason(address: IPAddress) -> str | None:
    """Why pollhub must not call ``address``, or None when it may."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for embedded in _embedded_ipv4(address):
        reason = refusal_reason(embedded)
        if reason:
            return reason
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        # What is left and still not global: shared (CGNAT), benchmarking, documentation…
        (not address.is_global, "a non-public address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def check_literal_host(url: str, *, allow_private: bool) -> None:
    """Refuse ``url`` if its host is an IP literal pollhub must not call (delivery time)."""
    host = urlsplit(url).hostname or ""
    address = _as_address(host)
    if address is None or allow_private:
        return
    reason = refusal_reason(address)
    if reason:
        raise CallbackRefused(f"callback host {host} is {reason}; refused (SSRF protection)")


async def check_callback_url(url: str | None, *, allow_private: bool) -> None:
    """Refuse, with a 400 naming the key, a callback URL that points into a private network.

    A host name that does not resolve now is accepted; it is checked again at delivery.
    """
    if not url or allow_private:
        return
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    address = _as_address(host)
    if address is not None:
        addresses = [address]
    elif host == "localhost" or host.endswith(".localhost"):
        addresses = [ipaddress.ip_address("127.0.0.1")]  # RFC 6761: always loopback
    else:
        addresses = await _resolve_quietly(host)
    for candidate in addresses:
        reason = refusal_reason(candidate)
        if reason:
            resolved = "" if str(candidate) == host else f" resolves to {candidate}, which"
            raise BadRequest(
                f"configuration '{CALLBACK_URL}': host {host}{resolved} is {reason}; "
                "callbacks to loopback, private, link-local or metadata addresses are "
                "refused (set POLLHUB_ALLOW_PRIVATE_CALLBACKS=true to allow them)"
            )


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing every host that resolves to a forbidden address.

    aiohttp connects to exactly the addresses a resolver returns, so what is checked here
    is what is connected to.
    """

    def __init__(self) -> None:
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and return its addresses, or raise :class:`CallbackRefused`."""
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"])
            reason = refusal_reason(address)
            if reason:
                raise CallbackRefused(
                    f"callback host {host} resolves to {address}, which is {reason}; "
                    "refused (SSRF protection)"
                )
        return results

    async def close(self) -> None:
        """Release the underlying resolver."""
        await self._resolver.close()


def _as_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    # An IPv6 address can carry an IPv4 one that the network stack will reach.
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        embedded.append(address.teredo[1])
    if address in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [e for e in embedded if e is not None]


async def _resolve_quietly(host: str) -> list[IPAddress]:
    try:
        infos: list[Any] = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM),
            _RESOLVE_TIMEOUT_SECONDS,
        )
    except (OSError, TimeoutError):
        return []
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
