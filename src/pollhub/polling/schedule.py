"""When each resource of each instance is due, and which worker holds it.

Due times live in ``poll_states``. Workers claim due rows with a lease
(:mod:`pollhub.db.leases`), choosing candidates fairly across organizations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.leases import lease_is_free, take_leases
from pollhub.db.models import Instance, PollState

LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Claim:
    """A resource poll a worker holds until its lease expires."""

    state_id: int
    instance_id: int
    organization_id: int
    element_key: str
    instance: Instance  # as it was when claimed (loaded with the claim)
    resource: str
    cursor: dict[str, Any] | None
    last_success_at: datetime | None
    due_at: datetime


async def sync_poll_states(
    session: AsyncSession, instance: Instance, resources: Mapping[str, Any], interval: float
) -> None:
    """Make the instance's poll states match its resources; new ones are due now.

    A shorter interval takes effect at once; removed resources forget their cursor.
    """
    now = clock.now()
    existing = {
        state.resource: state
        for state in await session.scalars(
            select(PollState).where(PollState.instance_id == instance.id)
        )
    }
    for name, state in existing.items():
        if name not in resources:
            await session.delete(state)
        else:
            soonest = (state.last_poll_at or now) + timedelta(seconds=interval)
            state.next_poll_at = min(state.next_poll_at, max(soonest, now))
    for name in resources:
        if name not in existing:
            session.add(
                PollState(
                    instance_id=instance.id,
                    organization_id=instance.organization_id,
                    resource=name,
                    next_poll_at=now,
                    consecutive_failures=0,
                )
            )


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
    session: AsyncSession, worker_id: str, limit: int, *, per_organization: int | None = None
) -> list[Claim]:
    """Take up to ``limit`` due resource polls for ``worker_id``, fairly across organizations,
    at most ``per_organization`` of any one organization.

    Commit the session right after: the claim is what the lease records.
    """
    if limit <= 0:
        return []
    now = clock.now()
    # Rank each organization's due polls so that one organization with thousands of due
    # instances cannot starve another with one: the first of every organization comes first.
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
    if per_organization is not None:
        candidates = candidates.where(ranked.c.turn <= per_organization)
    rows = await take_leases(
        session,
        PollState,
        candidates,
        worker_id=worker_id,
        lease=LEASE,
        still=[PollState.next_poll_at <= now],
        returning=[
            PollState.id,
            PollState.instance_id,
            PollState.organization_id,
            PollState.resource,
            PollState.cursor,
            PollState.last_success_at,
            PollState.next_poll_at,
        ],
    )
    claimed = list(rows)
    instance_ids = {row.instance_id for row in claimed}
    # Loaded here in one query for the whole batch, rather than once per poll.
    instances = {
        instance.id: instance
        for instance in await session.scalars(select(Instance).where(Instance.id.in_(instance_ids)))
    }
    return [
        Claim(
            state_id=row.id,
            instance_id=row.instance_id,
            organization_id=row.organization_id,
            element_key=instances[row.instance_id].element_key,
            instance=instances[row.instance_id],
            resource=row.resource,
            cursor=row.cursor,
            last_success_at=row.last_success_at,
            due_at=row.next_poll_at,
        )
        for row in claimed
    ]


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


async def give_back(session: AsyncSession, state_ids: list[int], worker_id: str) -> None:
    """Return claims this worker cannot start now; they stay due for any worker to take."""
    if state_ids:
        await session.execute(
            update(PollState)
            .where(PollState.id.in_(state_ids), PollState.lease_owner == worker_id)
            .values(lease_owner=None, lease_expires_at=None)
        )


def release(state: PollState, *, next_poll_at: datetime) -> None:
    """Give the row back, due again at ``next_poll_at``."""
    state.lease_owner = None
    state.lease_expires_at = None
    state.next_poll_at = next_poll_at
