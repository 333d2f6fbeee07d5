"""Outbox queries of the dispatcher: claiming due notifications and recording attempts.

A claim is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``
statement, so on PostgreSQL concurrent workers skip each other's rows, and on SQLite (one
writer at a time) it is atomic without holding a read lock that must later be upgraded.
A claimed row carries a lease (``lease_owner``, ``lease_expires_at``); a worker that dies
leaves a lease that expires, and the row is claimed again.

With each instance's first undelivered notification the claim also takes the next few of
the same instance (a *chain*, delivered one after another in order by one task), so a busy
instance costs one claim per chain rather than one per notification. A chain is leased by
its first and last rows only: a live lease on any row of an instance keeps every other
worker's claim off the whole instance, so the rows between need no write of their own (on
PostgreSQL each write is a new row version with an entry in every index; leasing every row
was a third of the outbox's writes). An attempt's result is written if its row, or its
instance's chain, is still leased to the worker. The instance's configuration and secrets
come back with the claim, as raw columns that :class:`InstanceColumns` parses and decrypts
only when they changed.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    Text,
    TextClause,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pollhub.db.configuration import RETRY, StoredConfiguration
from pollhub.db.engine import one_statement_connection
from pollhub.db.models import Instance, Notification
from pollhub.db.types import UTCDateTime, decrypt, sqlite_datetime
from pollhub.delivery.callback_settings import CallbackSettings

PENDING, RETRYING, DELIVERED, FAILED = "pending", "retrying", "delivered", "failed"
# After the last retry of an instance whose failure policy is "queue": kept, with every
# later notification of the instance, until released (reference section 5.3).
QUEUED = "queued"
ACTIVE = (PENDING, RETRYING)
HOLDING_BACK = (PENDING, RETRYING, QUEUED)  # an older one of these makes a newer one wait
STATUSES = (PENDING, RETRYING, DELIVERED, FAILED, QUEUED)


# The delivery path's records are plain slotted dataclasses, not frozen ones: one of each
# is made per callback, and a frozen dataclass's __init__ (object.__setattr__ per field)
# costs five times as much.
@dataclass(slots=True)
class Claimed:
    """A notification leased to this worker, with what its delivery needs."""

    id: int
    event_id: str
    instance_id: int
    callback_url: str
    body: bytes
    attempts: int
    signature_key: str | None
    headers: Mapping[str, str] = field(default_factory=dict)  # the client's own, and Basic
    failure_policy: str = RETRY
    leased: bool = True  # False for a row inside a chain: the chain's last row holds it


@dataclass(slots=True)
class Outcome:
    """How one attempt ended, as it is written back to the outbox."""

    notification_id: int
    attempts: int  # the notification's attempts, this one included
    status: str
    next_attempt_at: datetime
    status_code: int | None
    error: str | None
    delivered_at: datetime | None


class InstanceColumns:
    """Each instance's callback settings, parsed and decrypted once per version of its
    configuration and secrets."""

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._parsed: OrderedDict[int, tuple[tuple[str, str], CallbackSettings]] = OrderedDict()

    def of(self, instance_id: int, configuration: str, secrets: str) -> CallbackSettings:
        """The callback settings of the instance's raw columns."""
        version = (configuration, secrets)
        cached = self._parsed.get(instance_id)
        if cached is None or cached[0] != version:
            stored = StoredConfiguration.read(
                json.loads(configuration) if configuration else {},
                json.loads(decrypt(secrets)) if secrets else {},
            )
            cached = self._parsed[instance_id] = (version, CallbackSettings.of(stored))
        self._parsed.move_to_end(instance_id)
        while len(self._parsed) > self._size:
            self._parsed.popitem(last=False)
        return cached[1]


async def claim_due(
    session: AsyncSession,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    chain: int = 1,
    instances: InstanceColumns | None = None,
) -> list[Claimed]:
    """Lease the first due notification of up to ``limit`` instances, oldest first, each
    with up to ``chain - 1`` due notifications of the same instance that follow it.

    Per-instance order: a notification is eligible only while no older one of its instance
    is still pending, retrying or queued, and no other one of its instance is leased (a
    redelivered old notification waits for one in flight); a chain stops before the first
    notification not due yet. A disabled instance's notifications are not claimed: they
    wait. Returned in ``id`` order. Commits nothing; the caller does.
    """
    connection = await session.connection()
    parameters = {"now": now, "until": now + lease, "worker": worker_id, "limit": limit}
    heads = list((await connection.execute(_claim_statement(), parameters)).all())
    if not heads:
        return []
    instance_ids = [row.instance_id for row in heads]
    # Leases left on these instances by a worker that died (or stalled) are cleared, so
    # its late results can no longer pass for the holder's (see record_outcomes).
    await connection.execute(
        _clear_stale_statement(),
        {"heads": instance_ids, "keep": [row.id for row in heads]},
    )
    rows, leased = heads, {row.id for row in heads}
    if chain > 1:
        after = {row.instance_id: row.id for row in heads}
        followers, lasts = await _lease_chains(connection, parameters, after, chain - 1)
        rows, leased = rows + followers, leased | lasts
    return _claimed(rows, instances or InstanceColumns(), leased)


async def claim_following(
    session: AsyncSession,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    after: dict[int, int],
    chain: int,
    instances: InstanceColumns | None = None,
) -> list[Claimed]:
    """Take, for each instance of which this worker is delivering a chain, up to ``chain``
    due notifications that follow it (``after``: each instance's chain's last id), in order,
    up to the first not due.

    The current chain's lease keeps other workers off the instance, so the next chain is
    this worker's to take before the current one ends: read, then leased by its last row
    (see :func:`_lease_chains`). Each statement on its own, in autocommit where that saves
    round trips (:func:`~pollhub.db.engine.one_statement_connection`): nobody else writes
    these rows' leases in between. Returned in ``id`` order; the caller commits.
    """
    connection = await one_statement_connection(session)
    parameters = {"now": now, "until": now + lease, "worker": worker_id}
    rows, leased = await _lease_chains(connection, parameters, after, chain)
    return _claimed(rows, instances or InstanceColumns(), leased)


async def _lease_chains(
    connection: AsyncConnection,
    parameters: dict[str, Any],
    after: dict[int, int],
    chain: int,
) -> tuple[list[Row[Any]], set[int]]:
    """The next ``chain`` due notifications of each instance after the id ``after`` gives
    it (the last this worker holds), and the ids of those leased: each chain's last row.
    A chain whose last row could not be leased is left out.

    Safe to run again (a group commit does, on a connection that died): the same rows,
    the last of which is this worker's already.
    """
    dialect = connection.dialect.name
    arguments = {**parameters, **_held_parameters(dialect, after), "chain": chain}
    rows = (await connection.execute(_chain_statement(dialect), arguments)).all()
    lasts: dict[int, int] = {}
    for row in rows:
        id_, instance_id = row[_ID], row[_INSTANCE_ID]
        if id_ > lasts.get(instance_id, 0):
            lasts[instance_id] = id_
    if not lasts:
        return [], set()
    leasing = {**parameters, "ids": list(lasts.values())}
    leased = set((await connection.execute(_lease_statement(), leasing)).scalars())
    return [row for row in rows if lasts[row[_INSTANCE_ID]] in leased], leased


def _held_parameters(dialect: str, after: dict[int, int]) -> dict[str, Any]:
    if dialect == "postgresql":
        return {"instances": list(after), "afters": list(after.values())}
    return {"held": json.dumps(list(after.items()))}


def _claimed(rows: list[Row[Any]], instances: InstanceColumns, leased: set[int]) -> list[Claimed]:
    claimed = []
    callbacks: dict[int, CallbackSettings] = {}
    # In id order, each instance's first row is its claimed head or its chain's first: the
    # row that carries the instance's columns. Unpacked in _returned's order.
    ordered: list[Any] = sorted(rows, key=itemgetter(_ID))
    for id_, event_id, instance_id, url, body, attempts, configuration, secrets in ordered:
        callback = callbacks.get(instance_id)
        if callback is None:
            # Read at delivery time, so a rotated signature key signs every later attempt
            # and changed headers go with every later attempt.
            callback = callbacks[instance_id] = instances.of(instance_id, configuration, secrets)
        claimed.append(
            Claimed(
                id=id_,
                event_id=event_id,
                instance_id=instance_id,
                # The instance's current callback URL: a client that fixed a broken URL
                # gets its retries and redeliveries there.
                callback_url=callback.url or url,
                body=body,
                attempts=attempts,
                signature_key=callback.signature_key,
                headers=callback.headers,
                failure_policy=callback.failure_policy,
                leased=id_ in leased,
            )
        )
    return claimed


async def release(session: AsyncSession, *, worker_id: str, ids: list[int]) -> None:
    """Give back leased notifications not attempted (the rest of a chain whose delivery
    stopped); they stay due, in order. Commits nothing."""
    if ids:
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.lease_owner == worker_id)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


async def record_outcomes(
    session: AsyncSession, *, worker_id: str, outcomes: list[Outcome]
) -> None:
    """Write attempts back, in one statement (in autocommit where that saves round trips,
    unless one is queued); the caller commits.

    Written only while the row, or (for a row inside a chain) a row of its instance, is
    still leased to this worker: a row another worker has since taken over is left alone,
    as that worker's attempt is the one that counts. Each outcome sets the attempt count it
    makes, only over the count before it, so writing it twice (a group commit's second run)
    counts it once.
    """
    if not outcomes:
        return
    # In id order, as every writer of these rows locks them: no deadlock.
    outcomes = sorted(outcomes, key=lambda o: o.notification_id)
    queued = [o.notification_id for o in outcomes if o.status == QUEUED]
    # A queued outcome is followed by a second statement, in the same transaction.
    connection = await (session.connection() if queued else one_statement_connection(session))
    if connection.dialect.name == "postgresql":
        # One statement over arrays: PostgreSQL plans and runs it once, where an
        # executemany ran one UPDATE per attempt (most of a group commit's time).
        await connection.execute(
            _OUTCOMES_FROM_ARRAYS,
            {
                "worker": worker_id,
                "ids": [o.notification_id for o in outcomes],
                "attempts": [o.attempts for o in outcomes],
                "statuses": [o.status for o in outcomes],
                "nexts": [o.next_attempt_at for o in outcomes],
                "delivereds": [o.delivered_at for o in outcomes],
                "codes": [o.status_code for o in outcomes],
                "errors": [o.error for o in outcomes],
            },
        )
    else:
        # One statement over a JSON array, not an executemany: SQLite runs in a thread of
        # this process, and each row of an executemany gives the GIL back and waits for it
        # again — 100 rows took ~1 s beside a CPU-bound event loop, one statement 5-40 ms.
        # Dates are bound as SQLAlchemy stores them, so they compare with the others; a
        # delivered attempt's two are the same moment, formatted once.
        attempts = []
        for o in outcomes:
            next_attempt = sqlite_datetime(o.next_attempt_at)
            delivered = (
                next_attempt
                if o.delivered_at is o.next_attempt_at
                else sqlite_datetime(o.delivered_at)
            )
            attempts.append(
                {
                    "id": o.notification_id,
                    "attempts": o.attempts,
                    "status": o.status,
                    "next": next_attempt,
                    "delivered": delivered,
                    "code": o.status_code,
                    "error": o.error,
                }
            )
        await connection.execute(
            _OUTCOMES_FROM_JSON, {"worker": worker_id, "attempts": json.dumps(attempts)}
        )
    if queued:
        await _queue_the_rest(session, queued, worker_id)


def _outcomes_from(attempts: str) -> TextClause:
    # The same UPDATE on both databases; only where the attempts come from differs.
    return text(
        f"""
        UPDATE notifications SET
            status = attempt.status,
            attempts = attempt.attempts,
            next_attempt_at = attempt.next_attempt_at,
            delivered_at = attempt.delivered_at,
            last_status_code = attempt.status_code,
            last_error = attempt.error,
            lease_owner = NULL,
            lease_expires_at = NULL
        FROM {attempts}
        WHERE notifications.id = attempt.id AND notifications.attempts = attempt.attempts - 1
        AND (
            notifications.lease_owner = :worker
            OR notifications.lease_owner IS NULL AND EXISTS (
                SELECT 1 FROM notifications AS held
                WHERE held.instance_id = notifications.instance_id
                    AND held.lease_owner = :worker
            )
        )
        """
    )


_OUTCOMES_FROM_ARRAYS = _outcomes_from(
    """unnest(
        CAST(:ids AS integer[]), CAST(:attempts AS integer[]), CAST(:statuses AS varchar[]),
        CAST(:nexts AS timestamptz[]), CAST(:delivereds AS timestamptz[]),
        CAST(:codes AS integer[]), CAST(:errors AS text[])
    ) AS attempt(id, attempts, status, next_attempt_at, delivered_at, status_code, error)"""
)
_OUTCOMES_FROM_JSON = _outcomes_from(
    """(
        SELECT
            json_extract(value, '$.id') AS id,
            json_extract(value, '$.attempts') AS attempts,
            json_extract(value, '$.status') AS status,
            json_extract(value, '$.next') AS next_attempt_at,
            json_extract(value, '$.delivered') AS delivered_at,
            json_extract(value, '$.code') AS status_code,
            json_extract(value, '$.error') AS error
        FROM json_each(:attempts)
    ) AS attempt"""
)


async def _queue_the_rest(session: AsyncSession, queued_ids: list[int], worker_id: str) -> None:
    # The original deactivates the subscription and queues future events: every later
    # undelivered notification of the same instance is queued too, in its order — the
    # rest of this worker's chain included (it gives their leases back right after).
    instance_ids = select(Notification.instance_id).where(Notification.id.in_(queued_ids))
    await session.execute(
        update(Notification)
        .where(
            Notification.instance_id.in_(instance_ids.scalar_subquery()),
            Notification.status.in_(ACTIVE),
            or_(Notification.lease_owner.is_(None), Notification.lease_owner == worker_id),
        )
        .values(status=QUEUED)
        .execution_options(synchronize_session=False)
    )


async def instance_is_queuing(session: AsyncSession, instance_id: int) -> bool:
    """Whether the instance has queued notifications (its deliveries are held back)."""
    found = await session.scalar(
        select(Notification.id)
        .where(Notification.instance_id == instance_id, Notification.status == QUEUED)
        .limit(1)
    )
    return found is not None


@cache
def _claim_statement() -> Update:
    # Built once: the statement is the same for every claim, only its parameters change.
    table = cast(Table, Notification.__table__)
    earlier, leased = table.alias("earlier"), table.alias("leased")
    now = bindparam("now", type_=UTCDateTime())
    # Each condition matches a partial index of migration 0003 (status values as literals,
    # so the planners can prove that the index covers the query).
    # Each instance's oldest notification not yet done with: only it may go out. Found
    # from the index in one pass, where an "is there an older one" test per due row cost
    # a probe for every row of a backlog (106 ms a claim with 20,000 due, now 8 ms).
    heads = (
        select(func.min(earlier.c.id))
        .where(_in(earlier.c.status, HOLDING_BACK))
        .group_by(earlier.c.instance_id)
    )
    instances = cast(Table, Instance.__table__)
    disabled = exists().where(instances.c.id == table.c.instance_id, instances.c.disabled.is_(True))
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
            table.c.id.in_(heads),
            ~other_leased,
            ~disabled,
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
        .returning(*_returned(table))
    )


@cache
def _chain_statement(dialect: str) -> Select[Any]:
    # The notifications that follow, in each instance, the last one this worker holds (the
    # claimed head, or the chain going out), in order, up to the first not due: window
    # functions over one index pass of those instances, where a per-row probe for an
    # earlier one not due cost most of a claim with a backlog. Rows leased to this worker
    # count as free, so that running it again finds the same chain.
    table = cast(Table, Notification.__table__)
    now = bindparam("now", type_=UTCDateTime())
    held = (
        text(
            "SELECT * FROM unnest(CAST(:instances AS integer[]), CAST(:afters AS integer[]))"
            " AS held(instance_id, held_id)"
            if dialect == "postgresql"
            else "SELECT json_extract(value, '$[0]') AS instance_id,"
            " json_extract(value, '$[1]') AS held_id FROM json_each(:held)"
        )
        .columns(instance_id=Integer(), held_id=Integer())
        .subquery("held")
    )
    undelivered = (
        select(
            table.c.id,
            table.c.instance_id,
            table.c.next_attempt_at,
            table.c.lease_owner,
            table.c.lease_expires_at,
            func.min(case((table.c.next_attempt_at > now, table.c.id)))
            .over(partition_by=table.c.instance_id)
            .label("first_not_due"),
        )
        .join(held, and_(held.c.instance_id == table.c.instance_id, table.c.id > held.c.held_id))
        .where(_undelivered(table.c.status))
        .subquery()
    )
    ranked = (
        select(
            undelivered.c.id,
            func.row_number()
            .over(partition_by=undelivered.c.instance_id, order_by=undelivered.c.id)
            .label("place"),
        )
        .where(
            _free_or_mine(undelivered.c.lease_owner, undelivered.c.lease_expires_at, now),
            undelivered.c.next_attempt_at <= now,
            or_(
                undelivered.c.first_not_due.is_(None),
                undelivered.c.id < undelivered.c.first_not_due,
            ),
        )
        .subquery()
    )
    return (
        select(*_returned(table, first=ranked.c.place == 1))
        .join(ranked, ranked.c.id == table.c.id)
        .where(ranked.c.place <= bindparam("chain"))
    )


@cache
def _lease_statement() -> Update:
    # A chain's last row, unless someone else leased it meanwhile (nobody should: its
    # instance is this worker's); this worker's own lease is renewed.
    table = cast(Table, Notification.__table__)
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(table)
        .where(
            table.c.id.in_(bindparam("ids", expanding=True)),
            _free_or_mine(table.c.lease_owner, table.c.lease_expires_at, now),
        )
        .values(
            lease_owner=bindparam("worker"),
            lease_expires_at=bindparam("until", type_=UTCDateTime()),
        )
        .returning(table.c.id)
    )


def _free_or_mine(
    owner: ColumnElement[str | None], expires: ColumnElement[Any], now: ColumnElement[Any]
) -> ColumnElement[bool]:
    """Rows nobody holds, whose lease ran out, or leased to this worker (``:worker``): a
    chain read or leased again finds the same rows."""
    return or_(expires.is_(None), expires <= now, owner == bindparam("worker"))


@cache
def _clear_stale_statement() -> Update:
    # Every lease of the claimed instances but their heads': expired ones (a live one keeps
    # the instance from being claimed), found from the index of leased rows.
    table = cast(Table, Notification.__table__)
    return (
        update(table)
        .where(
            table.c.instance_id.in_(bindparam("heads", expanding=True)),
            table.c.lease_owner.is_not(None),
            table.c.id.not_in(bindparam("keep", expanding=True)),
        )
        .values(lease_owner=None, lease_expires_at=None)
    )


# Positions in _returned's rows, which are read by position: a Row's attributes by name
# cost the most of reading a chain's rows (up to 16 an instance) in Python.
_ID, _INSTANCE_ID = 0, 2


def _returned(table: Table, first: ColumnElement[bool] | None = None) -> tuple[Any, ...]:
    """The columns a delivery needs, in the order :func:`_claimed` unpacks them; the
    instance's only where ``first`` holds (each chain's first row), when given: its other
    rows are of the same instance, and looking up and sending those columns again for
    every row cost the most of reading a chain."""

    def of_instance(expression: str, label: str) -> Any:
        # A correlated primary-key lookup, written out: SQLite's RETURNING can name no other
        # table, and SQLAlchemy renders its columns without their table, so spelled in full.
        lookup = literal_column(
            f"(SELECT {expression} FROM instances AS i WHERE i.id = notifications.instance_id)",
            Text(),
        )
        return (lookup if first is None else case((first, lookup))).label(label)

    return (
        table.c.id,
        table.c.event_id,
        table.c.instance_id,
        table.c.callback_url,
        table.c.body,
        table.c.attempts,
        # Raw text: InstanceColumns parses and decrypts only what changed.
        of_instance("CAST(i.configuration AS TEXT)", "raw_configuration"),
        of_instance("i.secrets", "raw_secrets"),
    )


def _undelivered(status: ColumnElement[str]) -> ColumnElement[bool]:
    return _in(status, ACTIVE)


def _in(status: ColumnElement[str], values: tuple[str, ...]) -> ColumnElement[bool]:
    return status.in_([literal_column(f"'{value}'") for value in values])
