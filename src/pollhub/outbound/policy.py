"""The outbound address policy: a hosted pollhub must not be turned against its own network.

A host that is, or resolves to, a loopback, private, link-local, shared (CGNAT), multicast,
reserved or cloud-metadata address is refused unless ``POLLHUB_ALLOW_PRIVATE_ADDRESSES``
(older name ``POLLHUB_ALLOW_PRIVATE_CALLBACKS``) is set. It is enforced twice:

* when a URL is configured (:func:`check_outbound_url`): a clear 400 naming the
  configuration key. The host is read exactly as the HTTP clients will read it (yarl's
  IDNA/UTS-46 normalisation, which turns "12" + SEGMENTED DIGIT SEVEN + ".0.0.1" into
  ``127.0.0.1``); a host that is not ASCII after that, or not a valid DNS name, is
  refused outright. A name that does not resolve yet is accepted (DNS may not be
  reachable, or the name not yet published);
* on every connection (:mod:`.connectors`, :mod:`.clients`): the address of the socket
  being connected is checked just before ``connect()`` — IP literals included — so neither
  a late DNS answer (rebinding) nor a spelling the checks above did not foresee gains
  anything.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from functools import lru_cache
from typing import Any

import idna
from yarl import URL

from pollhub.errors import BadRequest
from pollhub.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SETTING = "POLLHUB_ALLOW_PRIVATE_ADDRESSES"
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
# Letters, digits, hyphens (and the underscore some internal names carry), 1-63 per label.
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class AddressRefused(OSError):
    """A host is, or resolves to, an address pollhub must not call.

    An ``OSError``, so every HTTP stack treats it as a connection that failed.
    """


def allow_private_addresses() -> bool:
    """Whether the operator allows outbound requests to non-public addresses."""
    return bool(get_settings().allow_private_addresses)


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


def check_address(address: IPAddress, host: str) -> None:
    """Raise :class:`AddressRefused` if ``host``'s ``address`` must not be called."""
    reason = refusal_reason(address)
    if reason:
        via = "" if str(address) == host else f" resolves to {address}, which"
        raise AddressRefused(
            f"host {host}{via} is {reason}; refused (SSRF protection, see {SETTING})"
        )


@lru_cache(maxsize=4096)
def connect_host(url: str) -> str:
    """The host of ``url`` exactly as aiohttp and yarl will connect to it.

    Raises :class:`AddressRefused` for a host that is not ASCII after IDNA normalisation or
    is not a valid DNS name (nor an IP address), whatever the address policy.
    """
    try:
        host = URL(url).raw_host
    except (ValueError, UnicodeError) as exc:
        raise AddressRefused(f"invalid host in {url!r}: {exc}") from None
    if not host:
        raise AddressRefused(f"no host in {url!r}")
    host = host.rstrip(".").lower()
    if not host.isascii():
        raise AddressRefused(f"host {host!r} is not ASCII after IDNA normalisation; refused")
    if as_address(host) is None and not _is_dns_name(host):
        raise AddressRefused(f"host {host!r} is not a valid DNS name; refused")
    return host


async def check_outbound_url(
    url: str | None, *, key: str, allow_private: bool, where: str = "configuration"
) -> None:
    """Refuse, with a 400 naming ``key`` (of the instance ``configuration``, or of an
    element ``definition``), a URL pollhub must not call.

    A host name that does not resolve now is accepted; every connection is checked again.
    """
    if not url:
        return
    try:
        host = connect_host(url)
        if allow_private:
            return
        for address in await _addresses_of(host):
            check_address(address, host)
    except AddressRefused as exc:
        raise BadRequest(
            f"{where} '{key}': {exc}. Requests to loopback, private, link-local or "
            f"metadata addresses are refused (set {SETTING}=true to allow them)"
        ) from None


def refusal_in(exc: BaseException) -> AddressRefused | None:
    """The :class:`AddressRefused` behind an HTTP client's error, if that is what it was."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, AddressRefused):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def as_address(host: str) -> IPAddress | None:
    """``host`` as an IP address, or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


async def resolve(host: str, port: int = 0) -> list[tuple[IPAddress, Any]]:
    """Every address of ``host``, with the ``getaddrinfo`` entry to connect to it."""
    infos: list[Any] = await asyncio.wait_for(
        asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
        _RESOLVE_TIMEOUT_SECONDS,
    )
    return [(ipaddress.ip_address(info[4][0].split("%", 1)[0]), info) for info in infos]


def _is_dns_name(host: str) -> bool:
    labels = host.split(".")
    if len(host) > 253 or labels[-1].isdigit():  # an all-numeric last label is an IP spelling
        return False
    for label in labels:
        if not _LABEL.match(label):
            return False
        if label.startswith("xn--"):
            try:
                idna.decode(label)  # IDNA 2008, as strict as registries are
            except (idna.IDNAError, UnicodeError):
                return False
    return True


async def _addresses_of(host: str) -> list[IPAddress]:
    address = as_address(host)
    if address is not None:
        return [address]
    if host == "localhost" or host.endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1")]  # RFC 6761: always loopback
    try:
        return [address for address, _ in await resolve(host)]
    except (OSError, TimeoutError):
        return []


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
