"""The PostgreSQL engine's pool: a connection whose server process has died (a restarted
database, a killed backend, a dropped network path) is replaced as it is checked out, so
no request, poll or delivery meets it (behind PgBouncer too: tests/test_pgbouncer.py)."""

from __future__ import annotations

import os

import asyncpg
import pytest
from sqlalchemy import text

from pollhub.db.engine import create_engine
from tests.conftest import POSTGRES_ADMIN_DSN, _postgres_reachable


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
