"""Callbacks delivered per second by one Dispatcher, beside a bare loop of POSTs.

Fills an outbox with N notifications spread over many instances, runs one
:class:`~pollhub.delivery.dispatcher.Dispatcher` (claims, signing, POSTs, recording) until
all are delivered to a local receiver in another process (uvicorn), then sends the same
requests (bodies and headers, signed beforehand) in a bare aiohttp loop (the client the
dispatcher uses). It does so ``--rounds`` times, each on a fresh set of instances, so each
dispatcher run sits right beside its bare loop: this machine's speed drifts by half within
minutes, and one pair often differs from the next by a third. Prints every round and the
medians, then a bare loop on httpx's default transport (the issue's first yardstick) once.

    python bench/delivery.py                       # SQLite in a temporary folder
    python bench/delivery.py --database-url postgresql+asyncpg://postgres@127.0.0.1/scratch
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIGNATURE_KEY = "bench-key"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--notifications", type=positive, default=5000)
    parser.add_argument("--instances", type=positive, default=200)
    parser.add_argument("--concurrency", type=positive, default=64)
    parser.add_argument("--signed", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--rounds", type=positive, default=3, help="dispatcher and bare loop pairs")
    return parser.parse_args()


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_receiver(port: int) -> subprocess.Popen[bytes]:
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.receiver:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return receiver
        except OSError:
            time.sleep(0.05)
    receiver.kill()
    raise RuntimeError("the receiver did not start")


async def fill_outbox(args: argparse.Namespace, callback_url: str) -> list[int]:
    from pollhub.clock import clock
    from pollhub.db.engine import create_engine, create_sessionmaker
    from pollhub.db.models import Instance
    from pollhub.delivery.outbox import ChangeEvent, enqueue_polled_changes
    from pollhub.tenancy.secrets import hash_secret, new_secret
    from pollhub.tenancy.service import create_organization

    engine = create_engine(args.database_url)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        org, user = await create_organization(session, "Bench", "bench@bench.example")
        instances = []
        for i in range(args.instances):
            token = new_secret()
            instance = Instance(
                organization_id=org.id,
                user_id=user.id,
                element_key="onedrivev2",
                name=f"bench {i}",
                tags=["bench"],
                token=token,
                token_hash=hash_secret(token),
                configuration={
                    "event.notification.enabled": True,
                    "event.notification.callback.url": callback_url,
                },
                secrets={"event.notification.signature.key": SIGNATURE_KEY} if args.signed else {},
                valid=True,
                disabled=False,
                events_enabled=True,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            session.add(instance)
            instances.append(instance)
        await session.flush()
        date = datetime(2026, 11, 25, tzinfo=UTC)
        for n in range(args.notifications):
            # Round robin over instances; one change of a ~600-byte object each (~1.2 KB body).
            change = ChangeEvent(
                "UPDATED",
                f"obj-{n}",
                "files",
                date,
                {"id": f"obj-{n}", "name": f"report-{n}.docx", "pad": "x" * 500},
            )
            await enqueue_polled_changes(
                session,
                instances[n % len(instances)],
                hub_key="documents",
                object_type="files",
                events=[change],
                poll_date=clock.now(),
            )
        await session.commit()
        ids = [i.id for i in instances]
    await engine.dispose()
    return ids


async def run_dispatcher(
    args: argparse.Namespace, instance_ids: list[int]
) -> tuple[float, float, int]:
    from sqlalchemy import func, select

    from pollhub.db.engine import create_engine, create_sessionmaker
    from pollhub.db.models import Notification
    from pollhub.delivery.dispatcher import Dispatcher

    engine = create_engine(args.database_url)
    sessionmaker = create_sessionmaker(engine)
    dispatcher = Dispatcher(sessionmaker, worker_id="bench", concurrency=args.concurrency)
    stop = asyncio.Event()
    started, cpu_started = time.perf_counter(), time.process_time()
    worker = asyncio.create_task(dispatcher.run(stop))
    # Polling a counter every 5 ms costs nothing measurable and needs no hook in the worker.
    while dispatcher.attempts_made < args.notifications and not worker.done():  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    stop.set()
    await worker
    async with sessionmaker() as session:
        delivered = await session.scalar(
            select(func.count()).where(
                Notification.status == "delivered", Notification.instance_id.in_(instance_ids)
            )
        )
    await engine.dispose()
    return args.notifications / elapsed, cpu / args.notifications, int(delivered or 0)


Request = tuple[bytes, dict[str, str]]


async def load_requests(args: argparse.Namespace, instance_ids: list[int]) -> list[Request]:
    """The dispatcher's requests, body and headers, signed here before the bare loops time
    anything: they send what the dispatcher sent, without its work."""
    from sqlalchemy import select

    from pollhub.clock import clock
    from pollhub.db.engine import create_engine, create_sessionmaker
    from pollhub.db.models import Notification
    from pollhub.delivery.signing import callback_headers

    engine = create_engine(args.database_url)
    async with create_sessionmaker(engine)() as session:
        rows = (
            await session.execute(
                select(Notification.event_id, Notification.body).where(
                    Notification.instance_id.in_(instance_ids)
                )
            )
        ).all()
    await engine.dispose()
    key = SIGNATURE_KEY if args.signed else None
    return [
        (body, callback_headers(event_id=event_id, body=body, signature_key=key, now=clock.now()))
        for event_id, body in rows
    ]


async def bare_httpx(url: str, requests: list[Request], concurrency: int) -> float:
    import httpx

    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        failures = 0

        async def post(body: bytes, headers: dict[str, str]) -> None:
            nonlocal failures
            async with slots:
                try:
                    (await client.post(url, content=body, headers=headers)).raise_for_status()
                except httpx.HTTPError:  # a loaded machine times some out: count, go on
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(post(body, headers) for body, headers in requests))
        return (len(requests) - failures) / (time.perf_counter() - started)


async def bare_aiohttp(url: str, requests: list[Request], concurrency: int) -> tuple[float, float]:
    import aiohttp

    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: bytes, headers: dict[str, str]) -> None:
            async with slots, session.post(url, data=body, headers=headers) as response:
                await response.read()
                response.raise_for_status()

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post(body, headers) for body, headers in requests))
        cpu = time.process_time() - cpu_started
        return len(requests) / (time.perf_counter() - started), cpu / len(requests)


def main() -> None:
    args = parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="pollhub-bench-")
    args.database_url = args.database_url or f"sqlite+aiosqlite:///{scratch.name}/bench.db"
    os.environ["POLLHUB_DATABASE_URL"] = args.database_url
    os.environ.setdefault("POLLHUB_SECRET_KEY", "pollhub-bench-key")
    os.environ["POLLHUB_ALLOW_PRIVATE_CALLBACKS"] = "true"
    sys.path.insert(0, str(ROOT / "src"))
    from pollhub.db.migrate import upgrade_to_head
    from pollhub.runtime import tune_garbage_collector

    upgrade_to_head(args.database_url)
    tune_garbage_collector()  # as `pollhub worker` does; the bare loops run with it too
    port = free_port()
    receiver = start_receiver(port)
    url = f"http://127.0.0.1:{port}/events"
    database = args.database_url.split(":", 1)[0]
    print(
        f"database {database}; {args.notifications} notifications over {args.instances} "
        f"instances; concurrency {args.concurrency}; signed {args.signed}; "
        f"{args.rounds} rounds"
    )
    rounds: list[Round] = []
    try:
        for number in range(1, args.rounds + 1):
            instance_ids = asyncio.run(fill_outbox(args, url))
            rate, cpu, delivered = asyncio.run(run_dispatcher(args, instance_ids))
            requests = asyncio.run(load_requests(args, instance_ids))
            bare_rate, bare_cpu = asyncio.run(bare_aiohttp(url, requests, args.concurrency))
            rounds.append(Round(rate, cpu, bare_rate, bare_cpu))
            print(
                f"round {number}: dispatcher {rate:.0f} callbacks/s ({delivered} marked "
                f"delivered; {cpu * 1000:.2f} ms of CPU a callback), bare aiohttp loop "
                f"{bare_rate:.0f} POSTs/s ({bare_cpu * 1000:.2f} ms a POST): "
                f"ratio {rate / bare_rate:.2f}",
                flush=True,
            )
        httpx_rate = asyncio.run(bare_httpx(url, requests, args.concurrency))
    finally:
        receiver.terminate()
        receiver.wait()
        scratch.cleanup()
    rate = statistics.median(r.rate for r in rounds)
    ratios = [r.rate / r.bare_rate for r in rounds]
    print(
        f"dispatcher           {rate:8.0f} callbacks/s  (median; "
        f"{statistics.median(r.cpu for r in rounds) * 1000:.2f} ms of CPU a callback)"
    )
    print(
        f"bare aiohttp loop    {statistics.median(r.bare_rate for r in rounds):8.0f} POSTs/s"
        f"      ratio {statistics.median(ratios):.2f} (median of rounds; "
        f"{min(ratios):.2f}-{max(ratios):.2f}; "
        f"{statistics.median(r.bare_cpu for r in rounds) * 1000:.2f} ms of CPU a POST)"
    )
    print(f"bare httpx loop      {httpx_rate:8.0f} POSTs/s      ratio {rate / httpx_rate:.2f}")


@dataclass(frozen=True)
class Round:
    """One dispatcher run and the bare loop of its requests right after it."""

    rate: float
    cpu: float
    bare_rate: float
    bare_cpu: float


if __name__ == "__main__":
    main()
