"""Microsoft Graph change-notification subscriptions and their validation handshake.

Docs: https://learn.microsoft.com/graph/api/subscription-post-subscriptions and
https://learn.microsoft.com/graph/change-notifications-delivery-webhooks
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from pollhub.clock import clock
from pollhub.sandbox.data import JSON
from pollhub.sandbox.data.accounts import MicrosoftUser
from pollhub.sandbox.data.outlook import OutlookEvent
from pollhub.sandbox.errors import ProviderError, graph_error
from pollhub.sandbox.ids import guid
from pollhub.sandbox.timefmt import parse_datetime, ticks_offset, ticks_z

ResourceKind = Literal["events", "outlook", "drive"]
LifecycleEvent = Literal["reauthorizationRequired", "subscriptionRemoved", "missed"]
LIFECYCLE_EVENTS: tuple[str, ...] = ("reauthorizationRequired", "subscriptionRemoved", "missed")

# Maximum subscription lifetimes, in minutes, per resource kind.
MAX_LIFETIME_MINUTES: dict[ResourceKind, int] = {"events": 10080, "outlook": 10080, "drive": 42300}
CHANGE_TYPES = ("created", "updated", "deleted")
MAX_CLIENT_STATE = 128
VALIDATION_TIMEOUT_SECONDS = 10.0

_OTHER_OUTLOOK = re.compile(r"^me/(messages|contacts|mailfolders\('[^']+'\)/messages)$")


@dataclass
class Subscription:
    """One live subscription."""

    id: str
    resource: str
    kind: ResourceKind
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    expiration: datetime
    client_state: str | None
    application_id: str
    creator_id: str
    latest_tls: str

    def as_json(self) -> JSON:
        """The subscription resource."""
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": ticks_z(self.expiration),
            "creatorId": self.creator_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": self.latest_tls,
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


class SubscriptionStore:
    """Subscriptions of the sandbox tenant; expired ones vanish."""

    def __init__(self, user: MicrosoftUser, drive_id: str) -> None:
        self.user = user
        self.drive_id = drive_id
        self._subscriptions: dict[str, Subscription] = {}

    def live(self) -> list[Subscription]:
        """Subscriptions that have not expired (expired ones are dropped)."""
        now = clock.now()
        for sub in [s for s in self._subscriptions.values() if s.expiration <= now]:
            del self._subscriptions[sub.id]
        return list(self._subscriptions.values())

    def get(self, subscription_id: str) -> Subscription | None:
        """A live subscription by id."""
        return next((s for s in self.live() if s.id == subscription_id), None)

    def add(self, subscription: Subscription) -> None:
        """Keep a validated subscription."""
        self._subscriptions[subscription.id] = subscription

    def remove(self, subscription_id: str) -> bool:
        """Drop a subscription; False if there was none."""
        return self._subscriptions.pop(subscription_id, None) is not None

    def matching(self, kind: ResourceKind, change_type: str) -> list[Subscription]:
        """Live subscriptions that want this kind of change."""
        return [s for s in self.live() if s.kind == kind and change_type in s.change_types]

    def parse_new(self, body: Mapping[str, Any], application_id: str) -> Subscription:
        """A subscription from a create request, checked as Graph checks it."""
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _invalid(f"{name} is a required property for subscription creation.")
        kind = self._kind_of(body["resource"])
        change_types = _change_types(body["changeType"], kind)
        client_state = body.get("clientState")
        if client_state is not None and (
            not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE
        ):
            raise _invalid(
                f"clientState must be a string of at most {MAX_CLIENT_STATE} characters."
            )
        lifecycle_url = body.get("lifecycleNotificationUrl")
        for url in (body["notificationUrl"], lifecycle_url):
            if url is not None and not _is_http_url(url):
                raise _invalid(f"Invalid notification url '{url}'.")
        return Subscription(
            id=guid(),
            resource=body["resource"],
            kind=kind,
            change_types=change_types,
            notification_url=body["notificationUrl"],
            lifecycle_url=lifecycle_url,
            expiration=check_expiration(body["expirationDateTime"], kind),
            client_state=client_state,
            application_id=application_id,
            creator_id=self.user.id,
            latest_tls=str(body.get("latestSupportedTlsVersion") or "v1_2"),
        )

    def _kind_of(self, resource: str) -> ResourceKind:
        path = resource.strip().strip("/").lower()
        users = {"me", f"users/{self.user.id}", f"users/{self.user.mail.lower()}"}
        for user in users:
            if path in (f"{user}/events", f"{user}/calendar/events"):
                return "events"
        if path in ("me/drive/root", f"drives/{self.drive_id}/root"):
            return "drive"
        if _OTHER_OUTLOOK.match(path):
            return "outlook"
        raise _invalid(f"Resource '{resource}' is not supported for change notifications.")


def check_expiration(value: Any, kind: ResourceKind) -> datetime:
    """The expiration of a create or renew request, within the resource's maximum."""
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise _invalid("expirationDateTime must be an ISO 8601 date-time.")
    now = clock.now()
    if moment <= now:
        raise _invalid("Subscription expiration must be in the future.")
    limit = MAX_LIFETIME_MINUTES[kind]
    if moment > now + timedelta(minutes=limit):
        raise _invalid(f"Subscription expiration can only be {limit} minutes in the future.")
    return moment


async def validate_endpoint(url: str) -> None:
    """Graph's validation handshake: POST ``url?validationToken=...`` and expect the token
    back, as ``text/plain`` with 200, within 10 seconds; else refuse the subscription."""
    token = (
        f"Validation: Testing client application reachability for subscription Request-Id: {guid()}"
    )
    target = httpx.URL(url).copy_add_param("validationToken", token)
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    try:
        async with httpx.AsyncClient(timeout=VALIDATION_TIMEOUT_SECONDS, trust_env=False) as client:
            response = await client.post(target, headers=headers)
    except httpx.TimeoutException as exc:
        raise graph_error(
            400, "InvalidRequest", "Subscription validation request timed out."
        ) from exc
    except httpx.HTTPError as exc:
        raise _validation_failed(
            "Notification endpoint must respond with 200 OK to validation request."
        ) from exc
    if response.status_code != 200:
        raise _validation_failed(
            "Notification endpoint must respond with 200 OK to validation request."
        )
    if not response.headers.get("content-type", "").lower().startswith("text/plain"):
        raise _validation_failed("Content-Type of the response must be text/plain.")
    if response.text != token:
        raise _validation_failed("Response must exactly match validationToken query parameter.")


def event_notification(
    sub: Subscription, event: OutlookEvent, change_type: str, user_id: str, tenant_id: str
) -> JSON:
    """The change notification Graph POSTs for an Outlook event."""
    resource = f"Users/{user_id}/Events/{event.id}"
    return {
        "value": [
            {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": ticks_offset(sub.expiration),
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": event.etag,
                    "id": event.id,
                },
                "clientState": sub.client_state,
                "tenantId": tenant_id,
            }
        ]
    }


def drive_notification(sub: Subscription, tenant_id: str) -> JSON:
    """OneDrive's notification: only "something changed under the root" (read delta)."""
    return {
        "value": [
            {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": ticks_offset(sub.expiration),
                "changeType": "updated",
                "resource": sub.resource,
                "clientState": sub.client_state,
                "tenantId": tenant_id,
            }
        ]
    }


def lifecycle_notification(sub: Subscription, event: str, tenant_id: str) -> JSON:
    """A lifecycle notification for the subscription's lifecycle URL."""
    return {
        "value": [
            {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": ticks_offset(sub.expiration),
                "tenantId": tenant_id,
                "clientState": sub.client_state,
                "lifecycleEvent": event,
                "resource": sub.resource,
            }
        ]
    }


def _change_types(value: str, kind: ResourceKind) -> tuple[str, ...]:
    wanted = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [part for part in wanted if part not in CHANGE_TYPES]
    if not wanted or unknown:
        raise _invalid(f"Invalid 'changeType' attribute: '{value}'.")
    if kind == "drive" and wanted != ("updated",):
        # OneDrive only ever reports "updated" on the folder a change happened under.
        raise _invalid("Only the 'updated' changeType is supported on driveItem resources.")
    return wanted


def _is_http_url(value: Any) -> bool:
    # Real Graph insists on https; the sandbox takes http so local receivers work.
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _invalid(message: str) -> ProviderError:
    return graph_error(400, "InvalidRequest", message)


def _validation_failed(detail: str) -> ProviderError:
    return graph_error(400, "ValidationError", f"Subscription validation request failed. {detail}")
