"""Event analytics: how many notifications per minute, hour or day, and how they ended.

``GET /instances/events/analytics[/instances|/accounts]?from&to&interval`` (reference
section 4.4). Counted in the database with one grouped query — ``date_trunc`` on
PostgreSQL, ``strftime`` on SQLite — over the notifications still in the history
(delivered ones are pruned after ``POLLHUB_DELIVERED_RETENTION_DAYS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Notification
from pollhub.delivery.repository import DELIVERED, FAILED
from pollhub.delivery.service import scope
from pollhub.errors import BadRequest, Forbidden
from pollhub.tenancy.service import Caller

INTERVALS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_SQLITE_FORMATS = {"minute": "%Y-%m-%d %H:%M:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d"}
MAX_BUCKETS = 10_000
DEFAULT_WINDOW = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The time range and bucket size of one analytics question."""

    start: datetime
    end: datetime
    interval: str

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, interval: str) -> Window:
        """Check and complete ``from``/``to``/``interval`` (to defaults to now, from to one
        day earlier); a bad combination is a :class:`BadRequest`."""
        if interval not in INTERVALS:
            raise BadRequest(f"'interval' must be one of {', '.join(INTERVALS)}, not '{interval}'")
        end = _utc(end) if end is not None else clock.now()
        if not EARLIEST < end <= LATEST or (start is not None and not _utc(start) >= EARLIEST):
            raise BadRequest("'from' and 'to' must lie between 1970 and 9000")
        start = _utc(start) if start is not None else end - DEFAULT_WINDOW
        if start >= end:
            raise BadRequest("'from' must be earlier than 'to'")
        if (end - start) / INTERVALS[interval] > MAX_BUCKETS:
            raise BadRequest(
                f"'from'..'to' spans more than {MAX_BUCKETS} {interval}s; "
                "choose a larger interval or a shorter range"
            )
        return cls(_floor(start, interval), end, interval)


@dataclass(frozen=True)
class Bucket:
    """Notifications created in one time bucket (of one instance or account, when grouped)."""

    timestamp: datetime
    count: int
    delivered: int
    failed: int
    group: int | None = None


async def analytics(
    session: AsyncSession,
    caller: Caller,
    window: Window,
    *,
    group_by: str | None = None,
    account_ids: list[int] | None = None,
) -> list[Bucket]:
    """Counts per bucket: overall (every bucket, empty ones as 0), or per ``instance`` /
    ``account`` (the buckets that have any). Another organization's account is
    :class:`Forbidden`, as in the original."""
    if account_ids and any(a != caller.organization_id for a in account_ids):
        raise Forbidden("Analytics are only available for your own account")
    conditions = await scope(session, caller, None)
    bucket = _bucket(session, window.interval).label("bucket")
    group: Any = {
        None: None,
        "instance": Notification.instance_id,
        "account": Notification.organization_id,
    }[group_by]
    columns: list[Any] = [
        bucket,
        func.count().label("total"),
        func.sum(case((Notification.status == DELIVERED, 1), else_=0)).label("delivered"),
        func.sum(case((Notification.status == FAILED, 1), else_=0)).label("failed"),
    ]
    keys: list[Any] = [bucket]
    if group is not None:
        columns.append(group.label("grp"))
        keys.append(group)
    query = (
        select(*columns)
        .where(
            *conditions,
            Notification.created_at >= window.start,
            Notification.created_at < window.end,
        )
        .group_by(*keys)
        .order_by(*keys)
    )
    rows = (await session.execute(query)).all()
    found = [
        Bucket(
            _parse_bucket(row.bucket),
            int(row.total),
            int(row.delivered or 0),
            int(row.failed or 0),
            int(row.grp) if group is not None else None,
        )
        for row in rows
    ]
    return found if group is not None else _with_empty_buckets(found, window)


def _bucket(session: AsyncSession, interval: str) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        # In UTC whatever the server's time zone.
        utc = func.timezone(literal_column("'UTC'"), Notification.created_at)
        return func.date_trunc(literal_column(f"'{interval}'"), utc)
    return func.strftime(literal_column(f"'{_SQLITE_FORMATS[interval]}'"), Notification.created_at)


def _parse_bucket(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _with_empty_buckets(found: list[Bucket], window: Window) -> list[Bucket]:
    by_time = {bucket.timestamp: bucket for bucket in found}
    step = INTERVALS[window.interval]
    buckets = []
    moment = window.start
    while moment < window.end:
        buckets.append(by_time.get(moment, Bucket(moment, 0, 0, 0)))
        moment += step
    return buckets


def _floor(moment: datetime, interval: str) -> datetime:
    if interval == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
