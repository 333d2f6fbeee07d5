"""Microsoft Graph webhook latency: a change in the sandbox → the client's callback.

Starts ``pollhub serve`` (API + worker + sandbox providers) on a fresh SQLite database in a
subprocess, a callback receiver in this process, creates a ``microsoftgraph`` instance, then
makes ``--changes`` calendar-event changes one after another through the sandbox's control
API and measures, for each, the time from the change to its callback arriving.

    python bench/graph_latency.py [--changes 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiohttp import web


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _measure(
    changes: int, port: int, receiver_port: int, headers: dict[str, str]
) -> list[float]:
    arrivals: dict[str, float] = {}
    arrived = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        for event in body["message"]["events"]:
            arrivals.setdefault(event["objectId"], time.perf_counter())
        arrived.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/events", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()
    callback_url = f"http://127.0.0.1:{receiver_port}/events"
    latencies: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _wait_healthy(http)
            instance = await http.post(
                "/elements/api-v2/instances",
                headers=headers,
                json={
                    "element": {"key": "microsoftgraph"},
                    "providerData": {"code": "bench"},
                    "configuration": {
                        "oauth.api.key": "k",
                        "oauth.api.secret": "s",
                        "oauth.callback.url": "https://example.com/cb",
                        "oauth.scope": "Calendars.Read offline_access",
                        "event.notification.enabled": True,
                        "event.notification.callback.url": callback_url,
                    },
                    "name": "latency",
                },
            )
            instance.raise_for_status()
            for n in range(changes):
                started = time.perf_counter()
                response = await http.post(
                    "/sandbox/control/microsoftgraph/events", json={"subject": f"change {n}"}
                )
                object_id = response.json()["id"]
                while object_id not in arrivals:
                    arrived.clear()
                    await asyncio.wait_for(arrived.wait(), timeout=30)
                latencies.append((arrivals[object_id] - started) * 1000)
    finally:
        await runner.cleanup()
    return latencies


def _report(latencies: list[float]) -> None:
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"changes: {len(latencies)}")
    print(f"change -> callback: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms")
    print("aim: p99 <= 250 ms")


async def _wait_healthy(http: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await http.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("pollhub did not start")


def main() -> None:
    """Parse arguments and run the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1000)
    changes = parser.parse_args().changes
    folder = Path(tempfile.mkdtemp(prefix="pollhub-graph-latency-"))
    port, receiver_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLLHUB_")}
    env.update(
        POLLHUB_SANDBOX="true",
        POLLHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        POLLHUB_LOG_LEVEL="WARNING",
    )
    pollhub = str(Path(sys.executable).parent / "pollhub")
    command = [pollhub, "orgs", "create", "Bench", "--email", "bench@example.com"]
    created = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    created.check_returncode()
    secrets = json.loads(created.stdout)
    headers = {
        "Authorization": f"User {secrets['user']['secret']}, "
        f"Organization {secrets['organization']['secret']}"
    }
    server = subprocess.Popen([pollhub, "serve", "--port", str(port)], cwd=folder, env=env)
    try:
        _report(asyncio.run(_measure(changes, port, receiver_port, headers)))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
