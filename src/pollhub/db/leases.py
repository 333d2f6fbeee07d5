"""Leases: how workers share rows of work through the database.

A worker takes rows by writing its name and an expiry into them, in one statement that
selects candidates with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer), so
concurrent workers never take the same row, and only rows whose lease is free or expired —
a dead worker's rows are taken over once its leases run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import PollState, WebhookInbox, WebhookSubscription

Leased = type[PollState] | type[WebhookSubscription] | type[WebhookInbox]


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
