"""The event history API: listing, paging, one event, redelivery, isolation, pruning."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Instance
from pollhub.delivery.dispatcher import Dispatcher
from pollhub.delivery.service import prune_delivered
from tests.conftest import Tenant
from tests.delivery.conftest import (
    Receiver,
    add_instance,
    drain,
    enqueue,
    fail_times,
    notifications,
)

API = "/elements/api-v2"


async def fail_one_and_deliver_two(
    session: AsyncSession, instance: Instance, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """Leave ``instance`` with one failed notification followed by two delivered ones."""
    receiver.answer = fail_times(1, status=500)
    await enqueue(session, instance, count=3)
    (await notifications(session))[0].attempts = 9  # the first is on its last try
    await session.commit()
    await drain(dispatcher)


async def test_the_history_lists_every_notification_with_its_delivery_status(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    await fail_one_and_deliver_two(session, instance, receiver, dispatcher)

    response = await client.get(f"{API}/instances/{instance.id}/events", headers=tenant.headers)

    assert response.status_code == 200, response.text
    assert response.headers["Elements-Total-Count"] == "3"
    newest, middle, oldest = response.json()
    assert oldest["status"] == "failed"
    assert oldest["attempts"] == 10 and oldest["lastResponseCode"] == 500
    assert "HTTP 500" in oldest["lastError"] and oldest["deliveredDate"] is None
    assert newest["status"] == middle["status"] == "delivered"
    assert newest["lastResponseCode"] == 200 and newest["deliveredDate"]
    assert newest["eventTypes"] == ["CREATED"] and newest["eventCount"] == 1
    assert newest["objectType"] == "files" and newest["body"] is None
    assert newest["createdDate"] and newest["nextAttemptDate"] is None


async def test_the_history_filters_by_status_and_shows_bodies_on_request(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    await fail_one_and_deliver_two(session, instance, receiver, dispatcher)

    response = await client.get(
        f"{API}/instances/{instance.id}/events",
        params={"status": "failed", "includeBody": "true"},
        headers=tenant.headers,
    )

    [failed] = response.json()
    assert failed["status"] == "failed"
    assert failed["body"]["message"]["eventId"] == failed["eventId"]
    bad = await client.get(
        f"{API}/instances/{instance.id}/events", params={"status": "lost"}, headers=tenant.headers
    )
    assert bad.status_code == 400 and "status" in bad.json()["message"]


async def test_the_history_pages_by_number_and_by_token(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://client.example.com/events")
    queued = await enqueue(session, instance, count=5)
    newest_first = [n.event_id for n in reversed(queued)]
    url = f"{API}/instances/{instance.id}/events"

    page2 = await client.get(url, params={"pageSize": 2, "page": 2}, headers=tenant.headers)
    seen, token = [], None
    while True:
        params: dict[str, str | int] = {"pageSize": 2}
        if token:
            params["nextPage"] = token
        response = await client.get(url, params=params, headers=tenant.headers)
        seen += [e["eventId"] for e in response.json()]
        token = response.headers.get("Elements-Next-Page-Token")
        if not token:
            break

    assert [e["eventId"] for e in page2.json()] == newest_first[2:4]
    assert seen == newest_first
    bad = await client.get(url, params={"nextPage": "garbage!"}, headers=tenant.headers)
    assert bad.status_code == 400


async def test_one_event_is_shown_with_its_exact_body(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://client.example.com/events")
    [queued] = await enqueue(session, instance)

    response = await client.get(
        f"{API}/instances/{instance.id}/events/{queued.event_id}", headers=tenant.headers
    )
    missing = await client.get(f"{API}/instances/{instance.id}/events/nope", headers=tenant.headers)

    assert response.status_code == 200
    assert response.json()["status"] == "pending" and response.json()["nextAttemptDate"]
    assert response.json()["body"]["message"]["events"][0]["objectId"] == "f0"
    assert missing.status_code == 404


async def test_a_failed_event_is_redelivered_on_request_with_a_fresh_schedule(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    await fail_one_and_deliver_two(session, instance, receiver, dispatcher)
    failed = (await notifications(session))[0]

    response = await client.post(
        f"{API}/instances/{instance.id}/events/{failed.event_id}/redeliver",
        headers=tenant.headers,
    )
    again = await client.post(
        f"{API}/instances/{instance.id}/events/{failed.event_id}/redeliver",
        headers=tenant.headers,
    )
    await drain(dispatcher)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending" and response.json()["attempts"] == 0
    assert again.status_code == 409  # already queued
    stored = (await notifications(session))[0]
    assert stored.status == "delivered" and stored.attempts == 1
    assert receiver.ids().count(failed.event_id) == 2


async def test_a_delivered_event_can_be_sent_again(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    [queued] = await enqueue(session, instance)
    await drain(dispatcher)

    response = await client.post(
        f"{API}/instances/{instance.id}/events/{queued.event_id}/redeliver",
        headers=tenant.headers,
    )
    await drain(dispatcher)

    assert response.status_code == 200
    assert receiver.ids() == [queued.event_id, queued.event_id]


async def test_every_failed_event_since_a_time_is_redelivered_in_order(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    dispatcher: Dispatcher,
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    old = await enqueue(session, instance, count=1)
    clock.advance(timedelta(hours=2))
    since = clock.now() - timedelta(hours=1)
    recent = await enqueue(session, instance, count=3, start=1)
    for notification in await notifications(session):
        notification.status, notification.attempts = "failed", 10
    await session.commit()

    response = await client.post(
        f"{API}/instances/{instance.id}/events/redeliver",
        params={"status": "failed", "since": since.isoformat()},
        headers=tenant.headers,
    )
    await drain(dispatcher)

    assert response.status_code == 200 and response.json() == {"redelivered": 3}
    assert receiver.ids() == [n.event_id for n in recent]
    assert [n.status for n in await notifications(session)] == ["failed"] + ["delivered"] * 3
    assert old[0].event_id not in receiver.ids()


async def test_another_organizations_events_are_not_found(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://client.example.com/events")
    [queued] = await enqueue(session, instance)
    base = f"{API}/instances/{instance.id}/events"

    answers = [
        await client.get(base, headers=other_tenant.headers),
        await client.get(f"{base}/{queued.event_id}", headers=other_tenant.headers),
        await client.post(f"{base}/{queued.event_id}/redeliver", headers=other_tenant.headers),
        await client.post(f"{base}/redeliver", headers=other_tenant.headers),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert all(queued.event_id not in a.text for a in answers)
    unauthenticated = await client.get(base)
    assert unauthenticated.status_code == 401


async def test_delivered_notifications_older_than_the_retention_are_pruned(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    await fail_one_and_deliver_two(session, instance, receiver, dispatcher)

    kept = await prune_delivered(session, clock.now() + timedelta(days=6))
    pruned = await prune_delivered(session, clock.now() + timedelta(days=8))
    await session.commit()

    assert (kept, pruned) == (0, 2)
    assert [n.status for n in await notifications(session)] == ["failed"]
