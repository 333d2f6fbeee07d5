"""Async engine and session factory for SQLite (embedded) and PostgreSQL (production).

A PostgreSQL URL may end in ``?pgbouncer=true`` when it points at PgBouncer in transaction
pooling mode: consecutive transactions of one connection may then run on different server
connections, so prepared statements must not outlive a statement. asyncpg's and SQLAlchemy's
statement caches are turned off and every statement gets a name of its own, as SQLAlchemy
documents for asyncpg behind PgBouncer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import uuid4

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from pollhub.settings import get_settings

PGBOUNCER_PARAMETER = "pgbouncer"
# An engine's execution option: a write of one statement may run in autocommit.
_ONE_STATEMENT_AUTOCOMMIT = "pollhub_one_statement_autocommit"
# Set where checkouts are not pinged (:func:`unpinged_checkouts`).
_UNPINGED: ContextVar[bool] = ContextVar("pollhub_unpinged_checkouts", default=False)


def create_engine(database_url: str) -> AsyncEngine:
    """An engine for ``database_url``, tuned for the database behind it."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    url = make_url(database_url)
    pgbouncer = str(url.query.get(PGBOUNCER_PARAMETER, "false")).lower() in ("true", "1", "yes")
    connect_args: dict[str, Any] = {}
    if pgbouncer:
        url = url.difference_update_query([PGBOUNCER_PARAMETER])
        connect_args = {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unique_statement_name,
        }
    settings = get_settings()
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        connect_args=connect_args,
        execution_options={_ONE_STATEMENT_AUTOCOMMIT: not pgbouncer},
    )
    event.listen(engine.sync_engine.pool, "checkout", _ping)
    return engine


def _ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Check a pooled connection as it is checked out, so a restarted database or a killed
    backend never reaches a poll: a dead one invalidates the pool, as ``pool_pre_ping``
    does (SQLAlchemy's pessimistic disconnect handling). ``pool_pre_ping`` takes three round
    trips on asyncpg (``BEGIN``, a query, ``ROLLBACK``: its query is a prepared statement,
    which PgBouncer's transaction mode needs inside a transaction); a query in the
    simple protocol is one message, safe behind PgBouncer, and one round trip."""
    if _UNPINGED.get():
        return
    try:
        dbapi_connection.run_async(lambda connection: connection.execute("SELECT 1"))
    except Exception as exc:
        raise InvalidatePoolError(f"pooled connection is gone: {exc}") from exc


@contextmanager
def unpinged_checkouts() -> Iterator[None]:
    """Connections checked out inside are not pinged first.

    For a caller that runs its work again when a connection turns out dead (a
    ``DBAPIError`` with ``connection_invalidated``, after which SQLAlchemy replaces every
    pooled connection as it is next checked out): it saves the ping's round trip, and
    handles a dead connection as SQLAlchemy's "optimistic" disconnect handling does.
    """
    token = _UNPINGED.set(True)
    try:
        yield
    finally:
        _UNPINGED.reset(token)


async def one_statement_connection(session: AsyncSession) -> AsyncConnection:
    """The connection for a write that is one statement, before the session ran any.

    On PostgreSQL reached directly it is in autocommit: one statement is atomic on its own,
    and ``BEGIN`` and ``COMMIT`` would be two more round trips, each waiting its turn in a
    busy worker's event loop (bench/delivery.py). Behind PgBouncer the statement stays in
    the session's transaction, which keeps its prepare and its execution on one server
    connection. On SQLite too: switching aiosqlite's connection to autocommit and back
    costs two trips to its thread, and measured no faster.
    """
    if session.get_bind().get_execution_options().get(_ONE_STATEMENT_AUTOCOMMIT):
        return await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return await session.connection()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _unique_statement_name() -> str:
    # PgBouncer may hand the next transaction another server connection, where asyncpg's
    # per-connection counter names ("__asyncpg_stmt_1__") already exist.
    return f"__asyncpg_{uuid4().hex}__"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; SQLite leaves foreign keys off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
