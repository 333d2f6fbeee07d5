"""Graph changes made while pollhub's database is down arrive once it is back, exactly once,
whether Graph's retries outlast the outage or give up before it ends.

pollhub (API and worker, ``pollhub serve``) reaches PostgreSQL through a TCP proxy that the
test takes down and brings back: every connection is cut and new ones are refused, as when
the database server stops.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from pollhub.settings import get_settings
from tests import seeds
from tests.conftest import Tenant
from tests.live import LiveServer, Receiver, free_port

API = "/elements/api-v2"
CONTROL = "/sandbox/control/microsoftgraph/events"


class DatabaseProxy:
    """A TCP proxy to the database that can be taken down (connections cut and refused)."""

    def __init__(self, host: str, port: int) -> None:
        self.port = free_port()
        self._target = (host, port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def up(self) -> None:
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    def down(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)

    def stop(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, RuntimeError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)


@pytest.fixture
def database_proxy(settings_env: str) -> Iterator[DatabaseProxy]:
    if not settings_env.startswith("postgresql"):
        pytest.skip("the outage is a PostgreSQL server going away; this is its run's test")
    url = make_url(settings_env)
    proxy = DatabaseProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    yield proxy
    proxy.stop()


def _pollhub(
    monkeypatch: pytest.MonkeyPatch, database_url: str, proxy: DatabaseProxy, time_scale: float
) -> LiveServer:
    """``pollhub serve`` with the sandbox, on the database through ``proxy``."""
    from pollhub.app import create_app

    port = free_port()
    proxied = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    monkeypatch.setenv("POLLHUB_DATABASE_URL", proxied.render_as_string(hide_password=False))
    monkeypatch.setenv("POLLHUB_SANDBOX", "true")
    monkeypatch.setenv("POLLHUB_SANDBOX_NOTIFICATION_TIME_SCALE", str(time_scale))
    monkeypatch.setenv("POLLHUB_PUBLIC_URL", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    return LiveServer(create_app(with_worker=True), port)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def _wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.2)


def _received(recorder: Receiver) -> list[tuple[str, str]]:
    """Events by callback, a callback repeated with the same webhook id counted once: a
    callback answered 2xx just as the database went away is sent again (at least once)."""
    callbacks = {c.headers["elements-webhook-id"]: c for c in recorder.callbacks}
    return [
        (e["objectId"], e["eventType"])
        for callback in callbacks.values()
        for e in callback.json["message"]["events"]
    ]


# Four hours of Graph retries in 1.44 s (given up long before the database is back), and
# in 144 s (still retrying when it is back).
@pytest.mark.parametrize("graph_retries_for", [1.44, 144.0], ids=["gives-up", "outlasts"])
async def test_graph_changes_made_while_the_database_is_down_arrive_exactly_once(
    graph_retries_for: float,
    settings_env: str,
    sessionmaker: object,
    tenant: Tenant,
    receiver: tuple[Receiver, str],
    database_proxy: DatabaseProxy,
    monkeypatch: pytest.MonkeyPatch,
    http: httpx.AsyncClient,
) -> None:
    recorder, callback_url = receiver
    server = _pollhub(monkeypatch, settings_env, database_proxy, graph_retries_for / 14400)
    with server:
        base = server.url
        body = seeds.filled(seeds.MICROSOFTGRAPH)
        body["configuration"]["event.notification.callback.url"] = callback_url
        created = await http.post(f"{base}{API}/instances", json=body, headers=tenant.headers)
        assert created.status_code == 200, created.text
        kept = (await http.post(f"{base}{CONTROL}", json={"subject": "Kept"})).json()["id"]
        doomed = (await http.post(f"{base}{CONTROL}", json={"subject": "Doomed"})).json()["id"]
        await _wait_for(lambda: len(recorder.events()) >= 2, seconds=20)

        database_proxy.down()
        born = (await http.post(f"{base}{CONTROL}", json={"subject": "Born"})).json()["id"]
        await http.patch(f"{base}{CONTROL}/{kept}", json={"subject": "Kept (moved)"})
        await http.delete(f"{base}{CONTROL}/{doomed}")
        await asyncio.sleep(max(3.0, graph_retries_for if graph_retries_for < 10 else 0))
        deliveries = (await http.get(f"{base}/sandbox/control/notifications")).json()
        refused = [d for d in deliveries["deliveries"][2:] if not d["delivered"]]
        assert len(refused) == 3, "the receiver could not store them"
        database_proxy.up()

        expected = [
            (kept, "CREATED"),
            (doomed, "CREATED"),
            (born, "CREATED"),
            (kept, "UPDATED"),
            (doomed, "DELETED"),
        ]
        await _wait_for(lambda: len(recorder.events()) >= len(expected), seconds=30)
        if graph_retries_for > 10:
            # Graph's retries (the next comes seconds later) must not report anything twice.
            await http.post(f"{base}/sandbox/control/notifications/drain", timeout=200)
        await asyncio.sleep(2)

    received = _received(recorder)
    assert Counter(received[:2]) == Counter(expected[:2]), "before the outage"
    assert Counter(received) == Counter(expected), received
