"""Resource polls per second of PollWorker against a sandbox in another process.

Starts the sandbox providers (``create_sandbox_app()`` mounted at ``/sandbox``) in a
separate uvicorn process, gets one Microsoft access token by the OAuth code exchange and
one OneDrive delta link (``token=latest``), then inserts N OneDrive instances straight
into the database — every one due every minute, with that delta link as its cursor, so
each poll is an incremental delta read (an empty page: the cost measured is pollhub's own).
Then it runs :class:`~pollhub.worker.PollWorker` — its normal APScheduler loop via
``run(stop)`` — for a fixed time, in this process or in K worker processes, and reports:

- polls per second (completed polls over the span from the first start to the last end);
- scheduling lag p50/p99 (due time to poll start, measured exactly per poll);
- peak RSS of each worker process;
- whether any resource was polled twice within one interval (meaningful with K > 1);
- in the same run, the same GETs (delta link + bearer token) made by a bare loop with
  httpx's default transport and with httpx on the aiohttp transport (the worker's), at
  the worker's concurrency — and the ratio of pollhub's rate to the bare loops'.

Due times: ``--due spread`` (default) spreads the first due times evenly over one
interval, the steady state of N instances due every minute (N/60 polls/s of demand);
the lag aim applies here. ``--due now`` makes every resource due at once: a backlog that
shows the worker's capacity, which is the figure to compare with the bare loops.

    python bench/polling.py                                   # SQLite, 10,000 instances
    python bench/polling.py --due now                         # capacity
    python bench/polling.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432
    python bench/polling.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432 --workers 4

Polls are recorded by wrapping ``pollhub.worker.poll_resource`` (the function each
worker task calls) in the worker process: nothing in ``src/`` is changed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import logging
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = "pollhub-bench-polling"
CLIENT_ID = "pollhub-bench"
ONE_YEAR = 365 * 24 * 3600
SANDBOX_TOKEN_PATH = "/sandbox/login.microsoftonline.com/common/oauth2/v2.0/token"
SANDBOX_DELTA_PATH = "/sandbox/graph.microsoft.com/v1.0/me/drive/root/delta"
SUCCESSES = ("ok", "baseline", "resynced")  # poll results that schedule a full interval


# --- command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's options (``--child-*`` are internal: a worker process's own)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--instances", type=int, default=10_000, help="OneDrive instances")
    parser.add_argument("--organizations", type=int, default=100, help="tenants owning them")
    parser.add_argument("--seconds", type=float, default=75, help="how long the worker runs")
    parser.add_argument("--interval-minutes", type=float, default=1, help="refresh interval")
    parser.add_argument("--due", choices=("spread", "now"), default="spread")
    parser.add_argument("--workers", type=int, default=1, help="K>1: K worker processes")
    parser.add_argument("--concurrency", type=int, default=100, help="PollWorker concurrency")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--postgres",
        metavar="SERVER_URL",
        help="create a fresh database on this server (postgresql+asyncpg://user@host:port), "
        "run there, then drop it",
    )
    parser.add_argument("--bare-requests", type=int, default=6000, help="GETs per bare loop")
    parser.add_argument(
        "--warm-up",
        action="store_true",
        help="one worker: poll every instance once first, then make all due again and "
        "measure only that (steady-state capacity; use with --due now)",
    )
    parser.add_argument(
        "--logs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log at INFO as `pollhub worker` does (to a file in the scratch folder)",
    )
    parser.add_argument(
        "--records",
        help="write every poll (worker, state, due, start, end, result) to this CSV file",
    )
    parser.add_argument("--child-output", help=argparse.SUPPRESS)
    parser.add_argument("--child-start-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--child-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-log", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the sandbox process -----------------------------------------------------------------


def sandbox_server_app() -> Starlette:
    """The sandbox mounted at ``/sandbox``, as ``POLLHUB_SANDBOX`` URLs expect (uvicorn
    factory); its access tokens live a year so none expires during a run."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from pollhub.sandbox import create_sandbox_app

    sandbox = create_sandbox_app(access_token_lifetime=ONE_YEAR)
    return Starlette(routes=[Mount("/sandbox", app=sandbox)])


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    """uvicorn (uvloop + httptools, one process) serving :func:`sandbox_server_app`."""
    command = [
        sys.executable, "-m", "uvicorn", "bench.polling:sandbox_server_app", "--factory",
        "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("the sandbox did not start")


@dataclass(frozen=True)
class Grant:
    """What the sandbox handed out: Microsoft tokens and a delta link at the drive's head."""

    access_token: str
    refresh_token: str
    delta_link: str


def obtain_grant(public_url: str) -> Grant:
    """Exchange an authorization code at the sandbox's Microsoft token endpoint, then ask
    the drive's delta feed for ``token=latest``: the link every instance starts from."""
    import httpx

    with httpx.Client(timeout=10) as client:
        answer = client.post(
            public_url + SANDBOX_TOKEN_PATH,
            data={
                "grant_type": "authorization_code",
                "code": "pollhub-bench",
                "client_id": CLIENT_ID,
                "client_secret": "bench-secret",
                "redirect_uri": "http://127.0.0.1/callback",
                "scope": "files.readwrite offline_access",
            },
        )
        answer.raise_for_status()
        tokens = answer.json()
        delta = client.get(
            public_url + SANDBOX_DELTA_PATH,
            params={"token": "latest"},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        delta.raise_for_status()
    return Grant(tokens["access_token"], tokens["refresh_token"], delta.json()["@odata.deltaLink"])


# --- the database ------------------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace) -> Iterator[str]:
    """The database URL to use: given, a fresh PostgreSQL database (dropped afterwards), or
    a SQLite file in a temporary folder."""
    if args.database_url:
        yield args.database_url
        return
    if args.postgres:
        server = args.postgres.rstrip("/")
        name = f"pollhub_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(_postgres_admin(server, f'CREATE DATABASE "{name}"'))
        try:
            yield f"{server}/{name}"
        finally:
            asyncio.run(_postgres_admin(server, f'DROP DATABASE "{name}" WITH (FORCE)'))
        return
    with tempfile.TemporaryDirectory(prefix="pollhub-bench-") as scratch:
        yield f"sqlite+aiosqlite:///{scratch}/bench.db"


async def _postgres_admin(server: str, statement: str) -> None:
    import asyncpg

    dsn = server.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def seed_instances(database_url: str, grant: Grant, args: argparse.Namespace) -> None:
    """Migrate, then insert organizations, users and instances (runs in its own process,
    so the seeding's memory does not count against the worker's)."""
    from pollhub.db.migrate import upgrade_to_head

    upgrade_to_head(database_url)
    asyncio.run(_insert_instances(database_url, grant, args))


async def _insert_instances(database_url: str, grant: Grant, args: argparse.Namespace) -> None:
    from sqlalchemy import insert

    from pollhub.clock import clock
    from pollhub.db.engine import create_engine, create_sessionmaker
    from pollhub.db.models import Instance, Organization, User
    from pollhub.elements import get_element
    from pollhub.tenancy.secrets import hash_secret, new_secret

    element = get_element("onedrivev2")
    assert element is not None
    now = clock.now()
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        org_ids = list(
            await session.scalars(
                insert(Organization).returning(Organization.id),
                [
                    {"name": f"bench {o}", "secret_hash": hash_secret(new_secret()),
                     "created_at": now}
                    for o in range(args.organizations)
                ],
            )
        )  # fmt: skip
        user_ids = list(
            await session.scalars(
                insert(User).returning(User.id),
                [
                    {"organization_id": org, "email": f"bench{org}@bench.example",
                     "secret_hash": hash_secret(new_secret()), "created_at": now}
                    for org in org_ids
                ],
            )
        )  # fmt: skip
        configuration = {
            "event.notification.enabled": True,
            "event.notification.callback.url": "http://127.0.0.1:9/never-called",
            "event.vendor.type": "polling",
            "event.poller.refresh_interval": args.interval_minutes,
            "event.poller.configuration": element.default_poller_configuration(),
        }
        secrets = {
            "oauth.api.key": CLIENT_ID,
            "oauth.api.secret": "bench-secret",
            "oauth.user.token": grant.access_token,
            "oauth.user.refresh_token": grant.refresh_token,
        }
        rows = []
        for i in range(args.instances):
            token = new_secret()
            owner = i % len(org_ids)
            rows.append(
                {
                    "organization_id": org_ids[owner],
                    "user_id": user_ids[owner],
                    "element_key": element.key,
                    "name": f"bench drive {i}",
                    "tags": ["bench"],
                    "token": token,
                    "token_hash": hash_secret(token),
                    "configuration": configuration,
                    "secrets": secrets,
                    "access_token_expires_at": now + timedelta(days=365),
                    "valid": True,
                    "disabled": False,
                    "events_enabled": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        await session.execute(insert(Instance), rows)
        await session.commit()
    await engine.dispose()


async def schedule_polls(
    database_url: str, grant: Grant, args: argparse.Namespace, start_at: float
) -> None:
    """One ``poll_states`` row per instance, with the delta link as cursor, first due at
    ``start_at`` (``--due now``) or spread evenly over one interval from it."""
    from sqlalchemy import insert, select

    from pollhub.db.engine import create_engine, create_sessionmaker
    from pollhub.db.models import Instance, PollState

    interval = args.interval_minutes * 60
    start = datetime.fromtimestamp(start_at, UTC)
    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as session:
        instances = (
            await session.execute(
                select(Instance.id, Instance.organization_id).order_by(Instance.id)
            )
        ).all()
        rows = []
        for i, (instance_id, organization_id) in enumerate(instances):
            offset = interval * i / len(instances) if args.due == "spread" else 0.0
            due = start + timedelta(seconds=offset)
            rows.append(
                {
                    "instance_id": instance_id,
                    "organization_id": organization_id,
                    "resource": "events",
                    "cursor": {"deltaLink": grant.delta_link},
                    "next_poll_at": due,
                    "last_success_at": start - timedelta(seconds=interval),
                    "consecutive_failures": 0,
                }
            )
        await session.execute(insert(PollState), rows)
        await session.commit()
    await engine.dispose()


# --- the worker --------------------------------------------------------------------------


@dataclass
class WorkerReport:
    """What one worker process saw: every poll as ``(state, due, start, end, result)``
    (epoch seconds) and its peak resident memory."""

    index: int
    polls: list[tuple[int, float, float, float, str]] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    rss_before_mb: float = 0.0
    rss_samples_mb: list[float] = field(default_factory=list)  # current RSS once a minute


def current_rss_mb() -> float:
    """This process's resident set size now (Linux ``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds(pid: int) -> float:
    """User plus system CPU a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def install_recorder(out: IO[str]) -> Counter[str]:
    """Wrap the poll function each PollWorker task calls, to record every poll as a line in
    ``out`` — a file, not a list, so the records do not grow the RSS being measured.
    Returns a running count of the polls recorded (``["polls"]``)."""
    recorded_polls: Counter[str] = Counter()
    import pollhub.worker as worker_module
    from pollhub.polling.schedule import Claim

    poll: Callable[[Any, Claim], Awaitable[str]] = worker_module.poll_resource

    async def recorded(context: Any, claim: Claim) -> str:
        start = time.time()
        result = "crashed"
        try:
            result = await poll(context, claim)
            return result
        except Exception as exc:  # PollWorker logs it; keep its kind for the summary
            message = " ".join(str(exc).split())[:80]
            result = f"crashed: {type(exc).__name__}: {message}"
            raise
        finally:
            due = claim.due_at.timestamp()
            out.write(f"{claim.state_id}\t{due}\t{start}\t{time.time()}\t{result}\n")
            recorded_polls["polls"] += 1

    worker_module.poll_resource = recorded
    return recorded_polls


def read_records(path: Path) -> list[tuple[int, float, float, float, str]]:
    """The polls :func:`install_recorder` wrote."""
    polls = []
    for line in path.read_text().splitlines():
        state, due, start, end, result = line.split("\t", 4)
        polls.append((int(state), float(due), float(start), float(end), result))
    return polls


def configure_logs(path: str | None) -> None:
    """INFO logs like ``pollhub worker`` (one line per poll), into a file, or none."""
    from pollhub.logs import KeyValueFormatter

    root = logging.getLogger()
    if path is None:
        root.setLevel(logging.WARNING)
        return
    handler = logging.FileHandler(path)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


async def run_poll_worker(
    database_url: str,
    index: int,
    start_at: float,
    seconds: float,
    concurrency: int,
    warm_up_polls: int = 0,
) -> WorkerReport:
    """One PollWorker, ticking on its own APScheduler loop from ``start_at`` for
    ``seconds``; then ``stop`` (it lets polls in flight finish).

    With ``warm_up_polls``, the worker first makes that many polls (each instance's first:
    its configuration parsed, its secrets decrypted, its target built), then every resource is
    made due again and only what follows is measured: the steady state's capacity.
    """
    from sqlalchemy import update

    from pollhub.clock import clock
    from pollhub.db.engine import create_engine, create_sessionmaker
    from pollhub.db.models import PollState
    from pollhub.worker import PollWorker

    report = WorkerReport(index=index)
    records = Path(tempfile.mkstemp(prefix="pollhub-bench-polls-")[1])
    out = records.open("w")  # noqa: ASYNC230 - before the run; buffered writes after
    recorded = install_recorder(out)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    worker = PollWorker(sessionmaker, worker_id=f"bench-{index}", concurrency=concurrency)
    report.rss_before_mb = peak_rss_mb()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    measured_from = 0.0
    if warm_up_polls:
        while recorded["polls"] < warm_up_polls:  # noqa: ASYNC110 - a counter, no event
            await asyncio.sleep(0.05)
        async with sessionmaker() as session, session.begin():
            await session.execute(update(PollState).values(next_poll_at=clock.now()))
        measured_from = time.time()
    report.rss_samples_mb.append(current_rss_mb())
    ends = time.monotonic() + seconds
    while (left := ends - time.monotonic()) > 0:
        await asyncio.sleep(min(60.0, left))
        report.rss_samples_mb.append(current_rss_mb())
    stop.set()
    await running
    await engine.dispose()
    report.peak_rss_mb = peak_rss_mb()
    out.close()
    report.polls = [poll for poll in read_records(records) if poll[2] >= measured_from]
    records.unlink()  # noqa: ASYNC240 - after the run
    return report


def child_main(args: argparse.Namespace) -> None:
    """A worker process of ``--workers K``: run, then write the report as JSON."""
    configure_logs(args.child_log)
    report = asyncio.run(
        run_poll_worker(
            args.database_url, args.child_index, args.child_start_at, args.seconds,
            args.concurrency,
        )
    )  # fmt: skip
    Path(args.child_output).write_text(json.dumps(asdict(report)))


def run_worker_processes(
    args: argparse.Namespace, database_url: str, start_at: float, scratch: Path
) -> list[WorkerReport]:
    """K worker processes started together; their reports once all have finished."""
    children = []
    for k in range(args.workers):
        output = scratch / f"worker-{k}.json"
        command = [
            sys.executable, str(Path(__file__).resolve()),
            "--database-url", database_url, "--seconds", str(args.seconds),
            "--concurrency", str(args.concurrency), "--child-index", str(k),
            "--child-start-at", str(start_at), "--child-output", str(output),
        ]  # fmt: skip
        if args.logs:
            command += ["--child-log", str(scratch / f"worker-{k}.log")]
        children.append((subprocess.Popen(command, cwd=ROOT), output))
    reports = []
    for child, output in children:
        if child.wait() != 0:
            raise RuntimeError(f"a worker process failed ({child.returncode})")
        data = json.loads(output.read_text())
        data["polls"] = [tuple(poll) for poll in data["polls"]]
        reports.append(WorkerReport(**data))
    return reports


def write_records(path: Path, reports: list[WorkerReport]) -> None:
    """Every poll as a CSV row, for a closer look."""
    with path.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["worker", "state_id", "due", "start", "end", "result"])
        for report in reports:
            rows.writerows((report.index, *poll) for poll in report.polls)


# --- the bare loops ----------------------------------------------------------------------


async def bare_loop(url: str, token: str, requests: int, concurrency: int, aiohttp: bool) -> float:
    """GETs of the delta link with the bearer token, ``concurrency`` at once, as fast as
    they go (after a short warm-up); returns requests per second."""
    import httpx
    from httpx_aiohttp import AiohttpTransport

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if aiohttp:  # as PollWorker builds its client
        client = httpx.AsyncClient(transport=AiohttpTransport())
    else:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency))
    async with client:
        slots = asyncio.Semaphore(concurrency)

        failures = 0

        async def get() -> None:
            nonlocal failures
            async with slots:
                try:
                    response = await client.get(url, headers=headers)
                    response.raise_for_status()
                    response.json()
                except httpx.HTTPError:  # a loaded machine times some out: count, go on
                    failures += 1

        await asyncio.gather(*(get() for _ in range(min(500, requests))))
        failures = 0
        started = time.perf_counter()
        await asyncio.gather(*(get() for _ in range(requests)))
        return (requests - failures) / (time.perf_counter() - started)


# --- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The summary of all workers' polls."""

    polls: int
    succeeded: int
    polls_per_second: float
    lag_p50: float
    lag_p99: float
    lag_max: float
    twice_within_interval: int
    states_polled: int
    results: dict[str, int]
    crashes: dict[str, int] = field(default_factory=dict)


def summarize(reports: list[WorkerReport], interval: float) -> Figures:
    """Rates, lag percentiles and the double-poll check across every worker."""
    polls = [poll for report in reports for poll in report.polls]
    if not polls:
        return Figures(0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, {})
    results: dict[str, int] = defaultdict(int)
    crashes: dict[str, int] = defaultdict(int)
    for poll in polls:
        results[poll[4].split(":")[0]] += 1
        if poll[4].startswith("crashed:"):
            crashes[poll[4].removeprefix("crashed: ")] += 1
    span = max(p[3] for p in polls) - min(p[2] for p in polls)
    lags = sorted(max(0.0, start - due) for _, due, start, _, _ in polls)
    starts: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for state_id, _, start, _, result in polls:
        starts[state_id].append((start, result))
    twice = 0
    for times in starts.values():
        times.sort()
        # A successful poll sets the next due time to its start plus the interval: a closer
        # pair means two workers held the same row. (A failed or crashed poll is retried
        # after its backoff, which may be shorter.)
        twice += sum(
            1
            for (a, first), (b, _) in itertools.pairwise(times)
            if first.startswith(SUCCESSES) and b - a < interval - 0.01
        )
    return Figures(
        polls=len(polls),
        succeeded=results.get("ok", 0),
        polls_per_second=len(polls) / span if span > 0 else 0.0,
        lag_p50=statistics.median(lags),
        lag_p99=lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        lag_max=lags[-1],
        twice_within_interval=twice,
        states_polled=len(starts),
        results=dict(results),
        crashes=dict(crashes),
    )


def print_summary(
    args: argparse.Namespace,
    database_url: str,
    figures: Figures,
    reports: list[WorkerReport],
    bare: dict[str, float],
) -> None:
    """The table the README quotes."""
    demand = args.instances / (args.interval_minutes * 60)
    backend = database_url.split(":", 1)[0]
    rss = ", ".join(f"{r.peak_rss_mb:.0f}" for r in reports)
    before = ", ".join(f"{r.rss_before_mb:.0f}" for r in reports)
    rows = [
        ("database", backend),
        ("instances / organizations", f"{args.instances} / {args.organizations}"),
        ("due", f"{args.due} (demand {demand:.0f} polls/s when spread)"),
        ("worker processes x concurrency", f"{args.workers} x {args.concurrency}"),
        ("run", f"{args.seconds:.0f} s, logs {'on' if args.logs else 'off'}"),
        ("polls (results)", f"{figures.polls} {figures.results}"),
        ("polls/s (all workers)", f"{figures.polls_per_second:.0f}   aim >= 300"),
        ("lag p50 / p99 / max", f"{figures.lag_p50:.2f} / {figures.lag_p99:.2f} / "
         f"{figures.lag_max:.2f} s   aim p99 <= 2 s"),
        ("peak RSS per worker (before run)", f"{rss} MB ({before} MB)"),
        ("RSS each minute, worker 1", " ".join(f"{m:.0f}" for m in reports[0].rss_samples_mb)),
        ("resources polled twice in 1 interval",
         f"{figures.twice_within_interval} (of {figures.states_polled} polled)"),
    ]  # fmt: skip
    for name, rate in bare.items():
        ratio = figures.polls_per_second / rate if rate else 0.0
        rows.append((f"bare loop, {name}", f"{rate:.0f} GETs/s   pollhub ratio {ratio:.2f}"))
    for reason, count in sorted(figures.crashes.items(), key=lambda item: -item[1])[:3]:
        rows.append(("crashed polls", f"{count} x {reason}"))
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


# --- main --------------------------------------------------------------------------------


def main() -> None:
    """Set everything up, run the worker(s) and the bare loops, print the table."""
    args = parse_args()
    os.environ.setdefault("POLLHUB_SECRET_KEY", SECRET_KEY)
    if args.warm_up and args.workers > 1:
        raise SystemExit("--warm-up runs one worker (--workers 1)")
    if args.child_output:
        child_main(args)
        return
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    os.environ["POLLHUB_SANDBOX"] = "true"
    os.environ["POLLHUB_PUBLIC_URL"] = public_url
    os.environ["POLLHUB_ALLOW_PRIVATE_CALLBACKS"] = "true"
    sandbox = start_sandbox(port)
    try:
        with database(args) as database_url, tempfile.TemporaryDirectory() as scratch_dir:
            os.environ["POLLHUB_DATABASE_URL"] = database_url
            scratch = Path(scratch_dir)
            grant = obtain_grant(public_url)
            print(f"seeding {args.instances} instances into {database_url} ...", flush=True)
            seeding = multiprocessing.get_context("spawn").Process(
                target=seed_instances, args=(database_url, grant, args)
            )
            seeding.start()
            seeding.join()
            if seeding.exitcode != 0:
                raise RuntimeError("seeding failed")
            # Worker processes need a moment to import; the one here starts at once.
            start_at = time.time() + (8.0 if args.workers > 1 else 2.0)
            asyncio.run(schedule_polls(database_url, grant, args, start_at))
            if time.time() > start_at:
                print("warning: scheduling ran past the start; early polls start late")
            print(f"polling for {args.seconds:.0f} s with {args.workers} worker(s) ...")
            if args.workers > 1:
                reports = run_worker_processes(args, database_url, start_at, scratch)
            else:
                configure_logs(str(scratch / "worker.log") if args.logs else None)
                warm_up = args.instances if args.warm_up else 0
                reports = [
                    asyncio.run(
                        run_poll_worker(
                            database_url, 0, start_at, args.seconds, args.concurrency, warm_up
                        )
                    )
                ]
            figures = summarize(reports, args.interval_minutes * 60)
            if args.records:
                write_records(Path(args.records), reports)
            print("bare loops ...", flush=True)
            bare = {
                name: asyncio.run(
                    bare_loop(
                        grant.delta_link, grant.access_token, args.bare_requests,
                        args.concurrency, aiohttp=on_aiohttp,
                    )
                )
                for name, on_aiohttp in (("httpx default", False), ("httpx+aiohttp", True))
            }  # fmt: skip
    finally:
        sandbox.terminate()
        sandbox.wait()
    print_summary(args, database_url, figures, reports, bare)


if __name__ == "__main__":
    main()
