"""Stored webhook bodies lose the Graph clientState they were kept with before.

The receiver strips each entry's ``clientState`` (the subscription's shared secret) before
storing or sending a notification body; bodies stored earlier still hold it in clear — in
the outbox (``message.raw``, shown by the event history and sent on every retry) and in the
webhook inbox. This removes it from every stored body, re-serialized the way the outbox
writes bodies (compact UTF-8 JSON, key order kept), so what is delivered and signed next is
the body without the secret.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = "clientState"
_BATCH = 500
_NOTIFICATIONS = sa.table(
    "notifications", sa.column("id", sa.Integer()), sa.column("body", sa.LargeBinary())
)
_INBOX = sa.table(
    "webhook_inbox",
    sa.column("id", sa.Integer()),
    sa.column("body", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
)


def upgrade() -> None:
    connection = op.get_bind()
    # Only rows that can hold the key are read: a quoted "clientState" in the bytes
    # (SQLite's LIKE does not look into a BLOB; instr does).
    quoted = json.dumps(_KEY).encode()
    body = _NOTIFICATIONS.c.body
    holding = (
        sa.func.instr(body, quoted) > 0
        if connection.dialect.name == "sqlite"
        else body.contains(quoted)
    )
    _rewrite(connection, _NOTIFICATIONS, holding, _strip_stored)
    _rewrite(connection, _INBOX, None, _strip_vendor_body)


def downgrade() -> None:
    # The secret is gone for good; nothing needs it back (entries are checked on arrival).
    pass


def _rewrite(
    connection: sa.Connection,
    table: sa.TableClause,
    holding: sa.ColumnElement[bool] | None,
    strip: Callable[[Any], Any],
) -> None:
    last = 0
    while True:
        query = sa.select(table.c.id, table.c.body).where(table.c.id > last)
        if holding is not None:
            query = query.where(holding)
        rows = list(connection.execute(query.order_by(table.c.id).limit(_BATCH)))
        if not rows:
            return
        for row_id, body in rows:
            stripped = strip(body)
            if stripped is not body:
                connection.execute(table.update().where(table.c.id == row_id).values(body=stripped))
        last = rows[-1][0]


def _strip_stored(body: bytes) -> bytes:
    """An outbox body without the clientState in ``message.raw`` (the same object when
    there is none)."""
    envelope = json.loads(body)
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict) or "raw" not in message:
        return body
    raw = _strip_vendor_body(message["raw"])
    if raw is message["raw"]:
        return body
    envelope["message"] = {**message, "raw": raw}
    # Serialized as pollhub.delivery.envelope.build_body writes bodies.
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def _strip_vendor_body(body: Any) -> Any:
    """A Graph notification body ({"value": [entry, ...]}) without its entries'
    clientState (the same object when none has one). Kept here rather than imported:
    a migration must not change when the application code does."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return body
    entries = body["value"]
    if not any(isinstance(entry, dict) and _KEY in entry for entry in entries):
        return body
    value = [
        {k: v for k, v in entry.items() if k != _KEY} if isinstance(entry, dict) else entry
        for entry in entries
    ]
    return {**body, "value": value}
