"""Claims over a backlog on SQLite, which keeps no statistics.

Without statistics SQLite took the ``(status, next_attempt_at)`` index for every claim,
reading the whole backlog each time (15 ms a claim over 20,000 due); migration 0014 dropped
it. The claims must lead from each instance's first notification, whatever the outbox holds,
and what reads a chain's lease must read only leased rows.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import Executable

from pollhub.db.migrate import upgrade_to_head
from pollhub.delivery import repository


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, never analyzed (as pollhub leaves it): with no rows and
    no statistics, its plans are the ones a large outbox gets."""
    path = tmp_path_factory.mktemp("plans") / "pollhub.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


def plan(path: Path, statement: Executable, **parameters: Any) -> str:
    """SQLite's plan for ``statement`` with ``parameters``, one step a line."""
    compiled = statement.compile(dialect=sqlite.dialect())
    params = compiled.construct_params(parameters)
    sql = str(compiled)
    values: list[Any] = []
    for name in compiled.positiontup or []:
        value = params[name]
        if isinstance(value, list):  # an expanding IN: one placeholder per value
            sql = sql.replace(f"(__[POSTCOMPILE_{name}])", "(" + ",".join("?" * len(value)) + ")")
            values += value
        else:
            values.append(value)
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("EXPLAIN QUERY PLAN " + sql, values).fetchall()
    return "\n".join(row[-1] for row in rows)


def test_a_claim_finds_each_instances_first_notification_from_the_per_instance_index(
    outbox: Path,
) -> None:
    steps = plan(outbox, repository._claim_statement(), now="x", until="x", worker="w", limit=9)
    assert "SCAN earlier USING INDEX ix_notifications_undelivered" in steps
    assert "SEARCH notifications USING INTEGER PRIMARY KEY" in steps


@pytest.mark.parametrize("instances", [1, 10, 80])
def test_the_next_chains_are_read_from_the_rows_after_those_the_worker_holds(
    outbox: Path, instances: int
) -> None:
    held = json.dumps([[instance, 1] for instance in range(instances)])
    steps = plan(
        outbox, repository._chain_statement("sqlite"), now="x", worker="w", chain=16, held=held
    )
    assert (
        "SEARCH notifications USING INDEX ix_notifications_instance_id (instance_id=? AND rowid>?)"
        in steps
    )


def test_clearing_a_dead_workers_leases_and_checking_a_chains_lease_read_only_leased_rows(
    outbox: Path,
) -> None:
    stale = plan(outbox, repository._clear_stale_statement(), heads=[1, 2], keep=[3, 4])
    assert stale == "SEARCH notifications USING INDEX ix_notifications_leased (instance_id=?)"
    results = plan(outbox, repository._OUTCOMES_FROM_JSON, worker="w", attempts="[]")
    assert "SEARCH held USING INDEX ix_notifications_leased (instance_id=?)" in results
