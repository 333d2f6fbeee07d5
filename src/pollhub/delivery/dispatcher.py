"""The dispatcher: claims due notifications from the outbox and delivers them.

One dispatcher runs in each worker process; several share the outbox safely (see
:mod:`pollhub.delivery.repository`). Deliveries run concurrently across instances, up to
``POLLHUB_DELIVERY_CONCURRENCY`` at once, and each frees its slot as soon as it ends, so a
slow or dead callback URL holds one slot for at most the timeout and never delays other
instances. Within one instance, notifications go one at a time, in order: a claim leases
an instance's first due notification with up to ``CHAIN - 1`` that follow it, and one task
delivers them in turn, stopping (and giving the rest back) at the first that fails. While
a full chain goes out, the task leases the instance's next one (one statement for many
instances), so an instance's backlog flows without waiting for the next claim.

Each attempt's result is written in a transaction of its own right after the answer
arrives — a transaction that holds only attempt results. When many attempts end together
their results share one commit (group commit); an attempt is not finished, and its
instance's next notification not eligible, until its result is committed. A worker killed
after a 2xx and before that commit leaves the notification's chain leased (a chain is
leased by its first and last rows, see :mod:`pollhub.delivery.repository`); once the lease
expires the notification is delivered again with the same ``Elements-Webhook-Id`` (at least
once, never lost).
Leases are short (``POLLHUB_LEASE_SECONDS``) and renewed while held, so that happens
within seconds of a worker's death.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.configuration import QUEUE
from pollhub.db.group_commit import GroupCommit
from pollhub.db.leases import Heartbeat
from pollhub.db.models import Notification
from pollhub.delivery import metrics
from pollhub.delivery.repository import (
    DELIVERED,
    FAILED,
    QUEUED,
    RETRYING,
    Claimed,
    InstanceColumns,
    Outcome,
    claim_due,
    claim_following,
    record_outcomes,
    release,
)
from pollhub.delivery.retry import retry_delay
from pollhub.delivery.sender import AttemptResult, CallbackSender
from pollhub.delivery.signing import callback_headers
from pollhub.settings import Settings, get_settings

log = logging.getLogger(__name__)
MAX_IDLE_SECONDS = 0.1  # an idle dispatcher looks for new notifications this often
MAX_CLAIM_BACKOFF_SECONDS = 5.0
CHAIN = 16  # notifications of one instance leased and delivered by one task, in order
CHAINS_PER_SLOT = 4  # chains in flight per POST slot (bench/delivery.py: 2 left slots idle)
# While chains are in flight, a claim that found nothing is not repeated for this many times
# its own duration (at most MAX_CLAIM_PACE_SECONDS): with every instance of a large backlog
# leased, such claims took a tenth of the worker's time and found nothing.
EMPTY_CLAIM_PACE = 10
MAX_CLAIM_PACE_SECONDS = 1.0  # the longest a new instance's notification waits for it


def default_worker_id() -> str:
    """A name for this process's dispatcher, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Dispatcher:
    """Delivers the outbox: :meth:`run` in a worker, :meth:`deliver_due` in tests.

    Use it as ``async with Dispatcher(...) as dispatcher`` to keep one connection pool
    across calls of :meth:`deliver_due`; :meth:`run` manages its own.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        worker_id: str | None = None,
        settings: Settings | None = None,
        concurrency: int | None = None,
        timeout_seconds: float | None = None,
        lease_seconds: float | None = None,
        max_retries: int | None = None,
        allow_private: bool | None = None,
        idle_seconds: float = MAX_IDLE_SECONDS,
    ) -> None:
        settings = settings or get_settings()
        self.worker_id = worker_id or default_worker_id()
        self._sessionmaker = sessionmaker
        self._concurrency = concurrency or settings.delivery_concurrency
        timeout = timeout_seconds or settings.delivery_timeout_seconds
        # Renewed while held (the heartbeat), so a live worker never loses its lease.
        self._lease = timedelta(seconds=lease_seconds or settings.lease_seconds)
        self._max_retries = settings.delivery_max_retries if max_retries is None else max_retries
        allow = settings.allow_private_addresses if allow_private is None else allow_private
        self._sender = CallbackSender(
            timeout_seconds=timeout, allow_private=bool(allow), connections=self._concurrency
        )
        self._idle_seconds = min(idle_seconds, MAX_IDLE_SECONDS)
        # At most ``concurrency`` callbacks in flight; a chain holds a slot only while its
        # POST is, not while its result commits.
        self._posting = asyncio.Semaphore(self._concurrency)
        self._results: GroupCommit[Outcome, None] = GroupCommit(sessionmaker, self._write_outcomes)
        # Each instance's next chain, leased while its current one goes out; the requests
        # of many instances share one statement.
        self._following: GroupCommit[tuple[int, int], list[Claimed]] = GroupCommit(
            sessionmaker, self._claim_following
        )
        self._heartbeat = Heartbeat(
            sessionmaker, Notification, worker_id=self.worker_id, lease=self._lease
        )
        self._instances = InstanceColumns()
        self._open = False
        self._claim_failures = 0
        self.attempts_made = 0  # since this dispatcher was created; for logs and tests

    async def __aenter__(self) -> Dispatcher:
        await self._sender.open()
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._open = False
        await self._sender.close()

    async def deliver_due(self, limit: int = 100) -> int:
        """One pass: claim up to ``limit`` due notifications, attempt each, record results.

        Returns how many attempts were made (0 when nothing was due).
        """
        async with self._connections():
            chains = _chains(await self._claim(limit))
            slots = asyncio.Semaphore(self._concurrency)
            attempts = self.attempts_made

            async def deliver(chain: list[Claimed]) -> None:
                async with slots:
                    await self._deliver(chain, follow=False)

            await asyncio.gather(*(deliver(chain) for chain in chains))
            return self.attempts_made - attempts

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then finish the attempts in flight and return."""
        async with self._connections():
            in_flight: set[asyncio.Task[None]] = set()
            stopping = asyncio.create_task(stop.wait())
            drained = asyncio.Event()
            heartbeat = asyncio.create_task(self._heartbeat.run(drained))
            loop = asyncio.get_running_loop()
            paced_until = 0.0  # no claim before this loop time (EMPTY_CLAIM_PACE)
            try:
                while not stop.is_set():
                    # Four times as many chains as POST slots: while some wait for their
                    # result's commit (a few times as long as a POST under load), the
                    # others keep every slot busy.
                    free = CHAINS_PER_SLOT * self._concurrency - len(in_flight)
                    claimed: list[Claimed] = []
                    if free > 0 and loop.time() >= paced_until:
                        started = loop.time()
                        claimed = await self._claim_safely(free)
                        if not claimed and in_flight:
                            pace = EMPTY_CLAIM_PACE * (loop.time() - started)
                            paced_until = loop.time() + min(pace, MAX_CLAIM_PACE_SECONDS)
                    for chain in _chains(claimed):
                        task = asyncio.create_task(self._deliver(chain, stop))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    # A finished attempt may make its instance's next notification due,
                    # so look again as soon as one ends; otherwise after the idle period.
                    await asyncio.wait(
                        {*in_flight, stopping},
                        timeout=max(self._next_look(), paced_until - loop.time()),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
            finally:
                stopping.cancel()
                if in_flight:
                    await asyncio.wait(in_flight)  # each ends within the timeout
                drained.set()
                await heartbeat

    @asynccontextmanager
    async def _connections(self) -> AsyncIterator[None]:
        if self._open:
            yield
            return
        async with self:
            yield

    async def _claim(self, limit: int) -> list[Claimed]:
        async with self._sessionmaker() as session, session.begin():
            return await claim_due(
                session,
                worker_id=self.worker_id,
                now=clock.now(),
                lease=self._lease,
                limit=limit,
                chain=CHAIN,
                instances=self._instances,
            )

    async def _claim_safely(self, limit: int) -> list[Claimed]:
        try:
            claimed = await self._claim(limit)
        except Exception:  # the database is away: keep the worker alive and try again
            self._claim_failures += 1
            log.exception("could not claim notifications (%d in a row)", self._claim_failures)
            return []
        self._claim_failures = 0
        return claimed

    def _next_look(self) -> float:
        # Backs off while the database is unreachable, so the log is not flooded.
        if not self._claim_failures:
            return self._idle_seconds
        backoff: float = self._idle_seconds * 2.0**self._claim_failures
        return min(backoff, MAX_CLAIM_BACKOFF_SECONDS)

    async def _deliver(
        self, chain: list[Claimed], stop: asyncio.Event | None = None, *, follow: bool = True
    ) -> None:
        """Deliver one instance's claimed notifications in order; give back what is left
        once one is not delivered (or the worker stops).

        While a full chain goes out, the instance's next one is leased (``follow``), so a
        backlog flows without a pause between chains: waiting for the next claim of
        :meth:`run` took a third of an instance's time in bench/delivery.py.
        """
        following: asyncio.Task[list[Claimed]] | None = None
        held: set[int] = set()  # leased to this delivery, renewed until attempted or given back
        try:
            while chain:
                self._hold(held, chain)
                following = (
                    asyncio.create_task(self._lease_following(chain[-1], held))
                    if follow and len(chain) == CHAIN
                    else None
                )
                rest = await self._deliver_chain(chain, stop, following, held)
                chain = await self._claimed(following)
                if rest is not None:
                    await self._give_back(rest + chain)
                    return
        finally:
            if following is not None:
                following.cancel()  # not awaited only if this delivery was cancelled
            self._heartbeat.held.difference_update(held)

    async def _deliver_chain(
        self,
        chain: list[Claimed],
        stop: asyncio.Event | None,
        following: asyncio.Task[list[Claimed]] | None,
        held: set[int],
    ) -> list[Claimed] | None:
        """Deliver a chain in order: ``None`` if every one was delivered, otherwise those
        after the first that was not (or after the worker stopped), not attempted.

        The next chain must be leased while this one still holds a lease — the instance's
        last leased notification is what keeps every other claim off it — so its lease is
        awaited before the last attempt, and before anything is given back.
        """
        for done, notification in enumerate(chain, start=1):
            if done == len(chain) and following is not None:
                await asyncio.wait({following})
            try:
                delivered = await self._attempt(notification)
            except Exception:  # a bug must not kill the worker; the lease brings it back
                log.exception("delivery of %s went wrong", notification.event_id)
                delivered = False
            self._let_go(held, notification)
            if not delivered or (stop is not None and stop.is_set()):
                return chain[done:]
        return None

    async def _lease_following(self, last: Claimed, held: set[int]) -> list[Claimed]:
        claimed = await self._following.submit((last.instance_id, last.id)) or []
        # Renewed from now on: the chain may wait as long as a slow callback of the one
        # before it takes.
        self._hold(held, claimed)
        return claimed

    def _hold(self, held: set[int], notifications: list[Claimed]) -> None:
        """Count the leased rows of ``notifications`` as a delivery's, and renew them."""
        ids = {notification.id for notification in notifications if notification.leased}
        held |= ids
        self._heartbeat.held |= ids

    def _let_go(self, held: set[int], notification: Claimed) -> None:
        """Stop renewing an attempted notification's lease (its result cleared it)."""
        held.discard(notification.id)
        self._heartbeat.held.discard(notification.id)

    async def _claimed(self, following: asyncio.Task[list[Claimed]] | None) -> list[Claimed]:
        if following is None:
            return []
        try:
            return await following
        except Exception:  # the database is away; what was leased expires on its own
            log.exception("could not lease the next notifications of an instance")
            return []

    async def _claim_following(
        self, session: AsyncSession, lasts: list[tuple[int, int]]
    ) -> list[list[Claimed]]:
        claimed = await claim_following(
            session,
            worker_id=self.worker_id,
            now=clock.now(),
            lease=self._lease,
            after=dict(lasts),
            chain=CHAIN,
            instances=self._instances,
        )
        chains: dict[int, list[Claimed]] = {instance_id: [] for instance_id, _ in lasts}
        for notification in claimed:
            chains[notification.instance_id].append(notification)
        return [chains[instance_id] for instance_id, _ in lasts]

    async def _give_back(self, notifications: list[Claimed]) -> None:
        if not notifications:
            return
        ids = [notification.id for notification in notifications]
        self._heartbeat.held.difference_update(ids)
        try:
            async with self._sessionmaker() as session, session.begin():
                await release(session, worker_id=self.worker_id, ids=ids)
        except Exception:  # the leases expire on their own
            log.exception("could not give back %d notifications", len(ids))

    async def _attempt(self, notification: Claimed) -> bool:
        """One POST and its recorded result; True if delivered and recorded."""
        now = clock.now()
        # The client's own headers and Basic credentials first: pollhub's (content type,
        # id, signatures) always win, and the client's can never name them anyway.
        headers = {
            **notification.headers,
            **callback_headers(
                event_id=notification.event_id,
                body=notification.body,
                signature_key=notification.signature_key,
                now=now,
            ),
        }
        async with self._posting:
            started = time.perf_counter()
            result = await self._sender.post(
                notification.callback_url, notification.body, headers, now=now
            )
            metrics.ATTEMPT_SECONDS.observe(time.perf_counter() - started)
        self.attempts_made += 1
        outcome = self._outcome(notification, result, clock.now())
        metrics.ATTEMPTS_BY_OUTCOME[outcome.status].inc()
        try:
            await self._results.submit(outcome)
        except Exception:  # not recorded: the lease expires and the attempt is repeated
            log.exception("could not record the attempt of %s", notification.event_id)
            return False
        return outcome.status == DELIVERED

    async def _write_outcomes(self, session: AsyncSession, outcomes: list[Outcome]) -> None:
        await record_outcomes(session, worker_id=self.worker_id, outcomes=outcomes)

    def _outcome(self, notification: Claimed, result: AttemptResult, now: datetime) -> Outcome:
        attempts = notification.attempts + 1
        if result.ok:
            return Outcome(notification.id, attempts, DELIVERED, now, result.status_code, None, now)
        if result.refused or attempts > self._max_retries:
            # Policy "queue": held, with the instance's later notifications, until released.
            queue = notification.failure_policy == QUEUE and not result.refused
            log.warning(
                "notification %s of instance %s %s after %d attempt(s): %s",
                notification.event_id,
                notification.instance_id,
                "queued" if queue else "failed",
                attempts,
                result.error,
            )
            status = QUEUED if queue else FAILED
            return Outcome(
                notification.id, attempts, status, now, result.status_code, result.error, None
            )
        delay = retry_delay(attempts, retry_after=result.retry_after)
        return Outcome(
            notification.id,
            attempts,
            RETRYING,
            now + timedelta(seconds=delay),
            result.status_code,
            result.error,
            None,
        )


def _chains(claimed: list[Claimed]) -> list[list[Claimed]]:
    """Claimed notifications grouped by instance, each group in ``id`` order."""
    chains: dict[int, list[Claimed]] = {}
    for notification in sorted(claimed, key=lambda n: n.id):
        chains.setdefault(notification.instance_id, []).append(notification)
    return list(chains.values())
