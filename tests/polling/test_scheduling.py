"""Claiming due polls: leases, fairness across organizations, and no double polls."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.leases import renew_leases
from pollhub.db.models import Instance, Organization, PollState, User
from pollhub.polling import schedule


async def _instances(
    session: AsyncSession, organizations: dict[str, int], *, resources: int = 1
) -> None:
    """Insert pollable instances directly: ``organizations`` maps a name to a count."""
    now = clock.now()
    for name, count in organizations.items():
        org = Organization(name=name, secret_hash=f"{name}-org", created_at=now)
        org.users.append(User(email=f"a@{name}", secret_hash=f"{name}-user", created_at=now))
        session.add(org)
        await session.flush()
        rows = [
            {
                "organization_id": org.id,
                "user_id": org.users[0].id,
                "element_key": "onedrivev2",
                "name": f"{name}-{i}",
                "tags": [],
                "token": "t",
                "token_hash": f"{name}-{i}",
                "configuration": {},
                "secrets": {},
                "valid": True,
                "disabled": False,
                "events_enabled": True,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ]
        ids = (await session.scalars(insert(Instance).returning(Instance.id), rows)).all()
        await session.execute(
            insert(PollState),
            [
                {
                    "instance_id": instance_id,
                    "organization_id": org.id,
                    "resource": f"r{r}",
                    "next_poll_at": now - timedelta(seconds=1),
                    "consecutive_failures": 0,
                }
                for instance_id in ids
                for r in range(resources)
            ],
        )
    await session.commit()


async def test_two_workers_share_1000_instances_without_a_double_poll(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    await _instances(session, {"acme": 600, "globex": 400})

    async def worker(name: str) -> list[int]:
        taken: list[int] = []
        while True:
            async with sessionmaker() as own:
                claims = await schedule.claim_due_polls(own, name, 25)
                await own.commit()
            if not claims:
                return taken
            taken.extend(claim.state_id for claim in claims)
            await asyncio.sleep(0)

    first, second = await asyncio.gather(worker("w1"), worker("w2"))

    assert len(first) + len(second) == 1000
    assert not set(first) & set(second), "a resource poll was claimed twice"
    assert len(set(first) | set(second)) == 1000


async def test_a_held_lease_is_not_claimed_again_until_it_expires(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    await _instances(session, {"acme": 3})
    first = await schedule.claim_due_polls(session, "w1", 10)
    await session.commit()

    again = await schedule.claim_due_polls(session, "w2", 10)
    await session.commit()
    clock.advance(schedule.lease() + timedelta(seconds=1))
    taken_over = await schedule.claim_due_polls(session, "w2", 10)
    await session.commit()

    assert len(first) == 3
    assert again == []
    assert {c.state_id for c in taken_over} == {c.state_id for c in first}


async def test_a_worker_that_lost_its_lease_cannot_close_the_poll(
    session: AsyncSession,
) -> None:
    await _instances(session, {"acme": 1})
    [claim] = await schedule.claim_due_polls(session, "w1", 1)
    await session.commit()
    clock.advance(schedule.lease() + timedelta(seconds=1))
    await schedule.claim_due_polls(session, "w2", 1)
    await session.commit()

    assert await schedule.hold(session, claim, "w1") is None


async def test_claims_are_fair_across_organizations(session: AsyncSession) -> None:
    await _instances(session, {"big": 50, "small": 2})

    claims = await schedule.claim_due_polls(session, "w1", 4)
    await session.commit()

    organizations = (await session.scalars(select(Organization).order_by(Organization.id))).all()
    small = next(o.id for o in organizations if o.name == "small")
    assert sum(1 for c in claims if c.organization_id == small) == 2


async def test_disabled_or_invalid_instances_are_not_claimed(session: AsyncSession) -> None:
    await _instances(session, {"acme": 3})
    instances = (await session.scalars(select(Instance).order_by(Instance.id))).all()
    instances[0].valid = False
    instances[1].disabled = True
    await session.commit()

    claims = await schedule.claim_due_polls(session, "w1", 10)

    assert [c.instance_id for c in claims] == [instances[2].id]


async def test_a_lone_organization_gets_every_free_slot(session: AsyncSession) -> None:
    await _instances(session, {"solo": 300})

    claims = await schedule.claim_due_polls(session, "w1", 250)
    await session.commit()

    assert len(claims) == 250


async def test_a_claim_brings_the_instance_configuration_and_token(session: AsyncSession) -> None:
    await _instances(session, {"acme": 1})
    instance = await session.scalar(select(Instance))
    assert instance is not None
    instance.configuration = {"event.poller.refresh_interval": 5}
    instance.secrets = {"oauth.user.token": "access-1"}
    await session.commit()
    cache = schedule.InstanceCache()

    [claim] = await schedule.claim_due_polls(session, "w1", 1, cache=cache)
    await session.commit()

    assert claim.instance.configuration == {"event.poller.refresh_interval": 5}
    assert claim.instance.secrets == {"oauth.user.token": "access-1"}


async def test_a_changed_instance_is_seen_by_the_next_claim(session: AsyncSession) -> None:
    await _instances(session, {"acme": 1})
    cache = schedule.InstanceCache()
    [first] = await schedule.claim_due_polls(session, "w1", 1, cache=cache)
    await session.commit()
    instance = await session.scalar(select(Instance))
    assert instance is not None
    instance.secrets = {"oauth.user.token": "rotated"}
    await session.commit()
    clock.advance(schedule.lease() + timedelta(seconds=1))

    [second] = await schedule.claim_due_polls(session, "w2", 1, cache=cache)

    assert first.instance.secrets == {}
    assert second.instance.secrets == {"oauth.user.token": "rotated"}


async def test_renewing_leases_never_waits_for_a_poll_being_closed(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, database_url: str
) -> None:
    # A renewal that waited for the closing commit's row locks deadlocked with it (the two
    # lock the same rows in different orders) and the heartbeat lost its beat.
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: rows are never locked apart")
    await _instances(session, {"acme": 3})
    claims = await schedule.claim_due_polls(session, "w1", 3)
    await session.commit()
    ids = sorted(claim.state_id for claim in claims)
    until = clock.now() + timedelta(minutes=5)

    async with sessionmaker() as closing, closing.begin():
        await closing.execute(
            update(PollState).where(PollState.id == ids[1]).values(lease_owner=None)
        )
        async with sessionmaker() as beat, beat.begin():
            await asyncio.wait_for(
                renew_leases(beat, PollState, ids, worker_id="w1", until=until), timeout=5
            )

    rows = await session.execute(select(PollState.id, PollState.lease_expires_at))
    expiries = {state_id: expires for state_id, expires in rows}
    assert expiries[ids[0]] == until and expiries[ids[2]] == until
    assert expiries[ids[1]] != until
