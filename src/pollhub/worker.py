"""The worker: polls due resources, delivers the outbox, and keeps the tables tidy.

:func:`run_worker` runs them side by side until stopped (``pollhub worker``, and inside
``pollhub serve``), with webhook subscription upkeep.

APScheduler ticks every second; through each tick the worker keeps its
``POLLHUB_POLL_CONCURRENCY`` slots filled: it claims as many due resource polls as there
are free slots, fairly across organizations (see :mod:`pollhub.polling.schedule`: when
several compete each gets its turn, and a lone organization gets every slot), claims again
as polls finish, and looks again for newly due polls every tenth of a tick. Provider rate
limits are kept per request (:mod:`pollhub.polling.pacing`). The leases of running polls
are renewed every few seconds, so a killed worker's polls are taken over within
``POLLHUB_LEASE_SECONDS``. Any number of workers can share one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.leases import Heartbeat
from pollhub.db.models import PollState
from pollhub.delivery.dispatcher import Dispatcher, default_worker_id
from pollhub.delivery.service import prune_delivered
from pollhub.instances.service import delete_drained_instances
from pollhub.oauth.tokens import TokenKeeper
from pollhub.outbound.clients import fast_provider_client, provider_client
from pollhub.polling import schedule
from pollhub.polling.poller import PollContext, poll_resource
from pollhub.settings import get_settings
from pollhub.webhooks import inbox, receipts, subscriptions

log = logging.getLogger(__name__)

PROVIDER_TIMEOUT_SECONDS = 30.0
PROVIDER_TIMEOUT = httpx.Timeout(PROVIDER_TIMEOUT_SECONDS, connect=10.0)
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
            await prune(sessionmaker)
        except Exception:  # tidying up must never take the worker down
            log.exception("pruning delivered notifications or webhook receipts failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PRUNE_EVERY.total_seconds())


async def prune(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """One run of the periodic pruning: delivered notifications past
    ``POLLHUB_DELIVERED_RETENTION_DAYS`` and webhook receipts past
    ``POLLHUB_WEBHOOK_RECEIPT_RETENTION_DAYS``."""
    async with sessionmaker() as session:
        now = clock.now()
        delivered = await prune_delivered(session, now)
        receipts_pruned = await receipts.prune(session, now)
        await session.commit()
    if delivered:
        log.info("pruned %d delivered notifications", delivered)
    if receipts_pruned:
        log.info("pruned %d webhook receipts", receipts_pruned)


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
        concurrency: int | None = None,
        tick_seconds: float = 1.0,
    ) -> None:
        self.worker_id = worker_id or default_worker_id()
        self._sessionmaker = sessionmaker
        self._concurrency = concurrency or get_settings().poll_concurrency
        self._tick_seconds = tick_seconds
        self._in_flight: set[asyncio.Task[str]] = set()
        self._instances = schedule.InstanceCache()
        self._heartbeat = Heartbeat(
            sessionmaker, PollState, worker_id=self.worker_id, lease=schedule.lease()
        )
        self._ticking = asyncio.Lock()
        self._context: PollContext | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set, then let running polls finish (their leases expire
        within seconds if the process dies instead)."""
        # A bare aiohttp session: httpx's request layer was half a poll's CPU (bench/).
        async with fast_provider_client(timeout=PROVIDER_TIMEOUT_SECONDS) as http:
            self._context = PollContext(
                self._sessionmaker, TokenKeeper(self._sessionmaker), http, self.worker_id
            )
            drained = asyncio.Event()
            heartbeat = asyncio.create_task(self._heartbeat.run(drained))
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
                drained.set()
                await heartbeat
                log.info("poll worker %s stopped", self.worker_id)

    async def tick(self) -> int:
        """Keep the slots filled for most of a tick; returns how many polls were started.

        Polls take a fraction of a second, so slots are refilled as polls finish (in
        batches of a tenth of the slots, so claims stay few), and a claim that found less
        than there was room for is retried a tenth of a tick later for newly due polls.
        """
        if self._context is None or self._ticking.locked():
            return 0
        async with self._ticking:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._tick_seconds * 0.9
            batch = max(1, self._concurrency // 10)
            started = 0
            while loop.time() < deadline:
                free = self._concurrency - len(self._in_flight)
                claimed = await self._claim_and_start(free) if free > 0 else 0
                started += claimed
                remaining = deadline - loop.time()
                if claimed < free:  # nothing more is due just now
                    await asyncio.sleep(max(0.0, min(remaining, self._tick_seconds / 10)))
                else:
                    await self._wait_for_room(batch, remaining)
            return started

    async def _wait_for_room(self, wanted: int, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while self._in_flight and self._concurrency - len(self._in_flight) < wanted:
            remaining = until - loop.time()
            if remaining <= 0:
                return
            await asyncio.wait(
                set(self._in_flight), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )

    async def _claim_and_start(self, free: int) -> int:
        assert self._context is not None
        try:
            async with self._sessionmaker() as session:
                claims = await schedule.claim_due_polls(
                    session, self.worker_id, free, cache=self._instances
                )
                await session.commit()
        except Exception:  # a database hiccup must not kill the timer
            log.exception("claiming due polls failed; retrying next tick")
            return 0
        for claim in claims:
            self._heartbeat.held.add(claim.state_id)
            task = asyncio.create_task(self._guarded(claim, self._context))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(claims)

    async def _guarded(self, claim: schedule.Claim, context: PollContext) -> str:
        try:
            return await poll_resource(context, claim)
        except Exception:
            # The poll gave its lease back (or it expires); the cursor did not move.
            log.exception(
                "poll crashed", extra={"instance": claim.instance_id, "resource": claim.resource}
            )
            return "crashed"
        finally:
            self._heartbeat.held.discard(claim.state_id)


async def run_until_signalled(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``run(stop)`` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run(stop)
