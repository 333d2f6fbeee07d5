"""What SQLite's query planner cannot know without statistics, told in the query.

SQLite has no statistics until ``ANALYZE`` runs, and nothing runs it for an embedded
database. Without them it assumes that an equality on an indexed column picks out a few
rows, so a claim over an outbox of 20,000 pending notifications walked the whole
``(status, next_attempt_at)`` index where the partial indexes of migration 0003 lead
straight to each instance's first (15 ms against 3 ms a claim in ``bench/delivery.py``).
:func:`common` marks such a condition as true of most rows (SQLite's ``likelihood()``),
which steers the planner away from that index and leaves the condition as it is. Other
databases get the condition unchanged: PostgreSQL keeps statistics of its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

_MOST_ROWS = 0.99


class Common(ColumnElement[bool]):
    """A condition most rows meet (see the module's docstring); make it with :func:`common`."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a test as it stands, not a value SQLite must compare to 1
    # SQLAlchemy's cache key: the statement is compiled once per engine, not per claim.
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


def common(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition``, marked for SQLite's planner as true of most rows."""
    return Common(condition)


@compiles(Common)
def _as_it_is(element: Common, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.condition, **kw)


@compiles(Common, "sqlite")
def _with_likelihood(element: Common, compiler: SQLCompiler, **kw: Any) -> str:
    return f"likelihood({compiler.process(element.condition, **kw)}, {_MOST_ROWS})"
