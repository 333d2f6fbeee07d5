"""aiohttp connectors that keep to the address policy (callbacks and the polling hot path).

Two locks on one door: :class:`GuardedResolver` refuses a whole host as soon as any of its
addresses is forbidden (a clear message before anything is attempted), and
:func:`guarded_socket` checks the very address each socket is about to ``connect()`` to —
which is also where IP literals, which aiohttp never resolves, are caught.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from pollhub.outbound.policy import allow_private_addresses, check_address


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing every host that resolves to a forbidden address."""

    def __init__(self) -> None:
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and return its addresses, or raise ``AddressRefused``."""
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            check_address(ipaddress.ip_address(result["host"]), host)
        return results

    async def close(self) -> None:
        """Release the underlying resolver."""
        await self._resolver.close()


def guarded_socket(addr_info: Any) -> socket.socket:
    """A socket for ``addr_info``, or ``AddressRefused`` if its address is forbidden."""
    family, type_, proto, _, sockaddr = addr_info
    address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
    check_address(address, str(address))
    return socket.socket(family=family, type=type_, proto=proto)


def guarded_connector(*, allow_private: bool | None = None, **options: Any) -> aiohttp.TCPConnector:
    """A ``TCPConnector`` (``options`` as aiohttp takes them) that obeys the address policy;
    ``allow_private`` defaults to ``POLLHUB_ALLOW_PRIVATE_ADDRESSES``."""
    if allow_private is None:
        allow_private = allow_private_addresses()
    if allow_private:
        return aiohttp.TCPConnector(**options)
    return aiohttp.TCPConnector(
        resolver=GuardedResolver(), socket_factory=guarded_socket, **options
    )
