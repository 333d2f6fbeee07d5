"""``POST /instances`` per second: bulk onboarding of one organization's users.

Starts ``pollhub api`` with ``POLLHUB_SANDBOX=true`` on a fresh database — the simulated
providers in a process of their own, as the issue's targets have them (``--sandbox api``: in
the API's process, as ``pollhub serve`` has them) — creates one organization, then
creates N OneDrive instances with polling events on through the HTTP API, C requests at a
time, each with its own authorization code — every creation exchanges its code at the
sandbox's Microsoft token endpoint over real HTTP, the one round trip that cannot be saved.
In the same run, a bare loop POSTs the same token exchanges straight to that endpoint: the
ceiling for creations per second. Prints both rates and the latency of one creation.

    python bench/onboarding.py                                     # SQLite, 2,000 instances
    python bench/onboarding.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432
    python bench/onboarding.py --sandbox api                       # providers in the API
    python bench/onboarding.py --api-processes 2     # two `pollhub api`, requests spread
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.polling import cpu_seconds, database, free_port, start_sandbox

ROOT = Path(__file__).resolve().parents[1]
POLLHUB = os.environ.get("BENCH_POLLHUB") or str(Path(sys.executable).with_name("pollhub"))
TOKEN_PATH = "/sandbox/login.microsoftonline.com/common/oauth2/v2.0/token"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--postgres", metavar="SERVER_URL", help="a fresh database there")
    parser.add_argument(
        "--sandbox",
        choices=["process", "api"],
        default="process",
        help="the simulated providers in a process of their own, or in the API's",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="`pollhub api` processes on one database, requests spread over them in turn "
        "(as a load balancer would)",
    )
    return parser.parse_args()


def body(i: int) -> dict[str, Any]:
    """A OneDrive instance as the seeds create it, with its own code."""
    return {
        "element": {"key": "onedrivev2"},
        "providerData": {"code": f"bench-code-{i}"},
        "configuration": {
            "oauth.api.key": "pollhub-bench",
            "oauth.api.secret": "bench-secret",
            "oauth.callback.url": "https://client.example.com/oauth",
            "event.notification.enabled": True,
            "event.notification.callback.url": "https://client.example.com/events",
            "event.poller.refresh_interval": 1,
        },
        "tags": ["bench"],
        "name": f"user {i}",
    }


def start_api(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``pollhub api`` on ``port``, ready when it answers."""
    import httpx

    server = subprocess.Popen(
        [POLLHUB, "api", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/elements/api-v2/elements", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("pollhub api did not start")


def create_organization(env: dict[str, str]) -> str:
    """The Authorization header of a fresh organization's first user."""
    import json

    out = subprocess.run(
        [POLLHUB, "orgs", "create", "Bench", "--email", "b@b.example"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    credentials = json.loads(out)
    return (
        f"User {credentials['user']['secret']}, "
        f"Organization {credentials['organization']['secret']}"
    )


async def post_all(
    urls: list[str], make: Any, count: int, concurrency: int, **kwargs: Any
) -> tuple[float, list[float], int]:
    """POST ``make(i)`` to ``urls`` in turn for i < count, ``concurrency`` at once: rate,
    latencies, failures."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def one(i: int) -> None:
            nonlocal failures
            async with slots:
                started = time.perf_counter()
                async with http.post(urls[i % len(urls)], **make(i), **kwargs) as response:
                    await response.read()
                    failures += response.status >= 300
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - started), latencies, failures


async def postgres_sessions(database_url: str) -> int | None:
    """Connections PostgreSQL has accepted to the database so far (None on SQLite)."""
    if not database_url.startswith("postgresql"):
        return None
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("+asyncpg", "", 1))
    try:
        count = await connection.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(count)
    finally:
        await connection.close()


def main() -> None:
    """Start the API, onboard, run the bare loop, print the figures."""
    args = parse_args()
    with database(args) as database_url:
        ports = [free_port() for _ in range(args.api_processes)]
        # Provider URLs are rewritten to the public URL's /sandbox/, so pointing it at the
        # sandbox's process sends every token exchange there.
        sandbox_port = free_port() if args.sandbox == "process" else ports[0]
        sandbox = start_sandbox(sandbox_port) if args.sandbox == "process" else None
        providers = f"http://127.0.0.1:{sandbox_port}"
        env = {
            **os.environ,
            "POLLHUB_DATABASE_URL": database_url,
            "POLLHUB_SECRET_KEY": "pollhub-bench-onboarding",
            "POLLHUB_SANDBOX": "true",
            "POLLHUB_PUBLIC_URL": providers,
            "POLLHUB_LOG_LEVEL": "WARNING",
        }
        subprocess.run([POLLHUB, "migrate"], env=env, check=True)
        authorization = create_organization(env)
        sessions_before = asyncio.run(postgres_sessions(database_url))
        apis = [start_api(port, env) for port in ports]
        try:
            headers = {"Authorization": authorization}
            cpu_before = sum(cpu_seconds(api.pid) for api in apis)
            rate, latencies, failures = asyncio.run(
                post_all(
                    [f"http://127.0.0.1:{port}/elements/api-v2/instances" for port in ports],
                    lambda i: {"json": body(i)},
                    args.instances,
                    args.concurrency,
                    headers=headers,
                )
            )
            # What one creation costs the API process, apart from how busy the machine is.
            cpu_after = sum(cpu_seconds(api.pid) for api in apis)
            cpu_per_creation = (cpu_after - cpu_before) / args.instances
            exchange = {
                "grant_type": "authorization_code",
                "client_id": "pollhub-bench",
                "client_secret": "bench-secret",
                "redirect_uri": "https://client.example.com/oauth",
                "scope": "files.readwrite offline_access",
            }
            bare, _, bare_failures = asyncio.run(
                post_all(
                    [providers + TOKEN_PATH],
                    lambda i: {"data": {**exchange, "code": f"bare-{i}"}},
                    args.instances,
                    args.concurrency,
                )
            )
        finally:
            for process in (*apis, sandbox):
                if process is not None:
                    process.terminate()
                    process.wait()
        sessions_after = asyncio.run(postgres_sessions(database_url))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"database {database_url.split(':', 1)[0]}; {args.instances} instances, "
          f"concurrency {args.concurrency}; {args.api_processes} API process(es); "
          f"sandbox in {args.sandbox}")  # fmt: skip
    print(f"POST /instances      {rate:8.0f} /s   ({failures} failed)   latency p50 "
          f"{statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")  # fmt: skip
    print(f"bare token exchange  {bare:8.0f} /s   ({bare_failures} failed)   "
          f"ratio {rate / bare:.2f}")  # fmt: skip
    print(f"API CPU per creation {cpu_per_creation * 1000:8.2f} ms"
          + (" (the sandbox's answer included)" if args.sandbox == "api" else ""))  # fmt: skip
    if sessions_before is not None and sessions_after is not None:
        # Each one a new server process: a pool that closes connections after a peak and
        # opens them again at the next shows here (the reading's own connection left out).
        print(f"PostgreSQL connections opened by the API: {sessions_after - sessions_before - 1}")


if __name__ == "__main__":
    main()
