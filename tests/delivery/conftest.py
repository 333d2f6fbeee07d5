"""Fixtures for delivery: instances with callback URLs, a real local receiver, dispatchers.

The receiver is an aiohttp server on 127.0.0.1 in the test's own event loop; what it
answers is set per test (fail N times, hang, be down), and it records every request.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.models import Instance, Notification
from pollhub.delivery.dispatcher import Dispatcher
from pollhub.delivery.outbox import ChangeEvent, enqueue_polled_changes
from pollhub.settings import get_settings
from pollhub.tenancy.secrets import hash_secret, new_secret
from tests.conftest import Tenant

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    """One request the receiver got."""

    event_id: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A callback receiver on 127.0.0.1; ``answer`` decides each response."""

    port: int
    requests: list[Received] = field(default_factory=list)
    answer: Handler | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def ids(self) -> list[str]:
        return [r.event_id for r in self.requests]

    async def wait_until(self, predicate: Callable[[Receiver], bool], seconds: float) -> None:
        """Return once ``predicate(self)`` holds, re-checked at every request that arrives."""
        async with asyncio.timeout(seconds), self._arrived:
            await self._arrived.wait_for(lambda: predicate(self))

    def duplicates(self) -> dict[str, int]:
        return {i: n for i, n in Counter(self.ids()).items() if n > 1}

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Go down: connections to the port are refused until :meth:`start`."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Received(request.headers.get("Elements-Webhook-Id", ""), dict(request.headers), body)
        )
        async with self._arrived:
            self._arrived.notify_all()
        if self.answer is not None:
            return await self.answer(request)
        return web.json_response({"ok": True})


def fail_times(n: int, status: int = 500, headers: dict[str, str] | None = None) -> Handler:
    """Answer ``status`` to the first ``n`` requests, then 200."""
    seen = 0

    async def answer(request: web.Request) -> web.StreamResponse:
        nonlocal seen
        seen += 1
        if seen <= n:
            return web.Response(status=status, text="receiver is unwell", headers=headers)
        return web.json_response({"ok": True})

    return answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A running receiver that answers 200 until told otherwise."""
    r = Receiver(port=free_port())
    await r.start()
    yield r
    r.release.set()
    await r.stop()


@pytest.fixture
def allow_private(settings_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Callbacks to 127.0.0.1 allowed (the receivers live here)."""
    monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_CALLBACKS", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def add_instance(
    session: AsyncSession,
    tenant: Tenant,
    callback_url: str,
    *,
    signature_key: str | None = None,
    events_enabled: bool = True,
    name: str = "My OneDrive",
) -> Instance:
    """An instance row, as the /instances API would have stored it, committed."""
    now = clock.now()
    token = new_secret()
    configuration: dict[str, Any] = {"event.notification.enabled": events_enabled}
    if callback_url:
        configuration["event.notification.callback.url"] = callback_url
    secrets = {"oauth.user.token": "access"}
    if signature_key:
        secrets["event.notification.signature.key"] = signature_key
    instance = Instance(
        organization_id=tenant.organization_id,
        user_id=tenant.user_id,
        element_key="onedrivev2",
        name=name,
        tags=["docs"],
        token=token,
        token_hash=hash_secret(token),
        configuration=configuration,
        secrets=secrets,
        valid=True,
        disabled=False,
        events_enabled=events_enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(instance)
    await session.commit()
    return instance


def changes(count: int, start: int = 0, object_type: str = "files") -> list[ChangeEvent]:
    """``count`` CREATED changes of objects ``f{start}``, ``f{start+1}``, …"""
    date = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
    return [
        ChangeEvent("CREATED", f"f{i}", object_type, date, {"id": f"f{i}", "name": f"n{i}"})
        for i in range(start, start + count)
    ]


async def enqueue(
    session: AsyncSession, instance: Instance, count: int = 1, start: int = 0
) -> list[Notification]:
    """Enqueue ``count`` notifications of one change each for ``instance``, committed."""
    added: list[Notification] = []
    for i in range(start, start + count):
        added += await enqueue_polled_changes(
            session,
            instance,
            hub_key="documents",
            object_type="files",
            events=changes(1, i),
            poll_date=clock.now(),
        )
    await session.commit()
    return added


async def notifications(session: AsyncSession) -> list[Notification]:
    """Every notification as stored now, oldest first."""
    query = select(Notification).order_by(Notification.id)
    return list(await session.scalars(query.execution_options(populate_existing=True)))


@pytest.fixture
async def dispatcher(
    allow_private: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Dispatcher]:
    """A dispatcher with a short timeout, allowed to call the local receiver."""
    async with Dispatcher(sessionmaker, worker_id="test-worker", timeout_seconds=1.0) as d:
        yield d


async def drain(dispatcher: Dispatcher, passes: int = 50) -> int:
    """Run passes until nothing is due; returns the attempts made."""
    total = 0
    for _ in range(passes):
        made = await dispatcher.deliver_due()
        if not made:
            return total
        total += made
    return total
