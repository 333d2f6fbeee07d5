"""An attempt's times are written in a batch (one JSON parameter on SQLite) and must read
back, and compare in claims, exactly as every other write of them does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.models import Notification
from pollhub.db.types import UTCDateTime, sqlite_datetime
from pollhub.delivery.repository import (
    DELIVERED,
    RETRYING,
    Claimed,
    Outcome,
    claim_due,
    record_outcomes,
)
from tests.conftest import Tenant
from tests.delivery.conftest import add_instance, enqueue, notifications

LEASE = timedelta(seconds=30)
INDIA = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 6, 3, 4, 5, 123456, tzinfo=UTC),
        datetime(2026, 12, 6, 3, 4, 5, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 6, 8, 34, 5, 7, tzinfo=INDIA),  # another zone: stored in UTC
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_a_date_in_a_batch_is_stored_as_sqlalchemy_stores_it(value: datetime) -> None:
    dialect = sqlite.dialect()
    stored = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert stored is not None
    assert sqlite_datetime(value) == stored(value)


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(datetime(2026, 12, 6))


async def test_a_retry_is_due_exactly_when_its_result_says(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, tenant: Tenant
) -> None:
    retry_at = (clock.now().replace(microsecond=0) + timedelta(minutes=1)).astimezone(INDIA)

    stored = await _attempted(
        sessionmaker,
        session,
        tenant,
        lambda claimed: Outcome(claimed.id, 1, RETRYING, retry_at, 503, "HTTP 503", None),
    )

    assert (stored.status, stored.next_attempt_at) == (RETRYING, retry_at)
    assert stored.delivered_at is None
    for moment, due in ((retry_at - timedelta(microseconds=1), []), (retry_at, [stored.id])):
        async with sessionmaker() as own, own.begin():
            claimed = await claim_due(own, worker_id="w", now=moment, lease=LEASE, limit=10)
            assert [n.id for n in claimed] == due
            await own.rollback()


async def test_a_delivered_attempt_records_when_it_was_delivered(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, tenant: Tenant
) -> None:
    now = clock.now()

    stored = await _attempted(
        sessionmaker,
        session,
        tenant,
        lambda claimed: Outcome(claimed.id, 1, DELIVERED, now, 200, None, now),
    )

    assert (stored.status, stored.delivered_at, stored.next_attempt_at) == (DELIVERED, now, now)


async def _attempted(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    outcome: Callable[[Claimed], Outcome],
) -> Notification:
    """One notification, claimed by worker "w" and its attempt recorded as ``outcome``
    makes it: the stored row."""
    instance = await add_instance(session, tenant, "https://receiver.example/events")
    await enqueue(session, instance, count=1)
    async with sessionmaker() as own, own.begin():
        (claimed,) = await claim_due(own, worker_id="w", now=clock.now(), lease=LEASE, limit=10)
    async with sessionmaker() as own, own.begin():
        await record_outcomes(own, worker_id="w", outcomes=[outcome(claimed)])
    (stored,) = await notifications(session)
    return stored
