"""pollhub behind PgBouncer in transaction pooling mode (``?pgbouncer=true``).

The whole PostgreSQL run of the suite goes through PgBouncer when POLLHUB_TEST_PGBOUNCER is
set (CI: ``.ci/run`` starts ``scripts/pgbouncer``); this shows why the URL flag is needed,
and that runs at once on one machine each stop only their own PgBouncer.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pollhub.db.engine import create_engine, create_sessionmaker, one_statement_connection
from tests.conftest import PGBOUNCER_DSN, POSTGRES_ADMIN_DSN, _postgres_reachable

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pgbouncer"


def _through_pgbouncer(flag: str) -> str:
    if not PGBOUNCER_DSN:
        pytest.skip("PgBouncer not running (POLLHUB_TEST_PGBOUNCER unset; see scripts/pgbouncer)")
    return PGBOUNCER_DSN.replace("postgresql://", "postgresql+asyncpg://") + flag


async def _many_transactions(url: str) -> None:
    engine = create_engine(url)

    async def work() -> None:
        async with engine.connect() as connection:
            for n in range(20):
                assert (await connection.scalar(text("SELECT CAST(:n AS integer)"), {"n": n})) == n
                await connection.commit()

    outcomes = await asyncio.gather(*(work() for _ in range(10)), return_exceptions=True)
    await engine.dispose()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def test_concurrent_transactions_work_behind_pgbouncer_with_the_url_flag() -> None:
    await _many_transactions(_through_pgbouncer("?pgbouncer=true"))


async def test_without_the_flag_cached_prepared_statements_break_behind_pgbouncer() -> None:
    with pytest.raises(DBAPIError, match="prepared statement"):
        await _many_transactions(_through_pgbouncer(""))


async def test_checkouts_are_checked_behind_pgbouncer_in_transaction_mode_too() -> None:
    engine = create_engine(_through_pgbouncer("?pgbouncer=true"))
    try:
        for n in range(30):  # each a checkout of the one pooled connection, checked each time
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT CAST(:n AS integer)"), {"n": n}) == n
    finally:
        await engine.dispose()


async def test_a_one_statement_write_stays_in_its_transaction_behind_pgbouncer() -> None:
    # A statement's prepare and execution must reach one server connection.
    engine = create_engine(_through_pgbouncer("?pgbouncer=true"))
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            connection = await one_statement_connection(session)
            first = await connection.scalar(text("SELECT txid_current()"))
            second = await connection.scalar(text("SELECT txid_current()"))
        assert first == second
    finally:
        await engine.dispose()


def _script(*args: str, dsn: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "POLLHUB_TEST_PGBOUNCER"}
    if dsn is not None:
        env["POLLHUB_TEST_PGBOUNCER"] = dsn
    done = subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def _answers(dsn: str) -> bool:
    """Whether ``psql`` reaches PostgreSQL through the PgBouncer at ``dsn``."""
    done = subprocess.run(
        ["psql", dsn, "-Atc", "SELECT 'through pgbouncer'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode == 0 and done.stdout.strip() == "through pgbouncer"


def test_two_runs_at_once_each_stop_only_their_own_pgbouncer() -> None:
    if os.environ.get("CI") != "true" and not (
        shutil.which("pgbouncer") and shutil.which("psql") and _postgres_reachable()
    ):
        pytest.skip("needs pgbouncer, psql and PostgreSQL at " + POSTGRES_ADMIN_DSN)
    first = _script("start")
    try:
        second = _script("start")
        try:
            assert first != second
            assert _answers(first) and _answers(second)

            _script("stop", second)

            assert not _answers(second)
            assert _answers(first), "stopping one run's PgBouncer stopped the other's"
        finally:
            _script("stop", second)
        _script("stop", dsn=first)  # as .ci/run's trap does: the DSN from the environment
        assert not _answers(first)
    finally:
        _script("stop", first)
