"""pollhub behind PgBouncer in transaction pooling mode (``?pgbouncer=true``).

The whole PostgreSQL run of the suite goes through PgBouncer when POLLHUB_TEST_PGBOUNCER is
set (CI: ``.ci/run`` starts ``scripts/pgbouncer``); this shows why the URL flag is needed.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pollhub.db.engine import create_engine
from tests.conftest import PGBOUNCER_DSN


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
