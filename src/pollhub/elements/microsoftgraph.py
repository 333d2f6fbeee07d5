"""Microsoft Graph (``microsoftgraph``): changes pushed by Graph change notifications.

What pollhub needs from Graph, in Graph's own terms: which resources an instance's scopes
let it subscribe to, how to create, renew and delete a subscription, how to read a change
notification, and how to read a resource in full to catch up after ``missed`` notifications.
Provider docs: https://learn.microsoft.com/graph/change-notifications-overview,
https://learn.microsoft.com/graph/api/resources/subscription (maximum lifetimes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pollhub.elements.http import ProviderApi, ProviderError, ProviderNotFound
from pollhub.elements.reading import ChangeKind, ProviderChange
from pollhub.elements.urls import provider_url
from pollhub.elements.webhooks import LifecycleEvent, LifecycleSignal, WebhookChange

GRAPH = "https://graph.microsoft.com/v1.0"


@dataclass(frozen=True)
class SubscribableResource:
    """A Graph resource pollhub can subscribe to, and what it reports it as."""

    object_type: str
    resource: str
    change_type: str
    max_lifetime: timedelta
    scopes: tuple[str, ...]


_OUTLOOK_MAX = timedelta(minutes=10080)
RESOURCES = {
    r.object_type: r
    for r in (
        SubscribableResource(
            "events",
            "me/events",
            "created,updated,deleted",
            _OUTLOOK_MAX,
            ("calendars.read", "calendars.readwrite"),
        ),
        SubscribableResource(
            "messages",
            "me/messages",
            "created,updated,deleted",
            _OUTLOOK_MAX,
            ("mail.read", "mail.readwrite"),
        ),
        SubscribableResource(
            "contacts",
            "me/contacts",
            "created,updated,deleted",
            _OUTLOOK_MAX,
            ("contacts.read", "contacts.readwrite"),
        ),
        # Graph only sends "updated" for drive items, on the folder whose content changed.
        SubscribableResource(
            "driveItems",
            "me/drive/root",
            "updated",
            timedelta(minutes=42300),
            ("files.read", "files.readwrite", "files.read.all", "files.readwrite.all"),
        ),
    )
}
_CHANGE_KINDS: dict[str, ChangeKind] = {
    "created": "created",
    "updated": "updated",
    "deleted": "deleted",
}


def resources_for(scope: str, explicit: str | None) -> list[SubscribableResource]:
    """What to subscribe to: the configured object list (``event.objects``, comma
    separated), else every resource the granted scopes cover."""
    if explicit:
        names = [name.strip() for name in explicit.split(",") if name.strip()]
        unknown = [name for name in names if name not in RESOURCES]
        if unknown:
            raise ValueError(
                f"unknown Graph resource {unknown[0]!r}; known: {', '.join(RESOURCES)}"
            )
        return [RESOURCES[name] for name in names]
    granted = {part.lower() for part in scope.split()}
    return [r for r in RESOURCES.values() if granted & set(r.scopes)]


_LIFECYCLE: dict[str, LifecycleEvent] = {
    "reauthorizationRequired": "reauthorize",
    "subscriptionRemoved": "removed",
    "missed": "missed",
}


class GraphWebhooks:
    """Graph change notifications as pollhub's webhook capability."""

    def object_types(self, scope: str, explicit: str | None) -> list[str]:
        """See :meth:`WebhookCapability.object_types`."""
        return [r.object_type for r in resources_for(scope, explicit)]

    def known_object_types(self) -> list[str]:
        """See :meth:`WebhookCapability.known_object_types`."""
        return list(RESOURCES)

    def expiry(self, object_type: str, now: datetime) -> datetime:
        """An expiration comfortably inside Graph's maximum for the resource."""
        return now + RESOURCES[object_type].max_lifetime - timedelta(hours=1)

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
        """POST /subscriptions. Graph validates both URLs (the handshake) before answering."""
        resource = RESOURCES[object_type]
        body = await api.send(
            "POST",
            provider_url(f"{GRAPH}/subscriptions"),
            json={
                "changeType": resource.change_type,
                "notificationUrl": notification_url,
                "lifecycleNotificationUrl": lifecycle_url,
                "resource": resource.resource,
                "expirationDateTime": _graph_time(expires_at),
                "clientState": client_state,
                "latestSupportedTlsVersion": "v1_2",
            },
        )
        if not body or "id" not in body:
            raise ProviderError("Graph created a subscription but returned no id")
        return str(body["id"])

    async def renew(self, api: ProviderApi, subscription_id: str, expires_at: datetime) -> None:
        """PATCH the subscription's expiration (a 404 means Graph removed it)."""
        await api.send(
            "PATCH",
            provider_url(f"{GRAPH}/subscriptions/{subscription_id}"),
            json={"expirationDateTime": _graph_time(expires_at)},
        )

    async def unsubscribe(self, api: ProviderApi, subscription_id: str) -> None:
        """DELETE the subscription."""
        await api.send("DELETE", provider_url(f"{GRAPH}/subscriptions/{subscription_id}"))

    def handshake(self, query: Mapping[str, str]) -> str | None:
        """Graph's validation request carries ``validationToken``: answer it, decoded."""
        return query.get("validationToken")

    def parse_changes(self, body: Any) -> list[WebhookChange]:
        """The entries of a change notification body; a malformed body is a ValueError."""
        parsed = []
        for entry in _entries(body, "change"):
            found = entry.get("resourceData")
            data: dict[str, Any] = found if isinstance(found, dict) else {}
            object_id = data.get("id") or str(entry.get("resource", "")).rsplit("/", 1)[-1]
            parsed.append(
                WebhookChange(
                    subscription_id=entry["subscriptionId"],
                    client_state=str(entry.get("clientState") or ""),
                    kind=_CHANGE_KINDS.get(str(entry.get("changeType"))),
                    object_id=str(object_id),
                    version=str(data.get("@odata.etag") or ""),
                    raw=entry,
                )
            )
        return parsed

    def redact(self, body: Any) -> Any:
        """The body without its entries' ``clientState`` (the subscription's secret, which
        proves a notification authentic and must go no further)."""
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            return body
        value = [
            {k: v for k, v in e.items() if k != "clientState"} if isinstance(e, dict) else e
            for e in body["value"]
        ]
        return {**body, "value": value}

    def parse_lifecycle(self, body: Any) -> list[LifecycleSignal]:
        """The entries of a lifecycle notification; a malformed body is a ValueError."""
        return [
            LifecycleSignal(
                subscription_id=str(entry.get("subscriptionId") or ""),
                client_state=str(entry.get("clientState") or ""),
                event=_LIFECYCLE.get(str(entry.get("lifecycleEvent"))),
            )
            for entry in _entries(body, "lifecycle", need_subscription=False)
        ]

    async def read_all(self, api: ProviderApi, object_type: str) -> list[ProviderChange]:
        """Every object of the resource now (to catch up after ``missed`` notifications)."""
        resource = RESOURCES[object_type]
        url: str | None = provider_url(f"{GRAPH}/{resource.resource}")
        if object_type == "driveItems":
            url = provider_url(f"{GRAPH}/me/drive/root/children")
        changes = []
        while url:
            page = await api.get_json(url)
            for item in page.get("value", []):
                changes.append(ProviderChange(str(item["id"]), item))
            url = page.get("@odata.nextLink")
        return changes

    def version_of(self, raw: Mapping[str, Any]) -> str:
        """The object's ``@odata.etag`` (what Outlook notifications carry), else its
        ``eTag`` (drive items: a folder's moves whenever anything below it changes, its
        modified time does not), else its modified time."""
        return str(
            raw.get("@odata.etag") or raw.get("eTag") or raw.get("lastModifiedDateTime") or ""
        )

    async def fetch(
        self, api: ProviderApi, object_type: str, object_id: str
    ) -> dict[str, Any] | None:
        """The changed object itself, or None when it is gone by now."""
        resource = RESOURCES.get(object_type)
        if resource is None:
            return None
        path = "me/drive/items" if object_type == "driveItems" else resource.resource
        try:
            return await api.get_json(provider_url(f"{GRAPH}/{path}/{object_id}"))
        except ProviderNotFound:
            return None

    def attach_objects(self, body: Any, objects: Mapping[str, Any]) -> Any:
        """Each fetched object as ``resourceObject`` beside its entry of ``value``."""
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            return body
        value = []
        for entry in body["value"]:
            data = entry.get("resourceData") if isinstance(entry, dict) else None
            object_id = data.get("id") if isinstance(data, dict) else None
            if isinstance(object_id, str) and object_id in objects:
                entry = {**entry, "resourceObject": objects[object_id]}
            value.append(entry)
        return {**body, "value": value}


def _entries(body: Any, what: str, *, need_subscription: bool = True) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ValueError(f"a {what} notification is a JSON object with a 'value' array")
    for entry in body["value"]:
        if not isinstance(entry, dict):
            raise ValueError(f"every {what} notification must be an object")
        if need_subscription and not isinstance(entry.get("subscriptionId"), str):
            raise ValueError("every notification needs a 'subscriptionId'")
    return list(body["value"])


def _graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


# The webhook mechanics its definition file (definitions/microsoftgraph.json) refers to.
WEBHOOKS = GraphWebhooks()
