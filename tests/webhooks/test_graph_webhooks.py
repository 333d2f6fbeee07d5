"""Microsoft Graph webhooks (respx-mocked Graph): subscriptions, the receiver, upkeep."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.models import Notification, WebhookSubscription
from pollhub.oauth.tokens import TokenKeeper
from pollhub.webhooks import inbox, subscriptions
from tests import seeds
from tests.conftest import GRAPH_SUBSCRIPTIONS, Tenant

API = "/elements/api-v2"
EVENTS = "https://graph.microsoft.com/v1.0/me/events"


async def create_graph_instance(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    response = await client.post(
        f"{API}/instances", json=seeds.filled(seeds.MICROSOFTGRAPH), headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def subscription(session: AsyncSession) -> WebhookSubscription:
    session.expire_all()
    row = await session.scalar(select(WebhookSubscription))
    assert row is not None
    return row


def notification(row: WebhookSubscription, change: str, event_id: str, etag: str) -> dict[str, Any]:
    return {
        "value": [
            {
                "subscriptionId": row.subscription_id,
                "subscriptionExpirationDateTime": "2026-11-30T00:00:00Z",
                "clientState": row.client_state,
                "changeType": change,
                "resource": f"Users/u1/Events/{event_id}",
                "tenantId": "t1",
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": f"Users/u1/Events/{event_id}",
                    "@odata.etag": etag,
                    "id": event_id,
                },
            }
        ]
    }


def lifecycle(row: WebhookSubscription, event: str) -> dict[str, Any]:
    return {
        "value": [
            {
                "subscriptionId": row.subscription_id,
                "lifecycleEvent": event,
                "clientState": row.client_state,
                "resource": "me/events",
            }
        ]
    }


async def outbox_events(session: AsyncSession) -> list[dict[str, Any]]:
    session.expire_all()
    bodies = await session.scalars(select(Notification.body).order_by(Notification.id))
    return [e for body in bodies for e in json.loads(body)["message"]["events"]]


async def test_creating_an_instance_subscribes_to_its_calendar(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)

    [call] = [c for c in providers.calls if str(c.request.url) == GRAPH_SUBSCRIPTIONS]
    body = json.loads(call.request.content)
    assert body["resource"] == "me/events"
    assert body["changeType"] == "created,updated,deleted"
    assert body["notificationUrl"].endswith(
        f"/elements/api-v2/events/microsoftgraph/{instance['id']}"
    )
    assert body["lifecycleNotificationUrl"] == body["notificationUrl"] + "/lifecycle"
    assert len(body["clientState"]) >= 32
    row = await subscription(session)
    assert row.client_state == body["clientState"]
    assert timedelta(days=6) < row.expires_at - clock.now() < timedelta(days=7)
    ids = instance["configuration"]["event.notification.subscription.id"]
    assert ids == row.subscription_id
    assert body["clientState"] not in json.dumps(instance)


async def test_the_receiver_answers_the_validation_handshake(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    instance = await create_graph_instance(client, tenant)

    response = await client.post(
        f"{API}/events/microsoftgraph/{instance['id']}?validationToken=Validation%3A%20abc"
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Validation: abc"


@pytest.mark.parametrize(
    ("change", "expected"),
    [("created", "CREATED"), ("updated", "UPDATED"), ("deleted", "DELETED")],
)
async def test_a_notification_becomes_an_event_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    change: str,
    expected: str,
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    body = notification(row, change, "ev1", 'W/"1"')

    first = await client.post(url, json=body)
    duplicate = await client.post(url, json=body)

    assert (first.status_code, duplicate.status_code) == (202, 202)
    events = await outbox_events(session)
    assert [(e["objectType"], e["objectId"], e["eventType"]) for e in events] == [
        ("events", "ev1", expected)
    ]
    session.expire_all()
    stored = await session.scalar(select(Notification))
    assert stored is not None
    # The vendor body as Graph sent it, less the subscription's secret (issue 16).
    sent = {k: v for k, v in body["value"][0].items() if k != "clientState"}
    assert json.loads(stored.body)["message"]["raw"] == {"value": [sent]}


async def test_a_wrong_client_state_or_unknown_subscription_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    forged = notification(row, "created", "ev1", 'W/"1"')
    forged["value"][0]["clientState"] = "guess"
    unknown = notification(row, "created", "ev2", 'W/"1"')
    unknown["value"][0]["subscriptionId"] = "not-ours"

    responses = [await client.post(url, json=body) for body in (forged, unknown)]

    assert [r.status_code for r in responses] == [403, 403]
    assert set(responses[0].json()) == {"requestId", "message"}
    assert await outbox_events(session) == []


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b'{"value": "nope"}', 400),
        (b'{"value": [{"changeType": "created"}]}', 400),
        (b"[]", 400),
        (b'{"value": [' + b'{"subscriptionId": "x"},' * 60000 + b'{"subscriptionId": "x"}]}', 413),
    ],
)
async def test_malformed_or_oversized_bodies_are_refused_without_a_500(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    content: bytes,
    status: int,
) -> None:
    instance = await create_graph_instance(client, tenant)

    response = await client.post(
        f"{API}/events/microsoftgraph/{instance['id']}",
        content=content,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == status


async def test_notifications_for_an_unknown_instance_are_a_404(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/events/microsoftgraph/999", json={"value": []})

    assert response.status_code == 404


async def maintain(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with httpx.AsyncClient() as http:
        return await subscriptions.maintain(sessionmaker, TokenKeeper(sessionmaker), http, "w1")


async def test_subscriptions_are_renewed_halfway_through_their_life(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await create_graph_instance(client, tenant)
    row = await subscription(session)
    first_expiry = row.expires_at
    assert await maintain(sessionmaker) == 0, "not due yet"

    clock.advance(timedelta(days=3, hours=12))
    handled = await maintain(sessionmaker)

    assert handled == 1
    [renewal] = [c for c in providers.calls if c.request.method == "PATCH"]
    assert str(renewal.request.url) == f"{GRAPH_SUBSCRIPTIONS}/{row.subscription_id}"
    renewed = await subscription(session)
    assert renewed.expires_at > first_expiry
    assert renewed.expires_at - clock.now() < timedelta(minutes=10080), "within Graph's maximum"


async def test_a_removed_subscription_is_recreated_and_caught_up(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    old_id = row.subscription_id
    providers.get(EVENTS).respond(
        json={"value": [{"id": "ev9", "@odata.etag": 'W/"9"', "subject": "Missed meeting"}]}
    )
    removed = lifecycle(row, "subscriptionRemoved")

    response = await client.post(
        f"{API}/events/microsoftgraph/{instance['id']}/lifecycle", json=removed
    )
    await maintain(sessionmaker)

    assert response.status_code == 202
    recreated = await subscription(session)
    assert recreated.subscription_id != old_id
    assert recreated.status == "active" and not recreated.needs_catch_up
    new_id = recreated.subscription_id
    events = await outbox_events(session)
    assert [(e["objectId"], e["eventType"]) for e in events] == [("ev9", "CREATED")]
    shown = await client.get(f"{API}/instances/{instance['id']}", headers=tenant.headers)
    assert shown.json()["configuration"]["event.notification.subscription.id"] == new_id


async def test_a_renewal_that_graph_no_longer_knows_recreates_the_subscription(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await create_graph_instance(client, tenant)
    old_id = (await subscription(session)).subscription_id
    providers.patch(url__startswith=f"{GRAPH_SUBSCRIPTIONS}/").respond(
        404, json={"error": {"code": "ResourceNotFound", "message": "gone"}}
    )
    providers.get(EVENTS).respond(json={"value": []})
    clock.advance(timedelta(days=4))

    await maintain(sessionmaker)

    assert (await subscription(session)).subscription_id != old_id


async def test_deleting_the_instance_deletes_its_subscriptions_at_graph(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)

    await client.delete(f"{API}/instances/{instance['id']}", headers=tenant.headers)

    [deletion] = [c for c in providers.calls if c.request.method == "DELETE"]
    assert str(deletion.request.url) == f"{GRAPH_SUBSCRIPTIONS}/{row.subscription_id}"
    session.expire_all()
    assert await session.scalar(select(WebhookSubscription)) is None


async def test_turning_events_off_deletes_the_subscriptions_and_on_recreates_them(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    url = f"{API}/instances/{instance['id']}"

    off = await client.patch(
        url, headers=tenant.headers, json={"configuration": {"event.notification.enabled": False}}
    )
    session.expire_all()
    none_left = await session.scalar(select(WebhookSubscription)) is None
    on = await client.patch(
        url, headers=tenant.headers, json={"configuration": {"event.notification.enabled": True}}
    )

    assert off.status_code == 200 and none_left
    assert "event.notification.subscription.id" not in off.json()["configuration"]
    assert on.status_code == 200
    assert on.json()["configuration"]["event.notification.subscription.id"]


async def test_graph_refusing_the_subscription_refuses_the_instance(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    providers.post(GRAPH_SUBSCRIPTIONS).respond(
        400,
        json={
            "error": {
                "code": "InvalidRequest",
                "message": "Subscription validation request failed. Notification endpoint "
                "must respond with 200 OK to validation request.",
            }
        },
    )

    response = await client.post(
        f"{API}/instances", json=seeds.filled(seeds.MICROSOFTGRAPH), headers=tenant.headers
    )

    assert response.status_code == 400
    assert "validation request failed" in response.json()["message"]
    assert (await client.get(f"{API}/instances", headers=tenant.headers)).json() == []


async def test_a_scope_without_a_subscribable_resource_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = seeds.filled(seeds.MICROSOFTGRAPH)
    body["configuration"]["oauth.scope"] = "User.Read offline_access"

    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)

    assert response.status_code == 400
    assert "oauth.scope" in response.json()["message"]


async def test_a_change_that_arrives_after_the_deletion_is_dropped(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    url = f"{API}/events/microsoftgraph/{instance['id']}"

    await client.post(url, json=notification(row, "deleted", "ev1", ""))
    await client.post(url, json=notification(row, "updated", "ev1", 'W/"2"'))

    events = await outbox_events(session)
    assert [(e["objectId"], e["eventType"]) for e in events] == [("ev1", "DELETED")]


async def _process_inbox(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with httpx.AsyncClient() as http:
        return await inbox.process_inbox(sessionmaker, TokenKeeper(sessionmaker), http, "w1")


async def _fetching_instance(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    body = seeds.filled(seeds.MICROSOFTGRAPH)
    body["configuration"]["event.notification.fetch.objects"] = "true"
    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_with_fetching_on_the_changed_object_is_fetched_after_the_202(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    instance = await _fetching_instance(client, tenant)
    row = await subscription(session)
    event = {"id": "ev1", "subject": "Standup", "@odata.etag": 'W/"1"'}
    fetched = providers.get(f"{EVENTS}/ev1").respond(json=event)
    url = f"{API}/events/microsoftgraph/{instance['id']}"

    accepted = await client.post(url, json=notification(row, "created", "ev1", 'W/"1"'))
    before = await outbox_events(session)
    handled = await _process_inbox(sessionmaker)

    assert accepted.status_code == 202 and before == [], "fetching waits for a worker"
    assert handled == 1 and fetched.called
    session.expire_all()
    stored = await session.scalar(select(Notification))
    assert stored is not None
    message = json.loads(stored.body)["message"]
    assert [(e["objectId"], e["eventType"]) for e in message["events"]] == [("ev1", "CREATED")]
    assert message["raw"]["value"][0]["resourceObject"] == event
    assert await _process_inbox(sessionmaker) == 0, "the inbox is empty"


async def test_a_fetch_that_keeps_failing_still_delivers_the_event(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    instance = await _fetching_instance(client, tenant)
    row = await subscription(session)
    providers.get(f"{EVENTS}/ev1").respond(500, json={"error": {"code": "x", "message": "down"}})
    await client.post(
        f"{API}/events/microsoftgraph/{instance['id']}",
        json=notification(row, "updated", "ev1", 'W/"2"'),
    )

    for _ in range(inbox.MAX_ATTEMPTS):
        clock.advance(timedelta(minutes=1))
        await _process_inbox(sessionmaker)

    events = await outbox_events(session)
    assert [(e["objectId"], e["eventType"]) for e in events] == [("ev1", "UPDATED")]
