"""Microsoft Graph (``microsoftgraph``): changes pushed by Graph change notifications.

What pollhub needs from Graph, in Graph's own terms: which resources an instance's scopes
let it subscribe to, how to create, renew and delete a subscription, how to read a change
notification, and how to read a resource in full to catch up after ``missed`` notifications.
Provider docs: https://learn.microsoft.com/graph/change-notifications-overview,
https://learn.microsoft.com/graph/api/resources/subscription (maximum lifetimes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pollhub.elements.base import Element, RateLimits
from pollhub.elements.http import ProviderApi, ProviderError, ProviderNotFound
from pollhub.elements.reading import ProviderChange
from pollhub.elements.urls import provider_url

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
_EVENT_TYPES = {"created": "CREATED", "updated": "UPDATED", "deleted": "DELETED"}


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


def subscription_expiry(resource: SubscribableResource, now: datetime) -> datetime:
    """An expiration comfortably inside Graph's maximum for the resource."""
    return now + resource.max_lifetime - timedelta(hours=1)


async def create_subscription(
    api: ProviderApi,
    resource: SubscribableResource,
    *,
    notification_url: str,
    lifecycle_url: str,
    client_state: str,
    expires_at: datetime,
) -> dict[str, Any]:
    """POST /subscriptions. Graph validates both URLs (the handshake) before answering."""
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
    return body


async def renew_subscription(api: ProviderApi, subscription_id: str, expires_at: datetime) -> None:
    """PATCH the subscription's expiration (a 404 means Graph removed it)."""
    await api.send(
        "PATCH",
        provider_url(f"{GRAPH}/subscriptions/{subscription_id}"),
        json={"expirationDateTime": _graph_time(expires_at)},
    )


async def delete_subscription(api: ProviderApi, subscription_id: str) -> None:
    """DELETE the subscription."""
    await api.send("DELETE", provider_url(f"{GRAPH}/subscriptions/{subscription_id}"))


@dataclass(frozen=True)
class ChangeNotification:
    """One entry of a change notification's ``value``."""

    subscription_id: str
    client_state: str
    event_type: str
    object_id: str
    etag: str
    raw: dict[str, Any]


def parse_notifications(body: Any) -> list[ChangeNotification]:
    """The entries of a change notification body; a malformed body is a ValueError."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ValueError("a change notification is a JSON object with a 'value' array")
    parsed = []
    for entry in body["value"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("subscriptionId"), str):
            raise ValueError("every notification needs a 'subscriptionId'")
        found = entry.get("resourceData")
        data: dict[str, Any] = found if isinstance(found, dict) else {}
        object_id = data.get("id") or str(entry.get("resource", "")).rsplit("/", 1)[-1]
        parsed.append(
            ChangeNotification(
                subscription_id=entry["subscriptionId"],
                client_state=str(entry.get("clientState") or ""),
                event_type=_EVENT_TYPES.get(str(entry.get("changeType")), "UNKNOWN"),
                object_id=str(object_id),
                etag=str(data.get("@odata.etag") or ""),
                raw=entry,
            )
        )
    return parsed


def without_client_state(body: Any) -> Any:
    """A notification body without its entries' ``clientState`` (the subscription's
    secret, which proves a notification authentic and must go no further)."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return body
    value = [
        {k: v for k, v in entry.items() if k != "clientState"} if isinstance(entry, dict) else entry
        for entry in body["value"]
    ]
    return {**body, "value": value}


async def read_all(api: ProviderApi, resource: SubscribableResource) -> list[ProviderChange]:
    """Every object of the resource now (to catch up after ``missed`` notifications)."""
    url: str | None = provider_url(f"{GRAPH}/{resource.resource}")
    if resource.object_type == "driveItems":
        url = provider_url(f"{GRAPH}/me/drive/root/children")
    changes = []
    while url:
        page = await api.get_json(url)
        for item in page.get("value", []):
            changes.append(ProviderChange(str(item["id"]), item))
        url = page.get("@odata.nextLink")
    return changes


async def fetch_object(
    api: ProviderApi, resource: SubscribableResource, object_id: str
) -> dict[str, Any] | None:
    """The changed object itself, or None when it is gone by now."""
    path = "me/drive/items" if resource.object_type == "driveItems" else resource.resource
    try:
        return await api.get_json(provider_url(f"{GRAPH}/{path}/{object_id}"))
    except ProviderNotFound:
        return None


def _graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


ELEMENT = Element(
    key="microsoftgraph",
    id=5836,  # Cloud Elements' element id (reference sections 6.1-6.3)
    name="Microsoft Graph",
    hub="general",
    event_mechanism="webhook",
    description="Calendar events (and other Graph resources) by Graph change notifications.",
    authorization_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
    default_scope="Calendars.Read offline_access",
    authorization_params={"response_mode": "query"},
    optional_configuration=("event.objects",),
    # 130,000 requests per 10 s per app across all tenants; Outlook resources 10,000 per
    # 10 minutes per app per user (learn.microsoft.com/graph/throttling-limits).
    rate_limits=RateLimits(app="130000/10", user="10000/600"),
)
