"""Graph notifications (issue 16, items 6 and 8): the clientState goes no further than the
receiver, an old notification replayed emits nothing, and an object id no column can hold
is skipped (logged), never a 500."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub import worker
from pollhub.clock import clock
from pollhub.db.models import Notification, WebhookReceipt, WebhookSubscription
from pollhub.oauth.tokens import TokenKeeper
from pollhub.webhooks import inbox
from tests import seeds
from tests.conftest import Tenant
from tests.webhooks.test_graph_webhooks import (
    EVENTS,
    create_graph_instance,
    lifecycle,
    maintain,
    notification,
    outbox_events,
    subscription,
)

API = "/elements/api-v2"


async def test_the_client_state_is_never_stored_nor_shown(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    url = f"{API}/events/microsoftgraph/{instance['id']}"

    answer = await client.post(url, json=notification(row, "created", "e1", 'W/"1"'))
    history = await client.get(
        f"{API}/instances/{instance['id']}/events",
        params={"includeBody": "true"},
        headers=tenant.headers,
    )

    assert answer.status_code == 202
    bodies = list(await session.scalars(select(Notification.body)))
    assert bodies and all(row.client_state.encode() not in body for body in bodies)
    assert json.loads(bodies[0])["message"]["raw"]["value"][0]["subscriptionId"]
    assert row.client_state not in history.text


def versions_of_e1(row: WebhookSubscription, count: int) -> list[dict[str, Any]]:
    """Graph's notifications for event e1: created at version 1, then each update."""
    return [
        notification(row, "created" if v == 1 else "updated", "e1", f'W/"{v}"')
        for v in range(1, count + 1)
    ]


async def post_all(client: httpx.AsyncClient, url: str, *bodies: dict[str, Any]) -> None:
    """Deliver notifications in turn, each accepted."""
    for body in bodies:
        assert (await client.post(url, json=body)).status_code == 202


async def test_a_replayed_old_creation_emits_nothing(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    created, updated = versions_of_e1(await subscription(session), 2)
    url = f"{API}/events/microsoftgraph/{instance['id']}"

    await post_all(client, url, created, updated, created)

    assert [e["eventType"] for e in await outbox_events(session)] == ["CREATED", "UPDATED"]


async def test_a_replayed_old_update_emits_nothing_and_a_fresh_one_emits_one_event(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    created, first_update, second_update, fresh = versions_of_e1(await subscription(session), 4)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    await post_all(client, url, created, first_update, second_update)

    await post_all(client, url, first_update, first_update)
    before = [e["eventType"] for e in await outbox_events(session)]
    await post_all(client, url, fresh)

    assert before == ["CREATED", "UPDATED", "UPDATED"]
    assert [e["eventType"] for e in await outbox_events(session)] == [*before, "UPDATED"]


async def test_a_replayed_old_delete_emits_nothing_and_a_fresh_one_emits_one_event(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    [created] = versions_of_e1(row, 1)
    deleted, fresh = (notification(row, "deleted", e, "") for e in ("e1", "e2"))
    await post_all(client, url, created, deleted)

    await post_all(client, url, deleted, deleted, fresh)

    events = [(e["objectId"], e["eventType"]) for e in await outbox_events(session)]
    assert events == [("e1", "CREATED"), ("e1", "DELETED"), ("e2", "DELETED")]


async def test_a_late_notification_never_processed_still_emits_one_event(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    # Graph promises no order: version 2's notification may arrive after version 3's. It
    # is news pollhub never had (so one event), and its repeats are not.
    instance = await create_graph_instance(client, tenant)
    created, late, newest = versions_of_e1(await subscription(session), 3)
    url = f"{API}/events/microsoftgraph/{instance['id']}"

    await post_all(client, url, created, newest, late, late)

    assert [e["eventType"] for e in await outbox_events(session)] == [
        "CREATED",
        "UPDATED",
        "UPDATED",
    ]


async def test_a_replay_of_a_version_caught_up_by_a_read_emits_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Graph said "missed"; the catch-up read reported version 2, a notification then
    # reported version 3: version 2's notification, arriving now, is older news.
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    await client.post(url, json=notification(row, "created", "e1", 'W/"1"'))
    providers.get(EVENTS).respond(json={"value": [{"id": "e1", "@odata.etag": 'W/"2"'}]})
    await client.post(f"{url}/lifecycle", json=lifecycle(row, "missed"))
    await maintain(sessionmaker)
    await client.post(url, json=notification(row, "updated", "e1", 'W/"3"'))

    late = await client.post(url, json=notification(row, "updated", "e1", 'W/"2"'))

    assert late.status_code == 202
    assert [e["eventType"] for e in await outbox_events(session)] == [
        "CREATED",
        "UPDATED",
        "UPDATED",
    ]


async def test_replays_and_a_fresh_change_arriving_at_once_emit_one_event(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    # As with several API processes sharing the database: the receivers see the same
    # notifications at once, each on a connection of its own.
    instance = await create_graph_instance(client, tenant)
    created, old, newest, fresh = versions_of_e1(await subscription(session), 4)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    await post_all(client, url, created, old, newest)

    answers = await asyncio.gather(*(client.post(url, json=b) for b in [old, fresh] * 3))

    assert {a.status_code for a in answers} == {202}
    assert [e["eventType"] for e in await outbox_events(session)] == [
        "CREATED",
        "UPDATED",
        "UPDATED",
        "UPDATED",
    ]


@pytest.mark.parametrize("object_id", ["x" * 501, "bad\x00id"])
async def test_an_object_id_no_column_can_hold_is_skipped_and_logged(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
    object_id: str,
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    body = notification(row, "created", "fine", 'W/"1"')
    odd = notification(row, "created", object_id, 'W/"1"')["value"][0]
    body["value"].append(odd)

    with caplog.at_level(logging.WARNING):
        answer = await client.post(f"{API}/events/microsoftgraph/{instance['id']}", json=body)

    assert answer.status_code == 202
    assert [e["objectId"] for e in await outbox_events(session)] == ["fine"]
    assert "object id is empty, over 500 characters or holds a NUL" in caplog.text


async def receipts_of(session: AsyncSession) -> list[str]:
    """The fingerprints every subscription remembers having processed."""
    session.expire_all()
    return list(await session.scalars(select(WebhookReceipt.fingerprint)))


async def test_receipts_past_the_retention_are_pruned_and_recent_ones_still_refuse_replays(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    instance = await create_graph_instance(client, tenant)
    created, first, second, newest = versions_of_e1(await subscription(session), 4)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    await post_all(client, url, created, first)
    clock.advance(timedelta(days=20))
    await post_all(client, url, second, newest)
    written = len(await receipts_of(session))
    clock.advance(timedelta(days=15))  # the first two are 35 days old, the others 15 (< 30)

    await worker.prune(sessionmaker)
    await post_all(client, url, second, created)

    assert written == 4
    assert len(await receipts_of(session)) == 2, "only receipts within the window are kept"
    assert [e["eventType"] for e in await outbox_events(session)] == [
        "CREATED",
        "UPDATED",
        "UPDATED",
        "UPDATED",
    ], "a replay within the window, and a replayed creation, still emit nothing"


async def test_turning_events_off_drops_the_subscriptions_receipts(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    await post_all(
        client,
        f"{API}/events/microsoftgraph/{instance['id']}",
        *versions_of_e1(await subscription(session), 2),
    )
    before = len(await receipts_of(session))

    await client.patch(
        f"{API}/instances/{instance['id']}",
        headers=tenant.headers,
        json={"configuration": {"event.notification.enabled": False}},
    )

    assert before == 2
    assert await receipts_of(session) == []


DRIVE_ROOT = "https://graph.microsoft.com/v1.0/me/drive/items/root"


async def process_inbox(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """What the worker does until no webhook event waits for its object (one row of an
    instance per pass, oldest first)."""
    async with httpx.AsyncClient() as http:
        while await inbox.process_inbox(sessionmaker, TokenKeeper(sessionmaker), http, "w1"):
            pass


def drive_notification(row: WebhookSubscription, resource_data: bool) -> dict[str, Any]:
    """OneDrive's notification: "something under the root changed", no id, no etag
    (Graph sends ``resourceData`` with only ``@odata.type``; the sandbox sends none)."""
    entry: dict[str, Any] = {
        "subscriptionId": row.subscription_id,
        "subscriptionExpirationDateTime": "2026-11-30T00:00:00Z",
        "clientState": row.client_state,
        "changeType": "updated",
        "resource": "me/drive/root",
        "tenantId": "t1",
    }
    if resource_data:
        entry["resourceData"] = {"@odata.type": "#Microsoft.Graph.DriveItem"}
    return {"value": [entry]}


def drive_root(version: int) -> dict[str, Any]:
    """The drive's root folder as Graph reads it: its eTag moves with every change below
    it, its lastModifiedDateTime does not."""
    return {
        "id": "01ROOT",
        "name": "root",
        "root": {},
        "folder": {"childCount": version},
        "lastModifiedDateTime": "2026-11-20T10:00:00Z",
        "eTag": f'"{{D1D1D1D1-0000-0000-0000-000000000000}},{version}"',
    }


@pytest.mark.parametrize("resource_data", [True, False], ids=["graph", "sandbox"])
async def test_each_change_of_a_drive_emits_one_event_and_a_replay_none(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    resource_data: bool,
) -> None:
    body = seeds.filled(seeds.MICROSOFTGRAPH)
    body["configuration"].update({"oauth.scope": "Files.Read offline_access"})
    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    notified = drive_notification(await subscription(session), resource_data)
    url = f"{API}/events/microsoftgraph/{created.json()['id']}"
    root = providers.get(DRIVE_ROOT)
    seen = []

    for version in (1, 2, 2):  # a change, another change, then the last notification again
        root.respond(json=drive_root(version))
        await post_all(client, url, notified)
        await process_inbox(sessionmaker)
        seen.append([(e["objectId"], e["eventType"]) for e in await outbox_events(session)])

    assert seen == [
        [("root", "UPDATED")],
        [("root", "UPDATED"), ("root", "UPDATED")],
        [("root", "UPDATED"), ("root", "UPDATED")],
    ]


async def test_events_notified_while_a_drive_change_waits_for_its_read_come_after_it(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = seeds.filled(seeds.MICROSOFTGRAPH)
    body["configuration"].update({"event.objects": "driveItems,events"})
    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    rows = {r.object_type: r for r in await session.scalars(select(WebhookSubscription))}
    url = f"{API}/events/microsoftgraph/{created.json()['id']}"
    providers.get(DRIVE_ROOT).respond(json=drive_root(1))

    await post_all(
        client,
        url,
        drive_notification(rows["driveItems"], True),
        notification(rows["events"], "created", "e1", 'W/"1"'),
    )
    await process_inbox(sessionmaker)

    events = [(e["objectId"], e["eventType"]) for e in await outbox_events(session)]
    assert events == [("root", "UPDATED"), ("e1", "CREATED")]
