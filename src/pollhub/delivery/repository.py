"""Outbox queries of the dispatcher: claiming due notifications and recording attempts.

A claim is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``
statement, so on PostgreSQL concurrent workers skip each other's rows, and on SQLite (one
writer at a time) it is atomic without holding a read lock that must later be upgraded.
A claimed row carries a lease (``lease_owner``, ``lease_expires_at``); a worker that dies
leaves a lease that expires, and the row is claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    Update,
    bindparam,
    exists,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.configuration import StoredConfiguration
from pollhub.db.models import Instance, Notification
from pollhub.db.types import UTCDateTime

PENDING, RETRYING, DELIVERED, FAILED = "pending", "retrying", "delivered", "failed"
ACTIVE = (PENDING, RETRYING)
STATUSES = (PENDING, RETRYING, DELIVERED, FAILED)


@dataclass(frozen=True)
class Claimed:
    """A notification leased to this worker, with what its delivery needs."""

    id: int
    event_id: str
    instance_id: int
    callback_url: str
    body: bytes
    attempts: int
    signature_key: str | None


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended, as it is written back to the outbox."""

    notification_id: int
    status: str
    next_attempt_at: datetime
    status_code: int | None
    error: str | None
    delivered_at: datetime | None


async def claim_due(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due notifications, at most one per instance, oldest first.

    Per-instance order: a notification is eligible only while no older one of its instance
    is still pending or retrying, and no other one of its instance is leased (a redelivered
    old notification waits for one in flight). Commits nothing; the caller does.
    """
    connection = await session.connection()
    parameters = {"now": now, "until": now + lease, "worker": worker_id, "limit": limit}
    rows = (await connection.execute(_claim_statement(), parameters)).all()
    if not rows:
        return []
    settings = await _instance_settings(session, {row.instance_id for row in rows})
    claimed = []
    for row in sorted(rows, key=lambda r: r.id):
        url, key = settings.get(row.instance_id, (None, None))
        claimed.append(
            Claimed(
                id=row.id,
                event_id=row.event_id,
                instance_id=row.instance_id,
                # The instance's current callback URL: a client that fixed a broken URL
                # gets its retries and redeliveries there.
                callback_url=url or row.callback_url,
                body=row.body,
                attempts=row.attempts,
                signature_key=key,
            )
        )
    return claimed


async def record_outcomes(
    session: AsyncSession, *, worker_id: str, outcomes: list[Outcome]
) -> None:
    """Write attempts back, in one statement; commits nothing, the caller does.

    A row whose lease another worker has since taken over is left alone: that worker's
    attempt is the one that counts.
    """
    if not outcomes:
        return
    table = cast(Table, Notification.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == worker_id)
        .values(
            status=bindparam("b_status"),
            attempts=table.c.attempts + 1,
            next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
            delivered_at=bindparam("b_delivered", type_=UTCDateTime()),
            last_status_code=bindparam("b_code"),
            last_error=bindparam("b_error"),
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    connection = await session.connection()
    await connection.execute(
        statement,
        [
            {
                "b_id": o.notification_id,
                "b_status": o.status,
                "b_next": o.next_attempt_at,
                "b_delivered": o.delivered_at,
                "b_code": o.status_code,
                "b_error": o.error,
            }
            for o in outcomes
        ],
    )


@cache
def _claim_statement() -> Update:
    # Built once: the statement is the same for every claim, only its parameters change.
    table = cast(Table, Notification.__table__)
    earlier, leased = table.alias("earlier"), table.alias("leased")
    now = bindparam("now", type_=UTCDateTime())
    # Each condition matches a partial index of migration 0003 (status values as literals,
    # so the planners can prove that the index covers the query).
    older_undelivered = exists().where(
        earlier.c.instance_id == table.c.instance_id,
        _undelivered(earlier.c.status),
        earlier.c.id < table.c.id,
    )
    other_leased = exists().where(
        leased.c.instance_id == table.c.instance_id,
        leased.c.lease_owner.is_not(None),
        leased.c.lease_expires_at > now,
        leased.c.id != table.c.id,
    )
    unleased = or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at <= now)
    candidates = (
        select(table.c.id)
        .where(
            _undelivered(table.c.status),
            table.c.next_attempt_at <= now,
            unleased,
            ~older_undelivered,
            ~other_leased,
        )
        .order_by(table.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=table)
    )
    return (
        update(table)
        .where(table.c.id.in_(candidates.scalar_subquery()), unleased)
        .values(
            lease_owner=bindparam("worker"),
            lease_expires_at=bindparam("until", type_=UTCDateTime()),
        )
        .returning(
            table.c.id,
            table.c.event_id,
            table.c.instance_id,
            table.c.callback_url,
            table.c.body,
            table.c.attempts,
        )
    )


def _undelivered(status: ColumnElement[str]) -> ColumnElement[bool]:
    return status.in_([literal_column(f"'{value}'") for value in ACTIVE])


async def _instance_settings(
    session: AsyncSession, instance_ids: set[int]
) -> dict[int, tuple[str | None, str | None]]:
    # Read at delivery time, so a rotated signature key signs every later attempt.
    rows = await session.execute(
        select(Instance.id, Instance.configuration, Instance.secrets).where(
            Instance.id.in_(instance_ids)
        )
    )
    views = {row.id: StoredConfiguration.read(row.configuration, row.secrets or {}) for row in rows}
    return {key: (view.callback_url, view.signature_key) for key, view in views.items()}
