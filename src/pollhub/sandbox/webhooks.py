"""Which Graph subscriptions hear of a change, and handing their notifications to the
:class:`~pollhub.sandbox.notifier.Notifier`."""

from __future__ import annotations

from pollhub.sandbox.data.outlook import OutlookEvent
from pollhub.sandbox.data.subscriptions import (
    Subscription,
    drive_notification,
    event_notification,
    lifecycle_notification,
)
from pollhub.sandbox.notifier import Delivery
from pollhub.sandbox.state import SandboxState


def notify_event_change(
    state: SandboxState, event: OutlookEvent, change_type: str
) -> list[Delivery]:
    """Send the change notification for an Outlook event to every subscription of
    ``me/events`` that asked for this change type."""
    data = state.data
    user = data.microsoft_user
    return [
        state.notifier.send(
            "notification",
            sub.notification_url,
            sub.id,
            event_notification(sub, event, change_type, user.id, user.tenant_id),
        )
        for sub in data.subscriptions.matching("events", change_type)
    ]


def notify_drive_change(state: SandboxState) -> list[Delivery]:
    """Tell every subscription of the drive root that something under it changed."""
    tenant = state.data.microsoft_user.tenant_id
    return [
        state.notifier.send(
            "notification", sub.notification_url, sub.id, drive_notification(sub, tenant)
        )
        for sub in state.data.subscriptions.matching("drive", "updated")
    ]


def send_lifecycle(state: SandboxState, sub: Subscription, event: str) -> Delivery:
    """Send a lifecycle notification; ``subscriptionRemoved`` also ends the subscription."""
    if sub.lifecycle_url is None:
        raise ValueError("the subscription has no lifecycleNotificationUrl")
    payload = lifecycle_notification(sub, event, state.data.microsoft_user.tenant_id)
    if event == "subscriptionRemoved":
        state.data.subscriptions.remove(sub.id)
    return state.notifier.send("lifecycle", sub.lifecycle_url, sub.id, payload)
