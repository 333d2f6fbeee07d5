"""Leases: how workers share rows of work through the database.

A worker takes rows by writing its name and an expiry into them, in one statement that
selects candidates with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer), so
concurrent workers never take the same row, and only rows whose lease is free or expired —
a dead worker's rows are taken over once its leases run out.

Leases are short (``POLLHUB_LEASE_SECONDS``) and a :class:`Heartbeat` renews those of the
work still running every third of that, so a worker killed mid-poll or mid-delivery has
its work taken over within seconds, while a live worker never loses a slow poll's lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.models import Notification, PollState, WebhookInbox, WebhookSubscription

log = logging.getLogger(__name__)

Leased = type[PollState] | type[WebhookSubscription] | type[WebhookInbox]
Renewable = type[PollState] | type[Notification]


def lease_is_free(model: Leased, now: datetime) -> ColumnElement[bool]:
    """Rows nobody holds, or whose holder's lease has run out."""
    return or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)


async def take_leases(
    session: AsyncSession,
    model: Leased,
    candidates: Select[Any],
    *,
    worker_id: str,
    lease: timedelta,
    returning: Sequence[Any],
    still: Sequence[ColumnElement[bool]] = (),
) -> Sequence[Row[Any]]:
    """Lease the ``candidates`` (a select of ids) that are free, re-checking ``still``
    under the row locks; returns the ``returning`` columns of the rows taken.

    Commit the session right after: the lease is what the claim records.
    """
    now = clock.now()
    free = lease_is_free(model, now)
    lockable = (
        select(model.id)
        .where(model.id.in_(candidates), free, *still)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(model)
        .where(model.id.in_(lockable), free)
        .values(lease_owner=worker_id, lease_expires_at=now + lease)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    return result.all()


async def renew_leases(
    session: AsyncSession, model: Renewable, ids: Sequence[int], *, worker_id: str, until: datetime
) -> None:
    """Extend this worker's leases on ``ids`` to ``until`` (rows another worker took over
    are left alone); commits nothing.

    Rows locked right now are skipped: they are being closed (the group commit releasing
    their lease), and waiting for them would deadlock with that commit, which locks the same
    rows in another order.
    """
    if ids:
        mine = (
            select(model.id)
            .where(model.id.in_(ids), model.lease_owner == worker_id)
            .with_for_update(skip_locked=True)
        )
        await session.execute(
            update(model)
            .where(model.id.in_(mine))
            .values(lease_expires_at=until)
            .execution_options(synchronize_session=False)
        )


class Heartbeat:
    """Keeps the leases of the rows a worker is working on from running out.

    Add a row's id when its work starts and discard it when the work has released the
    lease; :meth:`run` renews every held lease every third of the lease, in one statement.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        model: Renewable,
        *,
        worker_id: str,
        lease: timedelta,
    ) -> None:
        self.held: set[int] = set()
        self._sessionmaker = sessionmaker
        self._model = model
        self._worker_id = worker_id
        self._lease = lease

    async def run(self, stop: asyncio.Event) -> None:
        """Renew until ``stop`` is set (set it once the work has drained, not before)."""
        every = self._lease.total_seconds() / 3
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            await self.beat()

    async def beat(self) -> None:
        """Renew every held lease now."""
        ids = sorted(self.held)
        if not ids:
            return
        try:
            async with self._sessionmaker() as session, session.begin():
                until = clock.now() + self._lease
                await renew_leases(
                    session, self._model, ids, worker_id=self._worker_id, until=until
                )
        except Exception:  # the database is away: try again at the next beat
            log.warning("could not renew %d leases", len(ids), exc_info=True)
