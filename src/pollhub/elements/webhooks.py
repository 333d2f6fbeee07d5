"""The webhook capability: what an element that receives provider webhooks must provide.

pollhub's webhook machinery (:mod:`pollhub.webhooks`) keeps subscriptions alive, checks
and deduplicates notifications and catches up after losses, for any element whose
``webhooks`` is set; the element supplies the provider's side in the provider's terms:
subscribe, renew, delete, answer the validation handshake, parse notifications, read a
resource in full (catch up) and fetch one changed object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pollhub.elements.http import ProviderApi
from pollhub.elements.reading import ChangeKind, ProviderChange

# What a lifecycle notification asks for: renew now, re-create, or read to catch up.
LifecycleEvent = Literal["reauthorize", "removed", "missed"]


@dataclass(frozen=True)
class WebhookChange:
    """One change a notification reports, for one subscription.

    ``version`` is the provider's version tag of the object (an etag) when it sends one:
    the same version twice is the same change delivered twice.
    """

    subscription_id: str
    client_state: str
    kind: ChangeKind | None
    object_id: str
    version: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class LifecycleSignal:
    """One entry of a lifecycle notification (``event`` None: not one pollhub knows)."""

    subscription_id: str
    client_state: str
    event: LifecycleEvent | None


class WebhookCapability(Protocol):
    """A provider's webhooks, as pollhub drives them."""

    def object_types(self, scope: str, explicit: str | None) -> list[str]:
        """What to subscribe to: the configured list (``event.objects``) or what the
        granted scopes cover. An unknown name is a ValueError naming it."""
        ...

    def known_object_types(self) -> list[str]:
        """Every object type this provider can notify about."""
        ...

    def expiry(self, object_type: str, now: datetime) -> datetime:
        """When a subscription made (or renewed) now should expire."""
        ...

    async def subscribe(
        self,
        api: ProviderApi,
        object_type: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        expires_at: datetime,
    ) -> str:
        """Create a subscription; its provider id."""
        ...

    async def renew(self, api: ProviderApi, subscription_id: str, expires_at: datetime) -> None:
        """Extend a subscription (``ProviderNotFound`` when the provider dropped it)."""
        ...

    async def unsubscribe(self, api: ProviderApi, subscription_id: str) -> None:
        """Delete a subscription."""
        ...

    def handshake(self, query: Mapping[str, str]) -> str | None:
        """The text to answer a validation request with, or None if this is not one."""
        ...

    def parse_changes(self, body: Any) -> list[WebhookChange]:
        """The changes of a notification body; a malformed body is a ValueError."""
        ...

    def redact(self, body: Any) -> Any:
        """The notification body without what must go no further (the subscription's
        shared secret); this is what is stored and delivered."""
        ...

    def parse_lifecycle(self, body: Any) -> list[LifecycleSignal]:
        """The entries of a lifecycle notification; a malformed body is a ValueError."""
        ...

    async def read_all(self, api: ProviderApi, object_type: str) -> list[ProviderChange]:
        """Every object of the type now, to catch up after lost notifications."""
        ...

    def version_of(self, raw: Mapping[str, Any]) -> str:
        """The version tag of an object as read in full (compared with ``version``)."""
        ...

    async def fetch(
        self, api: ProviderApi, object_type: str, object_id: str
    ) -> dict[str, Any] | None:
        """The changed object itself, or None when it is gone by now."""
        ...

    def attach_objects(self, body: Any, objects: Mapping[str, Any]) -> Any:
        """The notification body with each fetched object beside its entry."""
        ...
