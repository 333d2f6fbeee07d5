"""Async engine and session factory for SQLite (embedded) and PostgreSQL (production).

A PostgreSQL URL may end in ``?pgbouncer=true`` when it points at PgBouncer in transaction
pooling mode: consecutive transactions of one connection may then run on different server
connections, so prepared statements must not outlive a statement. asyncpg's and SQLAlchemy's
statement caches are turned off and every statement gets a name of its own, as SQLAlchemy
documents for asyncpg behind PgBouncer.

A pooled PostgreSQL connection is pinged when it is checked out after sitting idle, so a
restarted database or a killed backend costs no request; one back in use within the last
second is not pinged again (SQLAlchemy's ``pool_pre_ping`` pings at every checkout: on
asyncpg ``BEGIN``, an empty query and ``ROLLBACK``, three round trips that were about a third
of the statements of an instance creation). A connection that dies while busy fails its
statement, and SQLAlchemy then recycles every connection of the pool.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from pollhub.settings import get_settings

PGBOUNCER_PARAMETER = "pgbouncer"


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
    )
    event.listen(engine.sync_engine, "connect", _note_use)
    event.listen(engine.sync_engine, "checkin", _note_use)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _unique_statement_name() -> str:
    # PgBouncer may hand the next transaction another server connection, where asyncpg's
    # per-connection counter names ("__asyncpg_stmt_1__") already exist.
    return f"__asyncpg_{uuid4().hex}__"


PING_AFTER_IDLE_SECONDS = 1.0
_LAST_USED = "pollhub_last_used"


def _note_use(_dbapi_connection: Any, record: Any) -> None:
    record.info[_LAST_USED] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    # Raising DisconnectionError makes the pool drop this connection and check out another.
    if time.monotonic() - record.info.get(_LAST_USED, 0.0) <= PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:
        raise DisconnectionError("the pooled connection is gone") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; SQLite leaves foreign keys off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
