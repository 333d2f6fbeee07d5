"""Upgrading keeps webhook deduplication: stored raw etags become the digests now compared."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from pollhub.changes.verdicts import digest
from pollhub.db.migrate import alembic_config


def test_upgrade_turns_raw_etags_into_digests_and_leaves_digests_alone(tmp_path: Path) -> None:
    database = tmp_path / "upgrade.db"
    config = alembic_config(f"sqlite+aiosqlite:///{database}")
    command.upgrade(config, "0009")
    polled = digest("2026-11-21T08:30:12+00:00")
    with sqlite3.connect(database) as db:
        # SQLite leaves foreign keys unchecked unless asked: no instance row is needed.
        rows = [(1, 'W/"etag-1"', 0), (2, "deleted", 1), (3, polled, 0)]
        db.executemany(
            "INSERT INTO object_fingerprints (instance_id, resource, object_id, fingerprint, "
            "deleted, seen_at) VALUES (1, 'events', ?, ?, ?, '2026-11-30 00:00:00')",
            rows,
        )

    command.upgrade(config, "head")

    with sqlite3.connect(database) as db:
        stored = dict(db.execute("SELECT object_id, fingerprint FROM object_fingerprints"))
    assert stored == {"1": digest('W/"etag-1"'), "2": digest("deleted"), "3": polled}
