"""Microsoft Graph change notifications: subscription checks, the validation handshake,
notifications for Outlook event changes, renewals, lifecycle events; Outlook events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest
from msgraph.generated.models.subscription import Subscription

from pollhub.clock import clock
from pollhub.sandbox.notifier import RetryPolicy
from tests.sandbox.conftest import Receiver, Sandbox, bearer, microsoft_tokens
from tests.sandbox.graph_client import graph_client

# providers.md: a change notification's fields.
NOTIFICATION_FIELDS = {
    "subscriptionId",
    "subscriptionExpirationDateTime",
    "clientState",
    "changeType",
    "resource",
    "tenantId",
    "resourceData",
}
RESOURCE_DATA_FIELDS = {"@odata.type", "@odata.id", "@odata.etag", "id"}
EVENT_FIELDS = {"id", "subject", "start", "end", "createdDateTime", "lastModifiedDateTime"}


def _in(minutes: float) -> str:
    return (
        (clock.now() + timedelta(minutes=minutes))
        .astimezone(UTC)
        .isoformat()
        .replace("+00:00", "Z")
    )


def _subscribe(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver, **overrides: Any
) -> httpx.Response:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{receiver.url}/echo/notify",
        "lifecycleNotificationUrl": f"{receiver.url}/echo/lifecycle",
        "resource": "me/events",
        "expirationDateTime": _in(60),
        "clientState": "secretClientValue",
        "latestSupportedTlsVersion": "v1_2",
        **overrides,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return httpx.post(
        f"{sandbox.url}/graph.microsoft.com/v1.0/subscriptions",
        json=body,
        headers=headers,
        timeout=30,
    )


@pytest.fixture
def headers(sandbox: Sandbox) -> dict[str, str]:
    return bearer(microsoft_tokens(sandbox, scope="Calendars.Read offline_access"))


def test_subscription_is_created_after_a_successful_validation_handshake(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    response = _subscribe(sandbox, headers, receiver)

    assert response.status_code == 201
    created = response.json()
    assert {"id", "applicationId", "creatorId", "resource", "changeType"} <= set(created)
    assert created["applicationId"] == "pollhub-test-client"
    assert created["clientState"] == "secretClientValue"
    validations = [r for r in receiver.received if "validationToken" in r.query]
    assert [r.path for r in validations] == ["/echo/notify", "/echo/lifecycle"]
    assert validations[0].query["validationToken"].startswith("Validation: ")
    assert validations[0].content_type.startswith("text/plain")


@pytest.mark.parametrize("path", ["wrong", "refuse", "json"])
def test_subscription_is_refused_when_the_endpoint_fails_validation(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver, path: str
) -> None:
    response = _subscribe(sandbox, headers, receiver, notificationUrl=f"{receiver.url}/{path}/n")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"
    listed = httpx.get(
        f"{sandbox.url}/graph.microsoft.com/v1.0/subscriptions", headers=headers, timeout=30
    )
    assert listed.json()["value"] == []


def test_unreachable_notification_url_is_refused(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    response = _subscribe(sandbox, headers, receiver, notificationUrl="http://127.0.0.1:9/nobody")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"expirationDateTime": None}, "expirationDateTime is a required property"),
        ({"changeType": "moved"}, "Invalid 'changeType'"),
        ({"expirationDateTime": "2001-01-01T00:00:00Z"}, "must be in the future"),
        ({"clientState": "x" * 129}, "at most 128"),
        ({"resource": "me/unknown"}, "not supported"),
    ],
)
def test_subscription_requests_are_checked_as_graph_checks_them(
    sandbox: Sandbox,
    headers: dict[str, str],
    receiver: Receiver,
    overrides: dict[str, Any],
    message: str,
) -> None:
    response = _subscribe(sandbox, headers, receiver, **overrides)

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert receiver.received == []


def test_expiration_is_capped_per_resource(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    too_long_for_events = _subscribe(sandbox, headers, receiver, expirationDateTime=_in(10081))
    fine_for_drive = _subscribe(
        sandbox,
        headers,
        receiver,
        resource="me/drive/root",
        changeType="updated",
        expirationDateTime=_in(42299),
    )

    assert too_long_for_events.status_code == 400
    assert "10080 minutes" in too_long_for_events.json()["error"]["message"]
    assert fine_for_drive.status_code == 201


def test_event_changes_send_change_notifications_to_matching_subscriptions(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    everything = _subscribe(sandbox, headers, receiver).json()
    only_deletes = _subscribe(
        sandbox,
        headers,
        receiver,
        changeType="deleted",
        notificationUrl=f"{receiver.url}/echo/deletes",
    ).json()
    receiver.received.clear()

    event = sandbox.control("POST", "microsoftgraph/events", {"subject": "Kick-off"}).json()
    sandbox.control(
        "PATCH", f"microsoftgraph/events/{event['id']}", {"subject": "Kick-off (moved)"}
    )
    sandbox.control("DELETE", f"microsoftgraph/events/{event['id']}")
    deliveries = sandbox.drain()

    assert all(d["delivered"] for d in deliveries)
    to_all = [n.json()["value"][0] for n in receiver.notifications("/echo/notify")]
    assert [n["changeType"] for n in to_all] == ["created", "updated", "deleted"]
    first = to_all[0]
    assert set(first) == NOTIFICATION_FIELDS
    assert set(first["resourceData"]) == RESOURCE_DATA_FIELDS
    user_id = sandbox.state.data.microsoft_user.id
    assert first["resource"] == f"Users/{user_id}/Events/{event['id']}"
    assert first["resourceData"]["id"] == event["id"]
    assert first["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
    assert first["subscriptionId"] == everything["id"]
    assert first["clientState"] == "secretClientValue"
    assert first["subscriptionExpirationDateTime"].endswith("+00:00")
    deletes = [n.json()["value"][0] for n in receiver.notifications("/echo/deletes")]
    assert [(n["changeType"], n["subscriptionId"]) for n in deletes] == [
        ("deleted", only_deletes["id"])
    ]


def test_expired_subscription_gets_no_notifications_and_cannot_be_renewed(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    created = _subscribe(sandbox, headers, receiver, expirationDateTime=_in(30)).json()
    receiver.received.clear()
    clock.advance(timedelta(minutes=31))

    sandbox.control("POST", "microsoftgraph/events", {"subject": "Too late"})
    sandbox.drain()
    renewed = httpx.patch(
        f"{sandbox.url}/graph.microsoft.com/v1.0/subscriptions/{created['id']}",
        json={"expirationDateTime": _in(60)},
        headers=bearer(microsoft_tokens(sandbox)),
        timeout=30,
    )

    assert receiver.notifications() == []
    assert renewed.status_code == 404


def test_lifecycle_notifications_reach_the_lifecycle_url(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    created = _subscribe(sandbox, headers, receiver).json()
    receiver.received.clear()

    for event in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
        response = sandbox.control(
            "POST",
            f"microsoftgraph/subscriptions/{created['id']}/lifecycle",
            {"lifecycleEvent": event},
        )
        assert response.status_code == 202
    sandbox.drain()

    sent = [n.json()["value"][0] for n in receiver.notifications("/echo/lifecycle")]
    assert [n["lifecycleEvent"] for n in sent] == [
        "reauthorizationRequired",
        "missed",
        "subscriptionRemoved",
    ]
    assert {"subscriptionId", "subscriptionExpirationDateTime", "tenantId", "clientState"} <= set(
        sent[0]
    )
    gone = httpx.get(
        f"{sandbox.url}/graph.microsoft.com/v1.0/subscriptions/{created['id']}",
        headers=headers,
        timeout=30,
    )
    assert gone.status_code == 404


def test_lifecycle_event_needs_a_lifecycle_url(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    created = _subscribe(sandbox, headers, receiver, lifecycleNotificationUrl=None).json()

    response = sandbox.control(
        "POST",
        f"microsoftgraph/subscriptions/{created['id']}/lifecycle",
        {"lifecycleEvent": "missed"},
    )

    assert response.status_code == 409


def test_failed_notifications_are_retried_and_reported(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    _subscribe(sandbox, headers, receiver)
    # The endpoint breaks after subscribing.
    sub = sandbox.state.data.subscriptions.live()[0]
    sub.notification_url = f"{receiver.url}/refuse/notify"

    sandbox.control("POST", "microsoftgraph/events", {"subject": "Lost"})
    deliveries = sandbox.drain()

    assert [(d["delivered"], d["attempts"], d["status"]) for d in deliveries] == [(False, 2, 500)]


def test_graph_retries_with_exponential_backoff_for_about_four_hours() -> None:
    delays = RetryPolicy().delays()

    assert delays[:3] == [60, 120, 240]
    assert all(later == 2 * earlier for earlier, later in pairwise(delays[:-1]))
    assert sum(delays) == 4 * 3600
    assert [d / 1000 for d in delays] == RetryPolicy(time_scale=0.001).delays()


def test_a_refused_notification_is_retried_until_graph_gives_up(
    sandbox: Sandbox, headers: dict[str, str], receiver: Receiver
) -> None:
    sandbox.state.notifier.retry = RetryPolicy(time_scale=0.0001)  # four hours in 1.44 s
    _subscribe(sandbox, headers, receiver)
    sub = sandbox.state.data.subscriptions.live()[0]
    sub.notification_url = f"{receiver.url}/refuse/notify"
    started = time.monotonic()

    sandbox.control("POST", "microsoftgraph/events", {"subject": "Lost"})
    [delivery] = sandbox.drain()

    assert time.monotonic() - started >= 1.44
    assert (delivery["delivered"], delivery["attempts"]) == (False, 1 + len(RetryPolicy().delays()))


def test_outlook_events_are_listed_and_read_with_documented_fields(
    sandbox: Sandbox, headers: dict[str, str]
) -> None:
    for n in range(3):
        sandbox.control(
            "POST",
            "microsoftgraph/events",
            {
                "subject": f"Meeting {n}",
                "start": "2026-12-01T09:00:00Z",
                "end": "2026-12-01T10:00:00Z",
            },
        )
    base = f"{sandbox.url}/graph.microsoft.com/v1.0"

    first = httpx.get(f"{base}/me/events?$top=2", headers=headers, timeout=30).json()
    second = httpx.get(first["@odata.nextLink"], headers=headers, timeout=30).json()
    one = httpx.get(
        f"{base}/me/events/{first['value'][0]['id']}", headers=headers, timeout=30
    ).json()
    missing = httpx.get(f"{base}/me/events/nope", headers=headers, timeout=30)

    assert [e["subject"] for e in first["value"] + second["value"]] == [
        "Meeting 0",
        "Meeting 1",
        "Meeting 2",
    ]
    assert "@odata.nextLink" not in second
    assert set(one) >= EVENT_FIELDS
    assert one["start"] == {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ErrorItemNotFound"


async def test_graph_sdk_creates_renews_and_deletes_a_subscription_and_reads_events(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    client = graph_client(sandbox.url, microsoft_tokens(sandbox)["access_token"])
    sandbox.control("POST", "microsoftgraph/events", {"subject": "SDK meeting"})

    created = await client.subscriptions.post(
        Subscription(
            change_type="created,updated",
            notification_url=f"{receiver.url}/echo/sdk",
            resource="me/events",
            expiration_date_time=clock.now() + timedelta(hours=1),
            client_state="sdk-state",
        )
    )
    assert created is not None and created.id
    later = clock.now() + timedelta(days=2)
    renewed = await client.subscriptions.by_subscription_id(created.id).patch(
        Subscription(expiration_date_time=later)
    )
    events = await client.me.events.get()
    await client.subscriptions.by_subscription_id(created.id).delete()
    remaining = await client.subscriptions.get()

    assert created.application_id == "pollhub-test-client"
    assert renewed is not None and renewed.expiration_date_time is not None
    assert abs((renewed.expiration_date_time - later).total_seconds()) < 1
    assert events is not None and [e.subject for e in events.value or []] == ["SDK meeting"]
    assert remaining is not None and remaining.value == []
    assert isinstance(created.expiration_date_time, datetime)
