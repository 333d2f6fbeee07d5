"""The worker: polls due resources, delivers the outbox, and keeps the tables tidy.

:func:`run_worker` runs them side by side until stopped (``pollhub worker``, and inside
``pollhub serve``), with webhook subscription upkeep.

APScheduler ticks every second; each tick claims as many due resource polls as there are
free slots (fairly across organizations, see :mod:`pollhub.polling.schedule`), refilling
slots as polls finish, and runs them: at most ``per_organization`` at once for one
organization (claims beyond that are given straight back) and ``per_element`` at once
against one provider, so one slow tenant or provider cannot hold back the others.
Any number of workers can share one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.delivery.dispatcher import Dispatcher, default_worker_id
from pollhub.delivery.service import prune_delivered
from pollhub.instances.service import delete_drained_instances
from pollhub.oauth.tokens import TokenKeeper
from pollhub.outbound.clients import fast_provider_client, provider_client
from pollhub.polling import schedule
from pollhub.polling.poller import PollContext, poll_resource
from pollhub.webhooks import inbox, subscriptions

log = logging.getLogger(__name__)

PROVIDER_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PRUNE_EVERY = timedelta(hours=1)
# How soon an instance deleted with ?drain=true goes once its last callback is delivered.
DRAINED_CHECK_SECONDS = 2.0
# How soon lifecycle notifications (which mark subscriptions due) and webhook events
# waiting for their objects are acted on.
SUBSCRIPTION_CHECK_SECONDS = 0.25


async def run_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    *,
    worker_id: str | None = None,
) -> None:
    """Poll, deliver and prune until ``stop`` is set."""
    worker_id = worker_id or default_worker_id()
    await asyncio.gather(
        PollWorker(sessionmaker, worker_id=worker_id).run(stop),
        Dispatcher(sessionmaker, worker_id=worker_id).run(stop),
        _keep_subscriptions(sessionmaker, stop, worker_id),
        _prune_periodically(sessionmaker, stop),
        _delete_drained_periodically(sessionmaker, stop),
    )


async def _keep_subscriptions(
    sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event, worker_id: str
) -> None:
    """Renew, re-create and catch up webhook subscriptions as they fall due, and fetch the
    objects of webhook events held in the inbox."""
    tokens = TokenKeeper(sessionmaker)
    async with provider_client(timeout=PROVIDER_TIMEOUT) as http:
        while not stop.is_set():
            try:
                await subscriptions.maintain(sessionmaker, tokens, http, worker_id)
                await inbox.process_inbox(sessionmaker, tokens, http, worker_id)
            except Exception:  # a database hiccup must not end the loop
                log.exception("webhook upkeep failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=SUBSCRIPTION_CHECK_SECONDS)


async def _prune_periodically(
    sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            async with sessionmaker() as session:
                pruned = await prune_delivered(session, clock.now())
                await session.commit()
            if pruned:
                log.info("pruned %d delivered notifications", pruned)
        except Exception:  # tidying up must never take the worker down
            log.exception("pruning delivered notifications failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PRUNE_EVERY.total_seconds())


async def _delete_drained_periodically(
    sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            async with sessionmaker() as session:
                deleted = await delete_drained_instances(session)
                await session.commit()
            if deleted:
                log.info("deleted %d drained instances", deleted)
        except Exception:  # a database hiccup must not take the worker down
            log.exception("deleting drained instances failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=DRAINED_CHECK_SECONDS)


class PollWorker:
    """Runs due polls until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        worker_id: str | None = None,
        concurrency: int = 200,
        per_organization: int = 20,
        per_element: int = 100,
        tick_seconds: float = 1.0,
    ) -> None:
        self.worker_id = worker_id or default_worker_id()
        self._sessionmaker = sessionmaker
        self._concurrency = concurrency
        self._tick_seconds = tick_seconds
        self._in_flight: set[asyncio.Task[str]] = set()
        self._per_organization = per_organization
        self._running_per_org: Counter[int] = Counter()
        self._element_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_element)
        )
        self._ticking = asyncio.Lock()
        self._context: PollContext | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set, then let running polls finish (their leases expire
        on their own if the process dies instead)."""
        # httpx's API on aiohttp's transport: several times the requests per second of
        # httpx's own pool on this hot path (reference/http-client-bench).
        async with fast_provider_client(timeout=PROVIDER_TIMEOUT) as http:
            self._context = PollContext(
                self._sessionmaker, TokenKeeper(self._sessionmaker), http, self.worker_id
            )
            scheduler = AsyncIOScheduler()
            scheduler.add_job(
                self.tick,
                "interval",
                seconds=self._tick_seconds,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
            scheduler.start()
            log.info("poll worker %s started", self.worker_id)
            try:
                await stop.wait()
            finally:
                # A tick under way ends on its own: shutting down would cancel it mid-claim.
                scheduler.pause()
                await asyncio.sleep(0)  # a tick just submitted takes the lock first
                async with self._ticking:
                    scheduler.shutdown(wait=False)
                if self._in_flight:
                    await asyncio.wait(self._in_flight, timeout=30)
                log.info("poll worker %s stopped", self.worker_id)

    async def tick(self) -> int:
        """Claim what is due and start it; returns how many polls were started.

        Polls take a fraction of a second, so a tick keeps refilling slots as polls finish
        (for most of the tick) instead of claiming once: otherwise one worker could never
        do more than ``concurrency`` polls per tick.
        """
        if self._context is None or self._ticking.locked():
            return 0
        async with self._ticking:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._tick_seconds * 0.9
            started = 0
            while True:
                free = self._concurrency - len(self._in_flight)
                if free > 0:
                    claimed = await self._claim_and_start(free)
                    started += claimed
                    if claimed < free:
                        return started  # nothing more is due
                remaining = deadline - loop.time()
                if remaining <= 0 or not self._in_flight:
                    return started
                await asyncio.wait(
                    set(self._in_flight), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )

    async def _claim_and_start(self, free: int) -> int:
        assert self._context is not None
        try:
            async with self._sessionmaker() as session:
                claims = await schedule.claim_due_polls(
                    session, self.worker_id, free, per_organization=self._per_organization
                )
                # An organization already at its limit here gets its claims back at once,
                # so no lease is held by a poll that is merely waiting (a worker killed now
                # would otherwise silence them until the lease expired).
                startable: list[schedule.Claim] = []
                returned: list[schedule.Claim] = []
                running = Counter(self._running_per_org)
                for claim in claims:
                    fits = running[claim.organization_id] < self._per_organization
                    (startable if fits else returned).append(claim)
                    running[claim.organization_id] += fits
                await schedule.give_back(session, [c.state_id for c in returned], self.worker_id)
                await session.commit()
        except Exception:  # a database hiccup must not kill the timer
            log.exception("claiming due polls failed; retrying next tick")
            return 0
        for claim in startable:
            self._running_per_org[claim.organization_id] += 1
            task = asyncio.create_task(self._guarded(claim, self._context))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(startable)

    async def _guarded(self, claim: schedule.Claim, context: PollContext) -> str:
        try:
            async with self._element_slots[claim.element_key]:
                return await poll_resource(context, claim)
        except Exception:
            # The poll gave its lease back (or it expires); the cursor did not move.
            log.exception(
                "poll crashed", extra={"instance": claim.instance_id, "resource": claim.resource}
            )
            return "crashed"
        finally:
            self._running_per_org[claim.organization_id] -= 1


async def run_until_signalled(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``run(stop)`` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run(stop)
