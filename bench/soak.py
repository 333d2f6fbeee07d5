"""Soak test: pollhub under a random workload and injected faults, checked against the truth.

On a fresh PostgreSQL database it runs one ``pollhub api`` process (with the sandbox
providers, which also send Microsoft Graph's webhooks back to it) and several ``pollhub
worker`` processes, creates instances of the four elements pointing at a callback receiver
in this process, and then for ``--minutes`` changes the providers' data at random through
the sandbox's control API while it

- kills workers with SIGKILL and starts new ones,
- takes the receiver down (first refusing connections, then answering 503),
- arms provider faults (429, 500, slow answers, expired access tokens),
- terminates every database connection of pollhub's database.

Then it stops the faults, waits for the callbacks to drain and compares what the receiver
got with the ground truth: every change made at a provider must reach every instance of
that element (for Google Suite, of the resource it concerns) exactly once, with the right
event type, and one object's changes in the order they were made. It prints missed,
duplicated (one change in two notifications with different ids), wrongly typed,
unexpected and out-of-order events; retries of one notification with the same id are
reported separately, as delivery is at least once. Exit status 1 when any count is not 0.

Merging: polling legitimately reports two changes of one object made between two polls as
one event (created then updated → CREATED). The workload avoids that instead of modelling
it: an object is changed again only once every instance watching it has received the event
of its previous change, so every change is a separate, checkable event. New objects are
created in every round regardless, so the workload never stops.

    python bench/soak.py                          # 60 instances per element, 4 minutes
    python bench/soak.py --instances-per-element 10 --minutes 1 --workers 2

See bench/README.md ("Soak test") for the fault schedule and what the figures mean.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.polling import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
API = "/elements/api-v2"
SIGNATURE_KEY = "soak-signature-key"
REFRESH_MINUTES = "0.05"  # 3 s between polls of one resource (floored at 2 s by settings)
MIN_REFRESH_SECONDS = "2"
POLL_LEASE_SECONDS = 300  # pollhub.polling.schedule.LEASE: a killed worker's polls wait this
ORGANIZATIONS = 4
POLLHUB = str(Path(sys.prefix) / "bin" / "pollhub")  # the console script of the active venv

# --- command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The soak test's options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--instances-per-element", type=int, default=60)
    parser.add_argument("--minutes", type=float, default=4.0, help="length of the workload")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (>= 2)")
    parser.add_argument(
        "--database-url-admin",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument("--round-seconds", type=float, default=5.0, help="one round of changes")
    parser.add_argument("--receiver-down-seconds", type=float, default=60.0)
    parser.add_argument("--worker-kills", type=int, default=2)
    parser.add_argument("--db-drops", type=int, default=3)
    parser.add_argument("--provider-fault-every", type=float, default=15.0, help="seconds")
    parser.add_argument(
        "--drain-seconds", type=float, default=180.0, help="longest wait after the workload"
    )
    parser.add_argument("--quiet-seconds", type=float, default=15.0, help="wait for extras")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log-dir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it")
    args = parser.parse_args(argv)
    if args.workers < 2:
        parser.error("--workers must be at least 2")
    if args.instances_per_element < 1:
        parser.error("--instances-per-element must be at least 1")
    return args


# --- sources of changes ------------------------------------------------------------------

Fields = Callable[[int], dict[str, Any]]


@dataclass(frozen=True)
class Source:
    """A sandbox collection that the workload changes, and how pollhub reports it."""

    element: str
    collection: str
    object_type: str  # the events' objectType (the poller resource, or Graph's "events")
    fields: Fields
    strip_path: bool = False  # People reports contactGroups/ID as ID

    def reported_id(self, object_id: str) -> str:
        """The objectId pollhub's events carry for this provider id."""
        return object_id.rsplit("/", 1)[-1] if self.strip_path else object_id


SOURCES = (
    Source("onedrivev2", "files", "events", lambda n: {"name": f"soak-{n}.txt"}),
    Source("docushareflex", "documents", "events", lambda n: {"title": f"soak doc {n}"}),
    Source(
        "googlesuite",
        "contact-groups",
        "changed-groups",
        lambda n: {"name": f"soak group {n}"},
        strip_path=True,
    ),
    Source(
        "googlesuite",
        "calendar-events",
        "calendars/primary/changed-events",
        lambda n: {"summary": f"soak meeting {n}"},
    ),
    Source(
        "googlesuite", "messages", "changed-messages", lambda n: {"labelIds": ["INBOX", f"L{n}"]}
    ),
    Source("microsoftgraph", "events", "events", lambda n: {"subject": f"soak standup {n}"}),
)
ELEMENTS = ("onedrivev2", "googlesuite", "docushareflex", "microsoftgraph")

_GOOGLE_DATES = {
    "updatedDateField": "updated",
    "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
    "updatedDateTimezone": "GMT",
    "createdDateField": "created",
    "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
    "createdDateTimezone": "GMT",
}
GOOGLE_RESOURCES = {
    "calendars/primary/changed-events": {
        "url": "/hubs/general/calendars/primary/changed-events",
        "idField": "",
        "datesConfiguration": _GOOGLE_DATES,
    },
    "changed-groups": {
        "url": "/hubs/general/changed-groups",
        "idField": "id",
        "datesConfiguration": {
            **_GOOGLE_DATES,
            "updatedDateField": "metadata.updateTime",
            "createdDateField": "metadata.updateTime",
        },
    },
    "changed-messages": {"url": "/hubs/general/changed-messages", "idField": "id"},
}


def instance_body(element: str, number: int, callback_url: str) -> dict[str, Any]:
    """The POST /instances body of the soak's ``number``-th instance of ``element``."""
    configuration: dict[str, Any] = {
        "oauth.api.key": "soak-client-id",
        "oauth.api.secret": "soak-client-secret",
        "oauth.callback.url": "https://soak.example.com/oauth2callback",
        "event.notification.enabled": "true",
        "event.notification.callback.url": callback_url,
        "event.notification.signature.key": SIGNATURE_KEY,
        "event.poller.refresh_interval": REFRESH_MINUTES,
    }
    if element == "googlesuite":
        configuration["event.poller.configuration"] = GOOGLE_RESOURCES
    elif element == "docushareflex":
        configuration["event.vendor.type"] = "polling"
        configuration["docushare.domain"] = "demo.docushareflex.com"
    elif element == "microsoftgraph":
        configuration["oauth.scope"] = "Calendars.Read Calendars.ReadWrite offline_access"
    return {
        "element": {"key": element},
        "providerData": {"code": f"soak-code-{element}-{number}"},
        "configuration": configuration,
        "tags": ["soak"],
        "name": f"soak {element} {number}",
    }


# --- ground truth ------------------------------------------------------------------------


@dataclass
class TrackedObject:
    """One provider object: its changes, and who has yet to hear of the latest one."""

    source: Source
    provider_id: str
    changes: list[str] = field(default_factory=list)  # event types, in the order made
    live: bool = True
    waiting: set[int] = field(default_factory=set)  # instances the last change has to reach

    @property
    def settled(self) -> bool:
        """True when every watching instance received the latest change's event."""
        return not self.waiting


@dataclass
class Truth:
    """Every change made at the providers, and which instances must be told of it."""

    watchers: dict[str, list[int]] = field(default_factory=dict)  # element -> instance ids
    objects: dict[tuple[str, str, str], TrackedObject] = field(default_factory=dict)
    made: Counter[str] = field(default_factory=Counter)

    def key(self, source: Source, object_id: str) -> tuple[str, str, str]:
        """An object's key as the callbacks name it: element, objectType, objectId."""
        return (source.element, source.object_type, source.reported_id(object_id))

    def record(self, source: Source, provider_id: str, event_type: str) -> None:
        """A change was made at the provider (its control API answered 2xx)."""
        key = self.key(source, provider_id)
        tracked = self.objects.setdefault(key, TrackedObject(source, provider_id))
        tracked.changes.append(event_type)
        tracked.live = event_type != "DELETED"
        tracked.waiting = set(self.watchers[source.element])
        self.made[event_type] += 1

    def heard(self, element: str, instance_id: int, object_type: str, object_id: str) -> None:
        """An instance received an event about an object (the receiver calls this)."""
        tracked = self.objects.get((element, object_type, object_id))
        if tracked is not None:
            tracked.waiting.discard(instance_id)

    def expected_events(self) -> int:
        """How many events the receiver must get in all."""
        return sum(
            len(t.changes) * len(self.watchers[t.source.element]) for t in self.objects.values()
        )

    def unsettled(self) -> int:
        """(object, instance) pairs still waiting for the latest change's event."""
        return sum(len(t.waiting) for t in self.objects.values())


# --- the client's callback receiver ------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One callback POST that the receiver accepted (answered 200)."""

    seq: int
    at: float
    event_id: str
    header_id: str
    instance_id: int
    element: str
    created: str
    events: tuple[tuple[str, str, str], ...]  # (objectType, objectId, eventType)
    digest: str
    signature_ok: bool


class Receiver:
    """The client application: records every callback; can be taken down and up again."""

    def __init__(self, truth: Truth, port: int) -> None:
        self.truth = truth
        self.port = port
        self.url = f"http://127.0.0.1:{port}/events"
        self.arrivals: list[Arrival] = []
        self.answered_503 = 0
        self.mode = "up"  # "up" | "refusing" | "503"
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._secret = SIGNATURE_KEY.encode()

    async def start(self) -> None:
        """Listen on 127.0.0.1:port."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/events", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def refuse_connections(self) -> None:
        """Stop listening: connections are refused."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        self.mode = "refusing"

    async def answer_503(self) -> None:
        """Listen again, but answer every callback with 503."""
        if self._site is None:
            await self._listen()
        self.mode = "503"

    async def up(self) -> None:
        """Accept callbacks again."""
        if self._site is None:
            await self._listen()
        self.mode = "up"

    async def stop(self) -> None:
        """Stop for good."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.mode != "up":
            self.answered_503 += 1
            return web.Response(status=503)
        message = json.loads(body)["message"]
        expected = base64.b64encode(hmac.new(self._secret, body, hashlib.sha256).digest())
        signature = request.headers.get("Elements-Webhook-Signature", "")
        arrival = Arrival(
            seq=len(self.arrivals),
            at=time.monotonic(),
            event_id=str(message["eventId"]),
            header_id=request.headers.get("Elements-Webhook-Id", ""),
            instance_id=int(message["instanceId"]),
            element=str(message["elementKey"]),
            created=str(json.loads(body).get("createdDate", "")),
            events=tuple(
                (str(e["objectType"]), str(e["objectId"]), str(e["eventType"]))
                for e in message["events"]
            ),
            digest=hashlib.sha256(body).hexdigest(),
            signature_ok=hmac.compare_digest(signature, f"sha256={expected.decode()}"),
        )
        self.arrivals.append(arrival)
        for object_type, object_id, _ in arrival.events:
            self.truth.heard(arrival.element, arrival.instance_id, object_type, object_id)
        return web.Response(status=200)


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """The API process and the worker processes, with their logs."""

    env: dict[str, str]
    log_dir: Path
    api_port: int
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)  # pids we SIGKILLed
    started_workers: int = 0
    _logs: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def run_cli(self, *arguments: str) -> str:
        """Run ``pollhub ARGS`` to completion; its standard output."""
        done = subprocess.run(
            [POLLHUB, *arguments],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            check=True,
        )
        return done.stdout.decode()

    def start_api(self) -> None:
        """``pollhub api`` on 127.0.0.1 (the sandbox lives in it); access logs off."""
        env = {**self.env, "POLLHUB_LOG_LEVEL": "WARNING"}
        command = [POLLHUB, "api", "--host", "127.0.0.1"]
        self.api = self._spawn("api", [*command, "--port", str(self.api_port)], env)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """One more ``pollhub worker``."""
        self.started_workers += 1
        name = f"worker-{self.started_workers}"
        worker = self._spawn(name, [POLLHUB, "worker"], self.env)
        self.workers.append(worker)
        return worker

    def kill_worker(self, rng: random.Random) -> int:
        """SIGKILL a random live worker; returns its pid."""
        live = [w for w in self.workers if w.poll() is None]
        victim = rng.choice(live)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.workers.remove(victim)
        self.killed.append(victim.pid)
        return victim.pid

    def unexpected_exits(self) -> list[str]:
        """Processes that ended although nobody stopped them."""
        dead = [
            f"worker pid {w.pid} exit {w.returncode}" for w in self.workers if w.poll() is not None
        ]
        if self.api is not None and self.api.poll() is not None:
            dead.append(f"api exit {self.api.returncode}")
        return dead

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each live process has used so far (Linux /proc)."""
        used: dict[str, float] = {}
        named = [("api", self.api), *((f"worker {w.pid}", w) for w in self.workers)]
        for name, process in named:
            if process is None:
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                used[name] = round(cpu_seconds(process.pid), 1)
        return used

    def stop(self) -> None:
        """SIGTERM everything, then SIGKILL what has not ended within 20 s."""
        processes = [p for p in [*self.workers, self.api] if p is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()


def asyncpg_url(url: str) -> str:
    """A SQLAlchemy-style URL as asyncpg wants it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def connect(url: str, attempts: int = 20) -> asyncpg.Connection:
    """An asyncpg connection, retried for a while: the server's connection slots are
    shared with pollhub's pools (and whatever else runs on this PostgreSQL)."""
    for attempt in range(attempts):
        try:
            return await asyncpg.connect(url)
        except (asyncpg.TooManyConnectionsError, OSError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def fresh_database(admin_url: str, keep: bool) -> Iterator[tuple[str, str]]:
    """Create a scratch database; yield (its name, its SQLAlchemy URL); drop it afterwards."""
    admin = asyncpg_url(admin_url)
    name = f"pollhub_soak_{uuid.uuid4().hex[:10]}"

    async def execute(statement: str) -> None:
        connection = await connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    server = admin.rsplit("/", 1)[0]
    try:
        yield name, f"{server.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    finally:
        if not keep:
            asyncio.run(execute(f'DROP DATABASE "{name}" WITH (FORCE)'))


# --- faults ------------------------------------------------------------------------------


@dataclass
class FaultLog:
    """What was injected, when (seconds into the workload)."""

    entries: list[tuple[float, str]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, at: float, kind: str, detail: str) -> None:
        """Note one injected fault."""
        self.entries.append((at, f"{kind}: {detail}"))
        self.counts[kind] += 1
        print(f"  [{at:6.1f}s] fault {kind}: {detail}", flush=True)


PROVIDER_FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "429", "count": 25, "retryAfter": 2},
    {"kind": "500", "count": 25},
    {"kind": "slow", "count": 40, "delaySeconds": 3},
    # API calls only: an expired access token is refreshed. (At the token endpoints the
    # same fault means a refused refresh, which rightly marks the instance invalid.)
    {"kind": "expired_token", "count": 15},
)
FAULTY_PROVIDERS = ("graph", "google", "docushare")


@dataclass
class Soak:
    """One soak run: the cluster, the receiver, the truth, the faults and the clock."""

    args: argparse.Namespace
    cluster: Cluster
    receiver: Receiver
    truth: Truth
    database: str
    rng: random.Random
    faults: FaultLog = field(default_factory=FaultLog)
    started: float = 0.0
    stranded_polls: int = 0
    stranded_deliveries: int = 0
    change_errors: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    last_kill: float | None = None
    owner: dict[int, int] = field(default_factory=dict)  # instance id -> tenant index
    cpu: dict[str, float] = field(default_factory=dict)
    graph_deliveries: dict[str, int] = field(default_factory=dict)

    def now(self) -> float:
        """Seconds since the workload started."""
        return time.monotonic() - self.started

    # -- setup ------------------------------------------------------------------------

    async def create_instances(
        self, http: httpx.AsyncClient, tenants: list[dict[str, str]]
    ) -> None:
        """Create the instances, spread over the organizations, a few at a time."""
        slots = asyncio.Semaphore(8)
        created: dict[str, list[int]] = defaultdict(list)

        async def create(element: str, number: int) -> None:
            tenant = number % len(tenants)
            headers = tenants[tenant]
            body = instance_body(element, number, self.receiver.url)
            async with slots:
                answer = await http.post(f"{API}/instances", json=body, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(
                    f"creating {element} #{number}: {answer.status_code} {answer.text}"
                )
            instance_id = int(answer.json()["id"])
            created[element].append(instance_id)
            self.owner[instance_id] = tenant

        n = self.args.instances_per_element
        await asyncio.gather(*(create(e, i) for e in ELEMENTS for i in range(n)))
        self.truth.watchers = {element: sorted(ids) for element, ids in created.items()}

    async def wait_until_ready(
        self, http: httpx.AsyncClient, tenants: list[dict[str, str]]
    ) -> None:
        """Until every polled resource has its baseline and every Graph instance its
        subscription (changes made before would not be reported, by design)."""
        polled = [
            i
            for e in ("onedrivev2", "googlesuite", "docushareflex")
            for i in self.truth.watchers[e]
        ]
        waiting = set(polled)
        deadline = time.monotonic() + 180
        while waiting:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} instances never got their baseline")
            for instance_id in list(waiting):
                headers = tenants[self.owner[instance_id]]
                answer = await http.get(f"{API}/instances/{instance_id}/poller", headers=headers)
                if answer.status_code == 200 and all(s["baselined"] for s in answer.json()):
                    waiting.discard(instance_id)
            await asyncio.sleep(1)
        graph = len(self.truth.watchers["microsoftgraph"])
        while True:
            live = (await http.get("/sandbox/control/microsoftgraph/subscriptions")).json()
            if len(live["value"]) >= graph:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("Graph subscriptions missing")
            await asyncio.sleep(1)

    # -- workload ---------------------------------------------------------------------

    async def workload(self, http: httpx.AsyncClient, until: float) -> int:
        """Rounds of random changes until ``until`` (workload seconds); returns rounds."""
        rounds = 0
        counter = 0
        while self.now() < until:
            began = self.now()
            for source in SOURCES:
                counter += 1
                await self.change_one(http, source, counter)
            rounds += 1
            await asyncio.sleep(max(0.0, self.args.round_seconds - (self.now() - began)))
        return rounds

    async def change_one(self, http: httpx.AsyncClient, source: Source, n: int) -> None:
        """Create, update or delete one object of ``source`` (only settled ones change)."""
        mine = [t for t in self.truth.objects.values() if t.source == source and t.live]
        ready = [t for t in mine if t.settled]
        weights = {"create": 3 if len(mine) < 20 else 1, "update": 3, "delete": 2}
        action = self.rng.choices(list(weights), list(weights.values()))[0] if ready else "create"
        control = f"/sandbox/control/{source.element}/{source.collection}"
        if action == "create":
            answer = await http.post(control, json=source.fields(n))
            if answer.status_code < 300:
                self.truth.record(source, str(answer.json()["id"]), "CREATED")
        else:
            target = self.rng.choice(ready)
            path = f"{control}/{target.provider_id}"
            if action == "update":
                answer = await http.patch(path, json=source.fields(n))
                event_type = "UPDATED"
            else:
                answer = await http.delete(path)
                event_type = "DELETED"
            if answer.status_code < 300:
                self.truth.record(source, target.provider_id, event_type)
        if answer.status_code >= 300:
            self.change_errors[f"{source.collection} {action} {answer.status_code}"] += 1

    # -- faults -----------------------------------------------------------------------

    async def faults_schedule(self, http: httpx.AsyncClient, admin_url: str, until: float) -> None:
        """Inject the faults at their planned times; return once all have been injected."""
        length = until
        plan: list[tuple[float, str]] = []
        # The receiver's outage first, while the workload still updates and deletes; then
        # the kills, early enough that a dead worker's poll leases (held 5 minutes) run out
        # within the drain. While they are held, objects of the affected elements cannot
        # settle, so the workload is mostly creates until then.
        plan.append((length * 0.1, "receiver"))
        kills = self.args.worker_kills
        for i in range(kills):
            plan.append((length * (0.3 + 0.1 * i / max(1, kills - 1)), "kill"))
        drops = self.args.db_drops
        for i in range(drops):
            plan.append((length * (0.2 + 0.65 * i / max(1, drops - 1)), "db"))
        t = self.args.provider_fault_every / 2
        while t < length * 0.95:
            plan.append((t, "provider"))
            t += self.args.provider_fault_every
        plan.sort()
        background: set[asyncio.Task[None]] = set()
        for at, what in plan:
            await asyncio.sleep(max(0.0, at - self.now()))
            if what == "kill":
                background.add(asyncio.create_task(self.kill_and_restart(admin_url)))
            elif what == "receiver":
                background.add(asyncio.create_task(self.receiver_outage()))
            else:
                try:
                    if what == "db":
                        await self.drop_connections(admin_url)
                    else:
                        await self.provider_fault(http)
                except (OSError, asyncpg.PostgresError, httpx.HTTPError) as exc:
                    self.faults.add(self.now(), "fault not injected", f"{what}: {exc!r}")
        if background:
            await asyncio.gather(*background)

    async def kill_and_restart(self, admin_url: str) -> None:
        """SIGKILL a worker, count what it held, start a new one a little later."""
        pid = self.cluster.kill_worker(self.rng)
        self.last_kill = self.now()
        restart_at = self.now() + self.rng.uniform(1, 4)
        try:
            polls, deliveries = await self.leases_of(admin_url, pid)
            self.stranded_polls += polls
            self.stranded_deliveries += deliveries
            held = f"held {polls} poll leases, {deliveries} delivery leases"
        except (OSError, asyncpg.PostgresError) as exc:
            held = f"leases not counted: {exc}"
        self.faults.add(self.now(), "worker SIGKILL", f"pid {pid} ({held})")
        await asyncio.sleep(max(0.0, restart_at - self.now()))
        worker = self.cluster.start_worker()
        self.faults.add(self.now(), "worker restart", f"new pid {worker.pid}")

    async def leases_of(self, admin_url: str, pid: int) -> tuple[int, int]:
        """Poll and delivery leases a (dead) worker process still holds."""
        connection = await connect(database_url_for(admin_url, self.database))
        try:
            pattern = f"%:{pid}:%"
            polls = await connection.fetchval(
                "SELECT count(*) FROM poll_states WHERE lease_owner LIKE $1", pattern
            )
            deliveries = await connection.fetchval(
                "SELECT count(*) FROM notifications WHERE lease_owner LIKE $1", pattern
            )
        finally:
            await connection.close()
        return int(polls), int(deliveries)

    async def drop_connections(self, admin_url: str) -> None:
        """Terminate every backend connected to pollhub's database."""
        connection = await connect(asyncpg_url(admin_url))
        try:
            killed = await connection.fetchval(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()) AS t",
                self.database,
            )
        finally:
            await connection.close()
        self.faults.add(self.now(), "db connections dropped", f"{killed} backends terminated")

    async def receiver_outage(self) -> None:
        """Refuse connections for half the outage, then answer 503 for the other half."""
        half = self.args.receiver_down_seconds / 2
        await self.receiver.refuse_connections()
        self.faults.add(self.now(), "receiver down", f"refusing connections for {half:.0f}s")
        await asyncio.sleep(half)
        await self.receiver.answer_503()
        self.faults.add(self.now(), "receiver down", f"answering 503 for {half:.0f}s")
        await asyncio.sleep(half)
        await self.receiver.up()
        self.faults.add(self.now(), "receiver up", "accepting callbacks")

    async def provider_fault(self, http: httpx.AsyncClient) -> None:
        """Arm one random provider fault at the sandbox."""
        fault = {**self.rng.choice(PROVIDER_FAULTS), "provider": self.rng.choice(FAULTY_PROVIDERS)}
        answer = await http.post("/sandbox/control/faults", json=fault)
        answer.raise_for_status()
        self.faults.add(
            self.now(), f"provider {fault['kind']}", f"{fault['provider']} x{fault['count']}"
        )

    # -- the end ----------------------------------------------------------------------

    async def drain(self, workload_end: float) -> bool:
        """Wait until every change has reached every instance (True) or the drain time
        is over (False). A worker killed late leaves poll leases for 5 minutes, so the
        wait lasts at least until those have run out."""
        deadline = workload_end + self.args.drain_seconds
        if self.last_kill is not None:
            deadline = max(deadline, self.last_kill + POLL_LEASE_SECONDS + 30)
        last_print = 0.0
        while self.now() < deadline:
            left = self.truth.unsettled()
            if left == 0:
                return True
            if self.now() - last_print > 15:
                print(
                    f"  [{self.now():6.1f}s] draining: {left} (object, instance) pairs to go",
                    flush=True,
                )
                last_print = self.now()
            await asyncio.sleep(1)
        return self.truth.unsettled() == 0


def database_url_for(admin_url: str, name: str) -> str:
    """asyncpg URL of database ``name`` on the admin URL's server."""
    return f"{asyncpg_url(admin_url).rsplit('/', 1)[0]}/{name}"


# --- checking ----------------------------------------------------------------------------


@dataclass
class Verdict:
    """The comparison of what arrived with the ground truth."""

    expected: int = 0
    received_events: int = 0
    notifications: int = 0
    missed: int = 0
    duplicated: int = 0
    wrongly_typed: int = 0
    unexpected: int = 0
    out_of_order: int = 0
    notifications_out_of_order: int = 0
    retries: int = 0
    retries_with_other_body: int = 0
    bad_signatures: int = 0
    header_mismatches: int = 0
    examples: list[str] = field(default_factory=list)
    by_element: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def failures(self) -> int:
        """Everything that must be 0."""
        return (
            self.missed
            + self.duplicated
            + self.wrongly_typed
            + self.unexpected
            + self.out_of_order
            + self.notifications_out_of_order
            + self.retries_with_other_body
            + self.bad_signatures
            + self.header_mismatches
        )

    def example(self, text: str) -> None:
        """Keep a few examples of each problem for the report."""
        if len(self.examples) < 30:
            self.examples.append(text)


def check(truth: Truth, arrivals: list[Arrival]) -> Verdict:
    """Compare the callbacks with the changes made (see the module docstring)."""
    verdict = Verdict(expected=truth.expected_events())
    first: dict[str, Arrival] = {}
    for arrival in arrivals:
        verdict.bad_signatures += not arrival.signature_ok
        verdict.header_mismatches += arrival.header_id != arrival.event_id
        if arrival.event_id in first:
            verdict.retries += 1
            if first[arrival.event_id].digest != arrival.digest:
                verdict.retries_with_other_body += 1
            continue
        first[arrival.event_id] = arrival
    verdict.notifications = len(first)

    # What each instance got about each object, in arrival order of first copies.
    got: dict[tuple[int, str, str, str], list[str]] = defaultdict(list)
    by_instance: dict[int, list[Arrival]] = defaultdict(list)
    for arrival in sorted(first.values(), key=lambda a: a.seq):
        by_instance[arrival.instance_id].append(arrival)
        for object_type, object_id, event_type in arrival.events:
            got[(arrival.instance_id, arrival.element, object_type, object_id)].append(event_type)
            verdict.received_events += 1

    expected: dict[tuple[int, str, str, str], list[str]] = {}
    for (element, object_type, object_id), tracked in truth.objects.items():
        for instance_id in truth.watchers[element]:
            expected[(instance_id, element, object_type, object_id)] = tracked.changes

    for key in sorted(set(expected) | set(got)):
        want, have = expected.get(key, []), got.get(key, [])
        tally = verdict.by_element[key[1]]
        if not want:
            verdict.unexpected += len(have)
            tally["unexpected"] += len(have)
            verdict.example(f"unexpected {key}: got {have}")
            continue
        want_n, have_n = Counter(want), Counter(have)
        matched = sum((want_n & have_n).values())
        missing, extra = len(want) - matched, len(have) - matched
        wrong = min(missing, extra)
        verdict.wrongly_typed += wrong
        verdict.missed += missing - wrong
        verdict.duplicated += extra - wrong
        tally["wrongly typed"] += wrong
        tally["missed"] += missing - wrong
        tally["duplicated"] += extra - wrong
        if missing or extra:
            verdict.example(f"{key}: made {want}, got {have}")
        elif want != have:
            verdict.out_of_order += 1
            tally["out of order"] += 1
            verdict.example(f"out of order {key}: made {want}, got {have}")

    # Per instance, notifications must arrive in the order they were created.
    for instance_arrivals in by_instance.values():
        for before, after in itertools.pairwise(instance_arrivals):
            if _java_date_seconds(after.created) < _java_date_seconds(before.created):
                verdict.notifications_out_of_order += 1
                verdict.example(
                    f"instance {after.instance_id} ({after.element}): {before.event_id} "
                    f"created {before.created} {before.events} arrived at {before.at:.1f}s, "
                    f"then {after.event_id} created {after.created} {after.events} "
                    f"at {after.at:.1f}s"
                )
    return verdict


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _java_date_seconds(text: str) -> float:
    """``Mon Aug 20 15:30:07 UTC 2018`` as seconds (for ordering only)."""
    try:
        _, month, day, clock_time, _, year = text.split()
        hours, minutes, seconds = (int(x) for x in clock_time.split(":"))
        days = int(year) * 372 + _MONTHS.index(month) * 31 + int(day)
        return days * 86400.0 + hours * 3600 + minutes * 60 + seconds
    except ValueError:
        return 0.0


# --- reporting ---------------------------------------------------------------------------


async def database_figures(url: str) -> dict[str, Any]:
    """Outbox and poller state at the end, straight from the database."""
    connection = await connect(url)
    try:
        statuses = await connection.fetch(
            "SELECT status, count(*) AS n, sum(attempts) AS attempts FROM notifications GROUP BY 1"
        )
        results = await connection.fetch(
            "SELECT split_part(last_result, ':', 1) AS r, count(*) AS n FROM poll_states GROUP BY 1"
        )
        invalid = await connection.fetchval("SELECT count(*) FROM instances WHERE NOT valid")
    finally:
        await connection.close()
    return {
        "notifications": {r["status"]: (r["n"], r["attempts"]) for r in statuses},
        "poll states by last result": {r["r"]: r["n"] for r in results},
        "invalid instances": invalid,
    }


def scan_logs(log_dir: Path) -> Counter[str]:
    """Counts of the log lines worth knowing about, across every process."""
    patterns = {
        "poll crashed": "poll crashed",
        "crashed poll's lease not released": "could not release the lease",
        "poll failed": "poll failed",
        "could not claim notifications": "could not claim notifications",
        "could not record the attempt": "could not record the attempt",
        "claiming due polls failed": "claiming due polls failed",
        "delivery went wrong": "went wrong",
        "Traceback": "Traceback",
        "cursor expired": "cursor expired",
        "webhook subscription upkeep failed": "subscription upkeep failed",
    }
    counts: Counter[str] = Counter()
    for path in log_dir.glob("*.log"):
        with path.open(errors="replace") as log:
            for line in log:
                for name, needle in patterns.items():
                    if needle in line:
                        counts[name] += 1
    return counts


def print_report(soak: Soak, verdict: Verdict, figures: dict[str, Any], logs: Counter[str]) -> None:
    """Print every figure of the run."""
    print("\n=== soak test result ===")
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in soak.timings.items()))
    print(
        f"instances: {sum(len(v) for v in soak.truth.watchers.values())} "
        f"({', '.join(f'{k} {len(v)}' for k, v in soak.truth.watchers.items())}); "
        f"worker processes: {soak.args.workers}"
    )
    print(
        f"changes made: {sum(soak.truth.made.values())} {dict(soak.truth.made)}; "
        f"control API errors: {dict(soak.change_errors) or 0}"
    )
    print(
        f"events expected: {verdict.expected}; received: {verdict.received_events} in "
        f"{verdict.notifications} notifications"
    )
    print(
        f"faults: {dict(soak.faults.counts)}; callbacks answered 503 while down: "
        f"{soak.receiver.answered_503}; leases left by killed workers: "
        f"{soak.stranded_polls} polls, {soak.stranded_deliveries} deliveries"
    )
    print(f"database at the end: {figures}")
    print(f"log lines: {dict(logs)}")
    print(f"processes' CPU seconds: {soak.cpu}")
    print(f"Graph notifications (sandbox -> api): {soak.graph_deliveries}")
    print(f"retries of one notification (same eventId, not duplicates): {verdict.retries}")
    rows = [
        ("missed", verdict.missed),
        ("duplicated", verdict.duplicated),
        ("wrongly typed", verdict.wrongly_typed),
        ("unexpected", verdict.unexpected),
        ("out of order (objects)", verdict.out_of_order),
        ("out of order (notifications)", verdict.notifications_out_of_order),
        ("retries with another body", verdict.retries_with_other_body),
        ("bad signatures", verdict.bad_signatures),
        ("Elements-Webhook-Id != eventId", verdict.header_mismatches),
    ]
    for name, value in rows:
        print(f"  {name:32} {value}")
    for element, tally in sorted(verdict.by_element.items()):
        if +tally:
            print(f"  {element}: {dict(+tally)}")
    for line in verdict.examples:
        print(f"  e.g. {line}")
    print("PASS" if verdict.failures == 0 else "FAIL")


# --- main --------------------------------------------------------------------------------


async def run(args: argparse.Namespace, database: str, database_url: str, log_dir: Path) -> int:
    """The whole soak on an existing empty database; returns the exit status."""
    begun = time.monotonic()
    rng = random.Random(args.seed)
    api_port = free_port()
    env = {
        **os.environ,
        "POLLHUB_DATABASE_URL": database_url,
        "POLLHUB_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "POLLHUB_SANDBOX": "true",
        "POLLHUB_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "POLLHUB_MIN_REFRESH_SECONDS": MIN_REFRESH_SECONDS,
        "POLLHUB_LOG_LEVEL": "INFO",
    }
    cluster = Cluster(env=env, log_dir=log_dir, api_port=api_port)
    truth = Truth()
    receiver = Receiver(truth, free_port())
    soak = Soak(args, cluster, receiver, truth, database, rng)
    cluster.run_cli("migrate")
    tenants = []
    for n in range(ORGANIZATIONS):
        created = json.loads(
            cluster.run_cli("orgs", "create", f"Soak {n}", "--email", f"soak{n}@example.com")
        )
        tenants.append(
            {
                "Authorization": f"User {created['user']['secret']}, "
                f"Organization {created['organization']['secret']}"
            }
        )
    await receiver.start()
    cluster.start_api()
    for _ in range(args.workers):
        cluster.start_worker()
    try:
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one the
        # server is closing just then failed a run with httpx.ReadError (the client's, not
        # pollhub's).
        limits = httpx.Limits(keepalive_expiry=2)
        async with httpx.AsyncClient(base_url=cluster.url, timeout=60, limits=limits) as http:
            await wait_for_health(http)
            soak.timings["start"] = time.monotonic() - begun
            print(
                f"api on {cluster.url}, {args.workers} workers, "
                f"receiver {receiver.url}, logs in {log_dir}"
            )
            await soak.create_instances(http, tenants)
            await soak.wait_until_ready(http, tenants)
            soak.timings["setup"] = time.monotonic() - begun
            print(
                f"{sum(len(v) for v in truth.watchers.values())} instances ready after "
                f"{soak.timings['setup']:.0f}s; workload for {args.minutes} min",
                flush=True,
            )
            soak.started = time.monotonic()
            length = args.minutes * 60
            rounds, _ = await asyncio.gather(
                soak.workload(http, length),
                soak.faults_schedule(http, args.database_url_admin, length),
            )
            await http.delete("/sandbox/control/faults")
            await receiver.up()
            workload_end = soak.now()
            soak.timings["workload"] = workload_end
            print(f"workload over: {rounds} rounds; draining", flush=True)
            drained = await soak.drain(workload_end)
            soak.timings["drain"] = soak.now() - workload_end
            await asyncio.sleep(args.quiet_seconds)  # anything extra would arrive now
            print(f"drained: {drained}", flush=True)
            soak.graph_deliveries = await graph_delivery_figures(http)
        exits = cluster.unexpected_exits()
        soak.cpu = cluster.cpu_seconds()
    finally:
        cluster.stop()
        await receiver.stop()
    soak.timings["total"] = time.monotonic() - begun
    verdict = check(truth, receiver.arrivals)
    figures = await database_figures(database_url_for(args.database_url_admin, database))
    print_report(soak, verdict, figures, scan_logs(log_dir))
    if exits:
        print(f"processes that died on their own: {exits}")
    return 0 if verdict.failures == 0 and not exits else 1


async def graph_delivery_figures(http: httpx.AsyncClient) -> dict[str, int]:
    """How the sandbox's Graph notifications to the API went (it tries 3 times in ~1.5 s
    with a 3 s timeout each, then gives up — Graph itself retries for hours)."""
    deliveries = (await http.get("/sandbox/control/notifications")).json()["deliveries"]
    notifications = [d for d in deliveries if d["kind"] == "notification"]
    return {
        "sent": len(notifications),
        "retried": sum(1 for d in notifications if d["attempts"] > 1),
        "given up": sum(1 for d in notifications if d["done"] and not d["delivered"]),
    }


async def wait_for_health(http: httpx.AsyncClient) -> None:
    """Until the API answers /health."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/health")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError("the API did not start")


def main(argv: list[str] | None = None) -> int:
    """Run the soak test; 0 when nothing was missed, duplicated, mistyped or misordered."""
    args = parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="pollhub-soak-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    with fresh_database(args.database_url_admin, args.keep_database) as (name, url):
        status = asyncio.run(run(args, name, url, log_dir))
    print(f"logs: {log_dir}")
    if status == 0 and args.log_dir is None:
        shutil.rmtree(log_dir, ignore_errors=True)
        print("(removed: the run passed)")
    return status


if __name__ == "__main__":
    sys.exit(main())
