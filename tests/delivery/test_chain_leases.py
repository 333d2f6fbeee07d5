"""Chains of one instance's notifications, leased by their first and last rows: the writes a
group commit may run twice (its connection died after the write, before the answer) give
the same result the second time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.delivery.repository import (
    DELIVERED,
    Outcome,
    claim_due,
    claim_following,
    record_outcomes,
)
from tests.conftest import Tenant
from tests.delivery.conftest import add_instance, enqueue, notifications

LEASE = timedelta(seconds=30)


async def test_leasing_the_next_chain_again_gives_the_same_chain(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://receiver.example/events")
    queued = await enqueue(session, instance, count=12)
    async with sessionmaker() as own, own.begin():
        first = await claim_due(own, worker_id="w", now=clock.now(), lease=LEASE, limit=10, chain=4)
    assert [n.id for n in first] == [n.id for n in queued[:4]]

    after = {instance.id: first[-1].id}
    chains = []
    for _ in range(2):
        async with sessionmaker() as own, own.begin():
            chains.append(
                await claim_following(
                    own, worker_id="w", now=clock.now(), lease=LEASE, after=after, chain=4
                )
            )

    assert [n.id for n in chains[0]] == [n.id for n in queued[4:8]]
    assert [n.id for n in chains[1]] == [n.id for n in chains[0]]
    leased = {n.id for n in await notifications(session) if n.lease_owner == "w"}
    assert leased == {queued[0].id, queued[3].id, queued[7].id}  # first and last rows


async def test_an_attempt_written_twice_counts_once(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://receiver.example/events")
    await enqueue(session, instance, count=3)
    async with sessionmaker() as own, own.begin():
        chain = await claim_due(own, worker_id="w", now=clock.now(), lease=LEASE, limit=10, chain=3)
    now = clock.now()
    middle = Outcome(chain[1].id, chain[1].attempts + 1, DELIVERED, now, 200, None, now)

    for _ in range(2):
        async with sessionmaker() as own, own.begin():
            await record_outcomes(own, worker_id="w", outcomes=[middle])

    stored = await notifications(session)
    assert [(n.status, n.attempts) for n in stored] == [
        ("pending", 0),
        ("delivered", 1),
        ("pending", 0),
    ]
