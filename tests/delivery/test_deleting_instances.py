"""Deleting an instance whose callbacks are not all delivered: dropped and counted, or
(``?drain=true``) delivered first, then deleted by a worker."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.worker import run_worker
from tests.conftest import Tenant
from tests.delivery.conftest import Receiver, add_instance, enqueue, free_port, notifications

API = "/elements/api-v2"


async def test_deleting_an_instance_says_how_many_undelivered_callbacks_were_dropped(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, allow_private: None
) -> None:
    instance = await add_instance(session, tenant, f"http://127.0.0.1:{free_port()}/events")
    await enqueue(session, instance, count=3)

    answer = await client.delete(f"{API}/instances/{instance.id}", headers=tenant.headers)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "id": instance.id,
        "deleted": True,
        "droppedCallbacks": 3,
        "draining": False,
        "pendingCallbacks": 0,
    }
    assert await notifications(session) == []


async def test_draining_an_instance_without_pending_callbacks_deletes_it_at_once(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, allow_private: None
) -> None:
    instance = await add_instance(session, tenant, f"http://127.0.0.1:{free_port()}/events")

    answer = await client.delete(
        f"{API}/instances/{instance.id}", params={"drain": "true"}, headers=tenant.headers
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["deleted"] is True and answer.json()["droppedCallbacks"] == 0


async def test_draining_delivers_the_pending_callbacks_then_a_worker_deletes_the_instance(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    allow_private: None,
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    sent = await enqueue(session, instance, count=3)
    url = f"{API}/instances/{instance.id}"

    answer = await client.delete(url, params={"drain": "true"}, headers=tenant.headers)

    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "id": instance.id,
        "deleted": False,
        "droppedCallbacks": 0,
        "draining": True,
        "pendingCallbacks": 3,
    }
    shown = (await client.get(url, headers=tenant.headers)).json()
    assert shown["draining"] is True and shown["eventsEnabled"] is False
    refused = await client.patch(url, json={"name": "renamed"}, headers=tenant.headers)
    assert refused.status_code == 409 and "being deleted" in refused.json()["message"]

    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(sessionmaker, stop, worker_id="drainer"))
    try:
        for _ in range(150):  # up to 30 s
            if (await client.get(url, headers=tenant.headers)).status_code == 404:
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await worker

    assert (await client.get(url, headers=tenant.headers)).status_code == 404
    assert receiver.ids() == [n.event_id for n in sent]
    assert await notifications(session) == []
