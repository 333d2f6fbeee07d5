"""Faults on demand: make the next N calls to a provider fail the way real ones do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast, get_args

from pollhub.sandbox.errors import (
    PROVIDERS,
    Provider,
    ProviderError,
    microsoft_login_error,
    oauth_error,
    server_failure,
    throttled,
)
from pollhub.sandbox.errors import unauthorized as unauthorized_error
from pollhub.sandbox.ids import hex_id

FaultKind = Literal["429", "500", "slow", "expired_token"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
ANY_PROVIDER = "*"


class InvalidFault(ValueError):
    """A fault request that cannot be understood."""


@dataclass
class Fault:
    """One armed fault: ``remaining`` more calls to ``provider`` fail as ``kind``."""

    id: str
    provider: str
    kind: FaultKind
    remaining: int
    retry_after: int = 1
    delay_seconds: float = 1.0

    def as_json(self) -> dict[str, Any]:
        """The control API's view of this fault."""
        data = asdict(self)
        return {
            "id": data["id"],
            "provider": data["provider"],
            "kind": data["kind"],
            "count": data["remaining"],
            "retryAfter": data["retry_after"],
            "delaySeconds": data["delay_seconds"],
        }


def parse_fault(body: Mapping[str, Any]) -> Fault:
    """A fault from the control API's JSON body (``provider``, ``kind``, ``count``...)."""
    provider = body.get("provider", ANY_PROVIDER)
    if provider != ANY_PROVIDER and provider not in PROVIDERS:
        raise InvalidFault(f"provider must be one of {[*PROVIDERS, ANY_PROVIDER]}")
    kind = str(body.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise InvalidFault(f"kind must be one of {list(FAULT_KINDS)}")
    try:
        count = int(body.get("count", 1))
        retry_after = int(body.get("retryAfter", 1))
        delay = float(body.get("delaySeconds", 1.0))
    except (TypeError, ValueError) as exc:
        raise InvalidFault("count, retryAfter and delaySeconds must be numbers") from exc
    if count < 1 or retry_after < 0 or delay < 0:
        raise InvalidFault("count must be at least 1; retryAfter and delaySeconds >= 0")
    return Fault(hex_id(8), str(provider), cast(FaultKind, kind), count, retry_after, delay)


class FaultBook:
    """The armed faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Arm a fault."""
        self._faults.append(fault)

    def clear(self) -> None:
        """Disarm every fault."""
        self._faults.clear()

    def armed(self) -> list[Fault]:
        """The faults still armed."""
        return list(self._faults)

    def take(self, provider: Provider, *, access_token: bool = True) -> Fault | None:
        """The fault that applies to this call, counting it as used; None if none does.

        Without an ``access_token`` presented, an ``expired_token`` fault does not apply
        (it stays armed for the next call that presents one).
        """
        for fault in self._faults:
            if fault.kind == "expired_token" and not access_token:
                continue
            if fault.provider in (provider, ANY_PROVIDER):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None


def fault_error(provider: Provider, fault: Fault) -> ProviderError:
    """The error a failing fault produces (``slow`` produces none: it only delays)."""
    if fault.kind == "429":
        return throttled(provider, fault.retry_after)
    if fault.kind == "500":
        return server_failure(provider)
    # expired_token: API calls see their access token refused; token endpoints see the
    # refresh token refused, which is how an expired grant shows up there.
    if provider == "microsoft-login":
        return microsoft_login_error(
            "invalid_grant", 70008, "The refresh token has expired due to inactivity."
        )
    if provider == "google-oauth":
        return oauth_error("invalid_grant", "Token has been expired or revoked.")
    return unauthorized_error(provider, reason="expired")
