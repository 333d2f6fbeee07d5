"""Worker processes: one killed mid-delivery loses nothing; two together never double up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.db.models import Notification
from tests.conftest import Tenant
from tests.delivery.conftest import Receiver, add_instance, enqueue

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    worker_id: str, lease_seconds: float, concurrency: int = 64
) -> subprocess.Popen[str]:
    """A dispatcher in its own process, on the test database (settings from the env)."""
    arguments = [worker_id, str(lease_seconds), str(concurrency)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.delivery.run_dispatcher", *arguments],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )


async def delivered_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).where(Notification.status == "delivered")
        return int(await session.scalar(query) or 0)


async def wait_until_delivered(
    sessionmaker: async_sessionmaker[AsyncSession], total: int, seconds: float
) -> None:
    # Polled: the database is the only place that knows, and it sends no signal.
    async with asyncio.timeout(seconds):
        while await delivered_count(sessionmaker) < total:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


def stop(worker: subprocess.Popen[str]) -> str:
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=10)
    return out


async def test_a_worker_killed_mid_delivery_loses_nothing_after_restart(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    record_property: Callable[[str, object], None],
) -> None:
    async def takes_a_while(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.15)
        return web.json_response({})

    receiver.answer = takes_a_while
    queued = []
    for i in range(6):
        instance = await add_instance(session, tenant, receiver.url, name=f"i{i}")
        queued += await enqueue(session, instance, count=6)
    lease = 1.5

    first = start_worker("first", lease)
    try:
        await receiver.wait_until(lambda r: len(r.requests) >= 10, seconds=20)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    seen_before_kill = len(receiver.requests)
    second = start_worker("second", lease)
    try:
        await wait_until_delivered(sessionmaker, len(queued), seconds=30)
    finally:
        stop(second)

    expected = {n.event_id for n in queued}
    duplicates = receiver.duplicates()
    record_property("duplicates_after_kill", len(duplicates))
    print(f"\nkilled after {seen_before_kill} requests; redelivered ids: {len(duplicates)}")
    assert set(receiver.ids()) == expected  # every event arrived
    assert await delivered_count(sessionmaker) == len(queued)
    # Only what was in flight when the worker died (one per instance) can arrive twice.
    assert len(duplicates) <= 6 and all(n == 2 for n in duplicates.values())
    assert 0 < seen_before_kill < len(queued)


async def test_two_workers_share_the_outbox_without_delivering_anything_twice(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several worker processes share an outbox through PostgreSQL")

    async def takes_a_moment(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.01)
        return web.json_response({})

    receiver.answer = takes_a_moment
    instances = [await add_instance(session, tenant, receiver.url, name=f"i{i}") for i in range(40)]
    # Both running before there is work, and each with fewer slots than there are
    # instances, so they really compete for the same rows.
    workers = [start_worker("a", 10, concurrency=8), start_worker("b", 10, concurrency=8)]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.to_thread(worker.stdout.readline)).strip() == "ready"
    queued = []
    for round_ in range(4):
        for instance in instances:
            queued += await enqueue(session, instance, count=1, start=round_)
    try:
        await wait_until_delivered(sessionmaker, len(queued), seconds=30)
    finally:
        outputs = [stop(w) for w in workers]

    assert sorted(receiver.ids()) == sorted(n.event_id for n in queued)
    assert receiver.duplicates() == {}
    attempts = [int(out.split("attempts ")[1]) for out in outputs]
    assert sum(attempts) == len(queued) and all(a > 0 for a in attempts), attempts
    # Each instance's notifications still arrived in the order they were found.
    arrival = {event_id: i for i, event_id in enumerate(receiver.ids())}
    for instance in instances:
        mine = [n.event_id for n in queued if n.instance_id == instance.id]
        assert [arrival[e] for e in mine] == sorted(arrival[e] for e in mine)
