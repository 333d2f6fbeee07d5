"""When each resource of each instance is due, which worker holds it, and how a poll closes.

Due times live in ``poll_states``. Workers claim due rows with a lease
(:mod:`pollhub.db.leases`), choosing candidates fairly across organizations; the claim
statement also returns what the poll needs of its instance, which an :class:`InstanceCache`
turns into an :class:`InstanceView` — parsing the configuration and decrypting the secrets
only when they changed since the last claim. Polls that wrote nothing but their own row
close through :class:`Closer`, many in one transaction.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.group_commit import GroupCommit
from pollhub.db.leases import lease_is_free, take_leases
from pollhub.db.models import Instance, JSONObject, PollState
from pollhub.db.types import UTCDateTime, decrypt
from pollhub.settings import get_settings

# Instances whose parsed configuration a worker keeps (least recently claimed go first).
CACHED_INSTANCES = 50_000


def lease() -> timedelta:
    """How long a claim holds its row without renewal (``POLLHUB_LEASE_SECONDS``)."""
    return timedelta(seconds=get_settings().lease_seconds)


@dataclass(frozen=True)
class InstanceView:
    """What a poll needs of its instance, as it was when claimed (no ORM object)."""

    id: int
    organization_id: int
    element_key: str
    configuration: dict[str, Any]
    secrets: dict[str, Any]
    access_token_expires_at: datetime | None
    element_definition: dict[str, Any] | None = None  # a custom element's
    valid: bool = True
    events_enabled: bool = True
    # What pollers derive from the configuration, kept as long as the configuration is.
    derived: dict[str, Any] = field(default_factory=dict, compare=False)


class InstanceCache:
    """The instances a worker has claimed polls of, parsed once per version of their row."""

    def __init__(self, size: int = CACHED_INSTANCES) -> None:
        self._size = size
        self._views: OrderedDict[int, tuple[tuple[Any, ...], InstanceView]] = OrderedDict()

    def view(
        self,
        instance_id: int,
        organization_id: int,
        element_key: str,
        configuration: str,
        secrets: str,
        access_token_expires_at: datetime | None,
        element_definition: str | None,
    ) -> InstanceView:
        """The view of an instance from the raw columns a claim returned."""
        version = (element_key, configuration, secrets, access_token_expires_at, element_definition)
        cached = self._views.get(instance_id)
        if cached is not None and cached[0] == version:
            self._views.move_to_end(instance_id)
            return cached[1]
        view = InstanceView(
            id=instance_id,
            organization_id=organization_id,
            element_key=element_key,
            configuration=json.loads(configuration),
            secrets=json.loads(decrypt(secrets)) if secrets else {},
            access_token_expires_at=access_token_expires_at,
            element_definition=json.loads(element_definition) if element_definition else None,
        )
        self._views[instance_id] = (version, view)
        self._views.move_to_end(instance_id)
        while len(self._views) > self._size:
            self._views.popitem(last=False)
        return view


@dataclass(frozen=True)
class Claim:
    """A resource poll a worker holds while its lease is renewed."""

    state_id: int
    instance_id: int
    organization_id: int
    element_key: str
    instance: InstanceView  # as it was when claimed (loaded with the claim)
    resource: str
    cursor: dict[str, Any] | None
    last_success_at: datetime | None
    due_at: datetime
    consecutive_failures: int = 0


async def sync_poll_states(
    session: AsyncSession,
    instance: Instance,
    resources: Mapping[str, Any],
    interval: float,
    *,
    new: bool = False,
) -> None:
    """Make the instance's poll states match its resources; new ones are due now.

    A shorter interval takes effect at once; removed resources forget their cursor. A
    ``new`` instance has none yet: they are not read, and are written in one statement
    with no ORM objects (the unit of work for them was a tenth of a creation's CPU).
    """
    now = clock.now()
    if new:
        rows = [_new_state(instance, name, now) for name in resources]
        if rows:
            await session.execute(insert(PollState), rows)
        return
    states = await session.scalars(select(PollState).where(PollState.instance_id == instance.id))
    existing = {state.resource: state for state in states}
    for name, state in existing.items():
        if name not in resources:
            await session.delete(state)
        else:
            soonest = (state.last_poll_at or now) + timedelta(seconds=interval)
            state.next_poll_at = min(state.next_poll_at, max(soonest, now))
    for name in resources:
        if name not in existing:
            session.add(PollState(**_new_state(instance, name, now)))


def _new_state(instance: Instance, resource: str, now: datetime) -> dict[str, Any]:
    return {
        "instance_id": instance.id,
        "organization_id": instance.organization_id,
        "resource": resource,
        "next_poll_at": now,
        "consecutive_failures": 0,
    }


async def forget_poll_states(session: AsyncSession, instance_id: int) -> None:
    """Stop polling an instance altogether (events turned off, or no longer polling)."""
    await session.execute(delete(PollState).where(PollState.instance_id == instance_id))


async def poll_now(session: AsyncSession, instance_id: int) -> int:
    """Make every resource of the instance due now; returns how many."""
    result = await session.execute(
        update(PollState)
        .where(PollState.instance_id == instance_id)
        .values(next_poll_at=clock.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def claim_due_polls(
    session: AsyncSession, worker_id: str, limit: int, *, cache: InstanceCache | None = None
) -> list[Claim]:
    """Take up to ``limit`` due resource polls for ``worker_id``, fairly across organizations:
    each organization's first due poll comes before any organization's second, and so on, so
    one with thousands due cannot starve one with a single poll, and a lone organization gets
    every slot.

    One statement takes the leases and returns what the polls need of their instances.
    Commit the session right after: the claim is what the lease records.
    """
    if limit <= 0:
        return []
    now = clock.now()
    ranked = (
        select(
            PollState.id,
            func.row_number()
            .over(partition_by=PollState.organization_id, order_by=PollState.next_poll_at)
            .label("turn"),
            PollState.next_poll_at,
        )
        .join(Instance, Instance.id == PollState.instance_id)
        .where(
            PollState.next_poll_at <= now,
            lease_is_free(PollState, now),
            Instance.events_enabled.is_(True),
            Instance.valid.is_(True),
            Instance.disabled.is_(False),
        )
        .subquery()
    )
    candidates = select(ranked.c.id).order_by(ranked.c.turn, ranked.c.next_poll_at).limit(limit)
    rows = await take_leases(
        session,
        PollState,
        candidates,
        worker_id=worker_id,
        lease=lease(),
        still=[PollState.next_poll_at <= now],
        returning=[
            PollState.id,
            PollState.instance_id,
            PollState.organization_id,
            PollState.resource,
            PollState.cursor,
            PollState.last_success_at,
            PollState.next_poll_at,
            PollState.consecutive_failures,
            *_INSTANCE_COLUMNS,
        ],
    )
    cache = cache or InstanceCache()
    return [
        Claim(
            state_id=row.id,
            instance_id=row.instance_id,
            organization_id=row.organization_id,
            element_key=row.element_key,
            instance=cache.view(
                row.instance_id,
                row.organization_id,
                row.element_key,
                row.raw_configuration,
                row.raw_secrets,
                row.token_expires_at,
                row.raw_definition,
            ),
            resource=row.resource,
            cursor=row.cursor,
            last_success_at=row.last_success_at,
            due_at=row.next_poll_at,
            consecutive_failures=row.consecutive_failures,
        )
        for row in rows
    ]


def _of_instance(expression: str, label: str, type_: Any) -> Any:
    # A correlated primary-key lookup, written out: SQLite's RETURNING can name no other
    # table, and SQLAlchemy renders its columns without their table, so spelled in full.
    return literal_column(
        f"(SELECT {expression} FROM instances AS i WHERE i.id = poll_states.instance_id)",
        type_,
    ).label(label)


# Raw text, not decoded: the cache parses and decrypts only what changed.
_INSTANCE_COLUMNS = (
    _of_instance("i.element_key", "element_key", String()),
    _of_instance("CAST(i.configuration AS TEXT)", "raw_configuration", Text()),
    _of_instance("i.secrets", "raw_secrets", Text()),
    _of_instance("i.access_token_expires_at", "token_expires_at", UTCDateTime()),
    # The instance's custom element, if its element is one (by organization and key).
    _of_instance(
        "(SELECT CAST(c.definition AS TEXT) FROM custom_elements AS c"
        " WHERE c.organization_id = i.organization_id AND c.key = i.element_key)",
        "raw_definition",
        Text(),
    ),
)


async def hold(session: AsyncSession, claim: Claim, worker_id: str) -> PollState | None:
    """The claimed row, locked for the closing transaction — None if the lease was lost."""
    state = await session.scalar(
        select(PollState)
        .where(PollState.id == claim.state_id, PollState.lease_owner == worker_id)
        .with_for_update()
    )
    # Past its expiry the lease is still ours unless another worker took the row over, which
    # would have changed the owner; the row lock keeps anyone from doing so from here on.
    return state


def release(state: PollState, *, next_poll_at: datetime) -> None:
    """Give the row back, due again at ``next_poll_at``."""
    state.lease_owner = None
    state.lease_expires_at = None
    state.next_poll_at = next_poll_at


@dataclass(frozen=True)
class Closing:
    """How a poll that wrote nothing but its own row ended: succeeded (``cursor`` and
    ``last_success_at`` set, failures reset) or failed (``consecutive_failures`` counted)."""

    state_id: int
    polled_at: datetime
    next_poll_at: datetime
    result: str
    error: str | None
    consecutive_failures: int
    succeeded: bool
    cursor: dict[str, Any] | None = None


class Closer:
    """Closes polls in shared transactions (group commit): one ``UPDATE`` per batch.

    A row whose lease another worker has since taken over is left alone.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self._worker_id = worker_id
        self._commits: GroupCommit[Closing, None] = GroupCommit(sessionmaker, self._write)

    async def close(self, closing: Closing) -> None:
        """Return once the poll's row is written and committed."""
        await self._commits.submit(closing)

    async def _write(self, session: AsyncSession, closings: list[Closing]) -> None:
        connection = await session.connection()
        for succeeded, statement in ((True, _SUCCEEDED), (False, _FAILED)):
            batch = [
                {
                    "b_id": c.state_id,
                    "b_owner": self._worker_id,
                    "b_polled": c.polled_at,
                    "b_next": c.next_poll_at,
                    "b_result": c.result[:50],
                    "b_error": c.error,
                    "b_failures": c.consecutive_failures,
                    **({"b_cursor": c.cursor} if succeeded else {}),
                }
                # In id order, as every writer of these rows locks them: no deadlock.
                for c in sorted(closings, key=lambda c: c.state_id)
                if c.succeeded is succeeded
            ]
            if batch:
                await connection.execute(statement, batch)


def _closing_statement(succeeded: bool) -> Any:
    table = cast(Table, PollState.__table__)
    polled = bindparam("b_polled", type_=UTCDateTime())
    values: dict[str, Any] = {
        "last_poll_at": polled,
        "next_poll_at": bindparam("b_next", type_=UTCDateTime()),
        "last_result": bindparam("b_result"),
        "last_error": bindparam("b_error"),
        "consecutive_failures": bindparam("b_failures"),
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if succeeded:
        values["cursor"] = bindparam("b_cursor", type_=JSONObject)
        values["last_success_at"] = polled
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == bindparam("b_owner"))
        .values(values)
    )


_SUCCEEDED = _closing_statement(succeeded=True)
_FAILED = _closing_statement(succeeded=False)
