"""Upgrading removes the Graph clientState from bodies stored before it was stripped
(issue 16, item 6): the outbox's ``message.raw`` and the webhook inbox, on SQLite and
PostgreSQL; every other body is left byte for byte."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from pollhub.db.migrate import alembic_config
from tests.conftest import POSTGRES_ADMIN_DSN, _admin, _postgres_reachable

SECRET = "old-client-state-secret"
NOW = datetime(2026, 11, 30, tzinfo=UTC)
ENTRY = {
    "subscriptionId": "7f105c7d",
    "subscriptionExpirationDateTime": "2026-11-30T00:00:00+00:00",
    "clientState": SECRET,
    "changeType": "created",
    "resource": "Users/u1/Events/e1",
    "tenantId": "t1",
    "resourceData": {"@odata.etag": 'W/"1"', "id": "e1"},
}
# As the outbox wrote bodies (compact UTF-8 JSON, the original's key order), trimmed.
WEBHOOK_BODY = {
    "severity": "medium",
    "id": "envelope-1",
    "message": {
        "elementKey": "microsoftgraph",
        "instanceName": "Café calendar",
        "raw": {"value": [ENTRY]},
        "events": [{"eventType": "CREATED", "objectId": "e1", "objectType": "events"}],
    },
}
POLLED_BODY = {"severity": "medium", "message": {"raw": {"clientState": "a polled field"}}}


def _bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each kind with no tables yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'upgrade.db'}"
        return
    if not _postgres_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"PostgreSQL is required in CI and is not reachable at {POSTGRES_ADMIN_DSN}"
            )
        pytest.skip("PostgreSQL not reachable")
    name = f"pollhub_migration_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    server = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{server}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _insert_old_rows(url: str) -> None:
    # A plain engine: pollhub's own turns SQLite's foreign key checks on.
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Rows of an instance that need no instance: foreign keys go unchecked for
            # this session, as SQLite leaves them unless asked.
            await connection.execute(text("SET session_replication_role = replica"))
        for event_id, body in (("webhook", WEBHOOK_BODY), ("polled", POLLED_BODY)):
            await connection.execute(
                text(
                    "INSERT INTO notifications (event_id, instance_id, organization_id, "
                    "callback_url, body, object_type, event_types, event_count, status, "
                    "attempts, next_attempt_at, created_at) VALUES (:event_id, 1, 1, "
                    "'https://example.com/cb', :body, 'events', 'CREATED', 1, 'pending', 0, "
                    ":now, :now)"
                ),
                {"event_id": event_id, "body": _bytes(body), "now": NOW},
            )
        await connection.execute(
            text(
                "INSERT INTO webhook_inbox (instance_id, events, body, attempts, "
                "next_attempt_at, created_at) VALUES (1, '[]', :body, 0, :now, :now)"
            ),
            {"body": json.dumps({"value": [ENTRY]}), "now": NOW},
        )
    await engine.dispose()


async def _stored(url: str) -> tuple[dict[str, bytes], Any]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT event_id, body FROM notifications"))
        bodies = {event_id: bytes(body) for event_id, body in rows}
        inbox = (await connection.execute(text("SELECT body FROM webhook_inbox"))).scalar_one()
    await engine.dispose()
    return bodies, json.loads(inbox) if isinstance(inbox, str) else inbox


def test_upgrading_removes_the_client_state_from_every_stored_webhook_body(
    empty_database: str,
) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0010")
    asyncio.run(_insert_old_rows(empty_database))

    command.upgrade(config, "head")

    bodies, inbox = asyncio.run(_stored(empty_database))
    assert SECRET.encode() not in bodies["webhook"]
    without = {k: v for k, v in ENTRY.items() if k != "clientState"}
    stripped = {**WEBHOOK_BODY, "message": {**WEBHOOK_BODY["message"], "raw": {"value": [without]}}}
    assert bodies["webhook"] == _bytes(stripped)
    assert bodies["polled"] == _bytes(POLLED_BODY), "a body that is no Graph notification"
    assert inbox == {"value": [without]}
