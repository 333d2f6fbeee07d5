"""The PostgreSQL engine: a pooled connection whose server process has died (a restarted
database, a killed backend, a dropped network path) is replaced as it is checked out, so
no request, poll or delivery meets it — a group commit, which skips that check, writes its
batch again on a fresh connection; a write of one statement runs in autocommit (behind
PgBouncer, and on SQLite, in a transaction: tests/test_pgbouncer.py, below)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from pollhub.db.engine import create_engine, create_sessionmaker, one_statement_connection
from pollhub.db.group_commit import GroupCommit
from tests.conftest import POSTGRES_ADMIN_DSN, _postgres_reachable


@pytest.fixture
def postgres_url() -> str:
    """PostgreSQL itself, not PgBouncer: the test kills the connection's server process."""
    if os.environ.get("CI") != "true" and not _postgres_reachable():
        pytest.skip("PostgreSQL not reachable at " + POSTGRES_ADMIN_DSN)
    return POSTGRES_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://")


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """pollhub's engine on PostgreSQL itself, disposed after the test."""
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


async def _kill(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_pooled_connection_whose_backend_was_killed_is_replaced_at_checkout(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        first = await connection.scalar(text("SELECT pg_backend_pid()"))
    await _kill(first)

    async with engine.connect() as connection:  # the same pooled connection, dead
        second = await connection.scalar(text("SELECT pg_backend_pid()"))

    assert second != first


async def _backend_pids(session: AsyncSession, items: list[str]) -> list[int]:
    pid = await session.scalar(text("SELECT pg_backend_pid()"))
    return [pid for _ in items]


async def test_a_group_commit_whose_connection_was_killed_writes_its_batch_again(
    engine: AsyncEngine,
) -> None:
    tries: list[str] = []

    async def write(session: AsyncSession, items: list[str]) -> list[int]:
        tries.append("try")
        return await _backend_pids(session, items)

    commits = GroupCommit(create_sessionmaker(engine), write)
    first = await commits.submit("one")
    assert first is not None
    await _kill(first)

    second = await commits.submit("two")  # the pooled connection, dead and not pinged

    assert second is not None and second != first
    assert len(tries) == 3  # "two" ran on the dead connection, then on a fresh one


async def test_a_group_commit_does_not_write_again_after_an_error_of_its_own(
    engine: AsyncEngine,
) -> None:
    tries: list[str] = []

    async def write(session: AsyncSession, items: list[str]) -> None:
        tries.append("try")
        await session.execute(text("SELECT * FROM no_such_table"))

    commits: GroupCommit[str, None] = GroupCommit(create_sessionmaker(engine), write)
    with pytest.raises(DBAPIError, match="no_such_table"):
        await commits.submit("one")
    assert len(tries) == 1


async def test_a_one_statement_write_runs_in_autocommit_on_postgresql(
    engine: AsyncEngine,
) -> None:
    # No BEGIN and COMMIT around it: each statement is a transaction of its own.
    async with create_sessionmaker(engine)() as session, session.begin():
        connection = await one_statement_connection(session)
        first = await connection.scalar(text("SELECT txid_current()"))
        second = await connection.scalar(text("SELECT txid_current()"))

    assert first != second


async def test_a_one_statement_write_stays_in_the_transaction_on_sqlite(tmp_path: Path) -> None:
    # An executemany outside a transaction would commit each row on its own.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        async with create_sessionmaker(engine)() as session, session.begin():
            connection = await one_statement_connection(session)
            await connection.execute(text("INSERT INTO t VALUES (:n)"), [{"n": 1}, {"n": 2}])
            await session.rollback()
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM t")) == 0
    finally:
        await engine.dispose()
