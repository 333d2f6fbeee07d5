"""Which simulated provider serves which host, and which elements each one stands in for.

Every simulator registers the hosts it serves (exact names, or ``*.suffix`` for providers
with a site per customer such as DocuShare Flex) and the element keys it simulates. A
request for a host nobody registered is a 404 — never another provider's answer — and a
sandbox built while some element has no simulator refuses to start, naming the element.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.requests import Request

from pollhub.sandbox.errors import CONTROL_SEGMENT, Provider, route_path


@dataclass(frozen=True)
class Simulator:
    """One simulated provider: its error family, the hosts it serves, its routes."""

    provider: Provider
    hosts: tuple[str, ...]
    routers: tuple[APIRouter, ...]
    elements: tuple[str, ...] = ()

    def serves(self, host: str) -> bool:
        """Whether this simulator answers for ``host`` (case-insensitive)."""
        return any(host_matches(host, pattern) for pattern in self.hosts)


class MissingSimulator(RuntimeError):
    """An element the sandbox would be asked to stand in for has no simulator."""


def host_matches(host: str, pattern: str) -> bool:
    """``host`` is ``pattern``, or a subdomain of ``*.suffix`` (``acme.docushareflex.com``)."""
    host, pattern = host.lower(), pattern.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def simulator_for_host(simulators: Iterable[Simulator], host: str) -> Simulator | None:
    """The simulator serving ``host`` (exact names win over ``*.suffix`` patterns)."""
    candidates = [s for s in simulators if s.serves(host)]
    exact = [s for s in candidates if host.lower() in (h.lower() for h in s.hosts)]
    found = exact or candidates
    return found[0] if found else None


def provider_for_request(simulators: Iterable[Simulator], request: Request) -> Provider | None:
    """Which simulated provider this request is addressed to (None: the control API or a
    host no simulator serves)."""
    host = route_path(request).lstrip("/").split("/", 1)[0]
    if host.lower() == CONTROL_SEGMENT:
        return None
    found = simulator_for_host(simulators, host)
    return found.provider if found is not None else None


def check_coverage(simulators: Iterable[Simulator], element_keys: Iterable[str]) -> None:
    """Raise :class:`MissingSimulator` naming every element no simulator stands in for."""
    covered = {key for simulator in simulators for key in simulator.elements}
    missing = sorted(set(element_keys) - covered)
    if missing:
        raise MissingSimulator(
            "the sandbox has no simulator for element(s) "
            + ", ".join(repr(key) for key in missing)
            + ": add one under pollhub/sandbox/api/ before running with POLLHUB_SANDBOX=true"
        )
