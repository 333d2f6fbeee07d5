"""``pollhub demo``: everything embedded, and the callbacks arriving live in the terminal.

It starts pollhub (API, worker, sandbox providers) on a fresh SQLite database, a client
application's callback receiver beside it, creates a demo organization with one instance
per element (the seed documents' bodies), and keeps changing the providers' data through
the sandbox's control API. Each callback that arrives becomes a row of the table.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiohttp import web
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pollhub.app import API_PREFIX, create_app
from pollhub.db import configuration as keys
from pollhub.db.engine import create_engine, create_sessionmaker
from pollhub.db.migrate import upgrade_to_head_async
from pollhub.sandbox.recipes import DEMO_CHANGES, DEMO_INSTANCES
from pollhub.settings import get_settings
from pollhub.tenancy.service import create_organization

CHANGE_EVERY_SECONDS = 1.5
SIGNATURE_KEY = "demo-signature-key"
# The demo organization's secrets, for signing in to the console (local demo data only).
DEMO_CREDENTIALS = Path("pollhub-demo-credentials.json")
REFRESH_MINUTES = "0.1"  # every 6 s: fast enough to watch


def configure_environment(port: int, database: Path) -> None:
    """Point pollhub at a fresh demo database and the sandbox (before settings are read)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.environ.update(
        {
            "POLLHUB_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "POLLHUB_SANDBOX": "true",
            "POLLHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "POLLHUB_MIN_REFRESH_SECONDS": "5",
            "POLLHUB_LOG_LEVEL": os.environ.get("POLLHUB_LOG_LEVEL", "WARNING"),
        }
    )
    get_settings.cache_clear()


def instance_bodies(callback_url: str) -> list[dict[str, Any]]:
    """One instance per element the sandbox simulates (the seed documents' bodies)."""
    events = {
        keys.EVENTS_ENABLED: "true",
        keys.CALLBACK_URL: callback_url,
        keys.SIGNATURE_KEY: SIGNATURE_KEY,
        keys.REFRESH_INTERVAL: REFRESH_MINUTES,
    }
    oauth = {
        keys.OAUTH_API_KEY: "demo-client-id",
        keys.OAUTH_API_SECRET: "demo-client-secret",
        keys.OAUTH_CALLBACK_URL: "https://www.yourcallbackurl.com/oauth2callback",
    }
    return [
        {
            "element": {"key": demo.element_key},
            "providerData": {"code": "demo-code"},
            "configuration": {**oauth, **events, **demo.configuration},
            "tags": ["demo"],
            "name": demo.name,
        }
        for demo in DEMO_INSTANCES
    ]


def signature_verdict(body: bytes, header: str | None, key: str = SIGNATURE_KEY) -> str:
    """What the demo client makes of a callback's ``Elements-Webhook-Signature``, checked
    as a client should: the HMAC-SHA256 of the exact body with the shared key."""
    if header is None:
        return "unsigned"
    expected = (
        "sha256=" + base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    )
    return "✓sig" if hmac.compare_digest(header, expected) else "✗sig BAD SIGNATURE"


@dataclass
class Board:
    """What the terminal shows: the latest callbacks and the counts."""

    rows: deque[tuple[str, ...]] = field(default_factory=lambda: deque(maxlen=18))
    received: int = 0
    changes: int = 0
    notes: list[str] = field(default_factory=list)
    # Rows not printed yet, for output that is not a terminal (one plain line each).
    unprinted: list[tuple[str, ...]] = field(default_factory=list)

    def add_callback(self, body: dict[str, Any], signature: str) -> None:
        message = body["message"]
        self.received += 1
        for event in message["events"]:
            row = (
                datetime.now().strftime("%H:%M:%S"),
                message["elementKey"],
                event["objectType"],
                event["eventType"],
                str(event["objectId"])[:28],
                f"delivered {signature}",
            )
            self.rows.appendleft(row)
            self.unprinted.append(row)

    def render(self, urls: str) -> Group:
        table = Table(title="Callbacks arriving at the demo client", expand=True)
        for column in ("time", "element", "objectType", "eventType", "objectId", "delivery"):
            table.add_column(column)
        for row in self.rows:
            style = {"CREATED": "green", "UPDATED": "yellow", "DELETED": "red"}.get(row[3])
            table.add_row(*row, style=style)
        counts = Text(
            f"{self.changes} changes made at the providers · "
            f"{self.received} callbacks received · Ctrl-C to stop",
            style="bold",
        )
        return Group(
            Text(urls), *(Text(note, style="dim") for note in self.notes[-6:]), table, counts
        )


async def run_demo(port: int, duration: float | None, console: Console) -> int:
    """Run the demo until Ctrl-C (or ``duration`` seconds); returns callbacks received."""
    settings = get_settings()
    await upgrade_to_head_async(settings.database_url)
    board = Board()
    receiver, receiver_port = await _start_receiver(board)
    callback_url = f"http://127.0.0.1:{receiver_port}/events"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(with_worker=True), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    urls = (
        f"pollhub on {settings.public_url}  ·  console {settings.public_url}/ (sign in with the "
        f"secrets in {DEMO_CREDENTIALS})  ·  API docs {settings.public_url}/docs  ·  "
        f"metrics {settings.public_url}/metrics  ·  "
        f"sandbox control API {settings.public_url}/sandbox/docs\n"
        f"demo client receiving callbacks at {callback_url}"
    )
    try:
        while not server.started:
            if serving.done():
                raise RuntimeError(f"pollhub could not start on port {port}")
            await asyncio.sleep(0.05)
        headers = await _demo_tenant(settings.database_url)
        async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as http:
            for body in instance_bodies(callback_url):
                response = await http.post(f"{API_PREFIX}/instances", json=body, headers=headers)
                created = response.json()
                board.notes.append(
                    f"created instance {created.get('id')} ({body['element']['key']}): "
                    f"HTTP {response.status_code}"
                )
            deadline = None if duration is None else time.monotonic() + duration
            if console.is_terminal:
                with Live(board.render(urls), console=console, refresh_per_second=4) as live:
                    await _make_changes(
                        http, board, deadline, serving, lambda: live.update(board.render(urls))
                    )
            else:
                # Piped (``| tee``) or redirected: a live table would only appear at the
                # end, so print plain lines as things happen.
                for line in (urls, *board.notes):
                    console.print(line, highlight=False, soft_wrap=True)
                print_new_rows = _printer(console, board)
                await _make_changes(http, board, deadline, serving, print_new_rows)
                print_new_rows()
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        await receiver.cleanup()
    console.print(
        f"\ndemo stopped: {board.changes} changes made, {board.received} callbacks received"
    )
    return board.received


def _printer(console: Console, board: Board) -> Callable[[], None]:
    """Shows the board's new rows as plain lines (instead of redrawing a live table)."""

    def show() -> None:
        for row in board.unprinted:
            console.print("  ".join(row), highlight=False, soft_wrap=True)
        board.unprinted.clear()
        console.file.flush()

    return show


async def _make_changes(
    http: httpx.AsyncClient,
    board: Board,
    deadline: float | None,
    serving: asyncio.Task[None],
    show: Callable[[], None],
) -> None:
    rng = random.Random()
    existing: dict[tuple[str, str], list[str]] = {}
    for n in itertools.count(1):
        if serving.done() or (deadline is not None and time.monotonic() > deadline):
            return
        change = rng.choice(DEMO_CHANGES)
        objects = existing.setdefault((change.element_key, change.collection), [])
        path = f"/sandbox/control/{change.element_key}/{change.collection}"
        action = rng.choice(["create", "update", "delete", "create"]) if objects else "create"
        if action == "create":
            response = await http.post(path, json=change.new(n))
            if response.status_code < 300:
                objects.append(str(response.json()["id"]))
        elif action == "update":
            response = await http.patch(f"{path}/{rng.choice(objects)}", json=change.changed(n))
        else:
            response = await http.delete(f"{path}/{objects.pop(rng.randrange(len(objects)))}")
        board.changes += response.status_code < 300
        show()
        await asyncio.sleep(CHANGE_EVERY_SECONDS)


async def _demo_tenant(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            org, user = await create_organization(session, "Demo", "demo@pollhub.local")
            await session.commit()
    finally:
        await engine.dispose()
    secrets = {"organizationSecret": org.secret, "userSecret": user.secret}
    await asyncio.to_thread(_write_credentials, json.dumps(secrets, indent=2))
    return {"Authorization": f"User {user.secret}, Organization {org.secret}"}


def _write_credentials(text: str) -> None:
    DEMO_CREDENTIALS.write_text(text)
    DEMO_CREDENTIALS.chmod(0o600)


async def _start_receiver(board: Board) -> tuple[web.AppRunner, int]:
    """The demo client application: an aiohttp server that records each callback, on a
    port the system picks (a fixed one next to the API's could be taken); and that port."""

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        signature = signature_verdict(raw, request.headers.get("Elements-Webhook-Signature"))
        board.add_callback(json.loads(raw), signature)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/events", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    _host, port = runner.addresses[0][:2]
    return runner, int(port)
