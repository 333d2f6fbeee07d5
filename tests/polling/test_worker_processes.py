"""Real worker processes: one killed mid-poll has its poll taken over within seconds, and
two share one organization's polls without polling any resource twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Instance, PollState
from pollhub.elements import catalog
from tests.conftest import Tenant
from tests.delivery.conftest import free_port

ONEDRIVE = catalog()["onedrivev2"]

POLLHUB = str(Path(sys.executable).with_name("pollhub"))


class Drive:
    """A OneDrive delta feed on a local port: every delta link is answered with an empty
    page and a new link, after ``latency`` seconds; requests are counted per link, and
    ``hang_first`` holds the first."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[float, str]] = []
        self.hang_first = False
        self.latency = 0.0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/delta/{link}", self._delta)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, seconds: float) -> None:
        async with asyncio.timeout(seconds):
            while len(self.requests) < count:  # noqa: ASYNC110 - fed by the server's handler
                await asyncio.sleep(0.05)

    async def _delta(self, request: web.Request) -> web.StreamResponse:
        link = request.match_info["link"]
        self.requests.append((time.monotonic(), link))
        if self.hang_first and len(self.requests) == 1:
            await asyncio.sleep(60)  # the worker dies meanwhile
        await asyncio.sleep(self.latency)
        return web.json_response({"value": [], "@odata.deltaLink": f"{self.url}/delta/{link}-next"})


@pytest.fixture
async def drive() -> AsyncIterator[Drive]:
    served = Drive()
    await served.start()
    yield served
    await served.stop()


async def add_polled_drives(
    session: AsyncSession, tenant: Tenant, drive: Drive, count: int
) -> None:
    """``count`` OneDrive instances of one organization, each due now at its own link."""
    now = clock.now()
    configuration = {
        "event.notification.enabled": True,
        "event.notification.callback.url": "http://127.0.0.1:9/never-called",
        "event.poller.refresh_interval": 1,
        "event.poller.configuration": ONEDRIVE.default_poller_configuration(),
    }
    ids = (
        await session.scalars(
            insert(Instance).returning(Instance.id),
            [
                {
                    "organization_id": tenant.organization_id,
                    "user_id": tenant.user_id,
                    "element_key": ONEDRIVE.key,
                    "name": f"drive {i}",
                    "tags": [],
                    "token": f"t{i}",
                    "token_hash": f"drive-{i}",
                    "configuration": configuration,
                    "secrets": {"oauth.user.token": "access", "oauth.api.key": "app"},
                    "access_token_expires_at": now + timedelta(days=1),
                    "valid": True,
                    "disabled": False,
                    "events_enabled": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(count)
            ],
        )
    ).all()
    await session.execute(
        insert(PollState),
        [
            {
                "instance_id": instance_id,
                "organization_id": tenant.organization_id,
                "resource": "events",
                "cursor": {"deltaLink": f"{drive.url}/delta/d{instance_id}"},
                "next_poll_at": now - timedelta(seconds=1),
                "last_success_at": now - timedelta(minutes=1),
                "consecutive_failures": 0,
            }
            for instance_id in ids
        ],
    )
    await session.commit()


def start_worker(log: Path) -> subprocess.Popen[bytes]:
    """``pollhub worker`` on the test database, with default leases and concurrency,
    logging every poll."""
    environment = {
        **os.environ,
        "POLLHUB_ALLOW_PRIVATE_ADDRESSES": "true",
        "POLLHUB_LOG_LEVEL": "DEBUG",
    }
    with log.open("wb") as out:
        return subprocess.Popen([POLLHUB, "worker"], env=environment, stderr=out)


async def wait_until_started(log: Path, seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        started = False
        while not started:
            await asyncio.sleep(0.1)
            started = "poll worker" in await asyncio.to_thread(log.read_text, errors="replace")


async def test_a_poll_of_a_killed_worker_is_taken_over_within_15_seconds(
    session: AsyncSession, tenant: Tenant, drive: Drive, tmp_path: Path
) -> None:
    await add_polled_drives(session, tenant, drive, 1)
    drive.hang_first = True
    doomed = start_worker(tmp_path / "doomed.log")
    survivor = None
    try:
        await drive.wait_for(1, seconds=60)  # the poll is in flight, its lease held
        survivor = start_worker(tmp_path / "survivor.log")
        await wait_until_started(tmp_path / "survivor.log")
        await asyncio.sleep(1)  # the survivor has ticked and found nothing to take
        assert len(drive.requests) == 1
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        killed_at = time.monotonic()

        await drive.wait_for(2, seconds=30)
    finally:
        for worker in (doomed, survivor):
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)

    taken_over_at, link = drive.requests[1]
    assert link == drive.requests[0][1]  # the same poll, from the same cursor
    assert taken_over_at - killed_at <= 15


async def test_two_workers_share_one_organizations_polls_without_polling_any_twice(
    session: AsyncSession, tenant: Tenant, drive: Drive, tmp_path: Path
) -> None:
    # A provider's usual answer time. Without it one worker drained all 1,000 polls in
    # 0.6 s, within one tick of its own, and the other worker's next tick found none left;
    # with it one worker alone needs 2.5 s (200 at a time), and the other ticks meanwhile.
    drive.latency = 0.5
    logs = [tmp_path / f"worker-{k}.log" for k in range(2)]
    workers = [start_worker(log) for log in logs]
    try:
        for log in logs:
            await wait_until_started(log)
        await add_polled_drives(session, tenant, drive, 1000)
        await drive.wait_for(1000, seconds=120)
        await asyncio.sleep(3)  # anything polled twice would show up by now
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)

    polls = Counter(link for _, link in drive.requests)
    assert len(polls) == 1000
    assert set(polls.values()) == {1}
    done = [log.read_text(errors="replace").count("poll done") for log in logs]
    assert sum(done) == 1000 and min(done) > 0, done  # both took part
