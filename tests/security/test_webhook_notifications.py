"""Graph notifications (issue 16, items 6 and 8): the clientState goes no further than the
receiver, an old notification replayed emits nothing, and an object id no column can hold
is skipped (logged), never a 500."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Notification
from tests.conftest import Tenant
from tests.webhooks.test_graph_webhooks import (
    create_graph_instance,
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


async def test_a_replayed_old_notification_emits_nothing(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    instance = await create_graph_instance(client, tenant)
    row = await subscription(session)
    url = f"{API}/events/microsoftgraph/{instance['id']}"
    created = notification(row, "created", "e1", 'W/"1"')

    await client.post(url, json=created)
    await client.post(url, json=notification(row, "updated", "e1", 'W/"2"'))
    replay = await client.post(url, json=created)

    assert replay.status_code == 202
    assert [e["eventType"] for e in await outbox_events(session)] == ["CREATED", "UPDATED"]


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
