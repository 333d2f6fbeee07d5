"""The PostgreSQL engine's pool: a connection whose server process has died (a restarted
database, a killed backend, a dropped network path) is replaced as it is checked out, so
no request, poll or delivery meets it — with one round trip per checkout, whether the URL
points at PostgreSQL or at PgBouncer."""

from __future__ import annotations

import os

import asyncpg
import pytest
from sqlalchemy import text

from pollhub.db.engine import create_engine
from tests.conftest import PGBOUNCER_DSN, POSTGRES_ADMIN_DSN, _postgres_reachable


@pytest.fixture
def postgres_url() -> str:
    """PostgreSQL itself, not PgBouncer: the test kills the connection's server process."""
    if os.environ.get("CI") != "true" and not _postgres_reachable():
        pytest.skip("PostgreSQL not reachable at " + POSTGRES_ADMIN_DSN)
    return POSTGRES_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://")


async def _kill(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_pooled_connection_whose_backend_was_killed_is_replaced_at_checkout(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        await _kill(first)

        async with engine.connect() as connection:  # the same pooled connection, dead
            second = await connection.scalar(text("SELECT pg_backend_pid()"))

        assert second != first
    finally:
        await engine.dispose()


async def test_checkouts_are_checked_behind_pgbouncer_in_transaction_mode_too() -> None:
    if not PGBOUNCER_DSN:
        pytest.skip("PgBouncer not running (POLLHUB_TEST_PGBOUNCER unset; see scripts/pgbouncer)")
    engine = create_engine(
        PGBOUNCER_DSN.replace("postgresql://", "postgresql+asyncpg://") + "?pgbouncer=true"
    )
    try:
        for n in range(30):  # each a checkout of the one pooled connection, checked each time
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT CAST(:n AS integer)"), {"n": n}) == n
    finally:
        await engine.dispose()
