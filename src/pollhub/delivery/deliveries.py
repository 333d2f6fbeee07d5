"""Cloud Elements' deliveries API: pull or release the queued callbacks of an organization.

``GET /notifications/subscriptions/deliveries?where=channel='webhook' and status='queued'
and config.url='https://…'`` lists them; ``PUT`` with the same ``where`` delivers them
again, in their original order (reference section 5.3). A delivery is a notification of
the outbox; only the ``webhook`` channel exists in pollhub.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Notification
from pollhub.delivery.repository import QUEUED, STATUSES
from pollhub.delivery.service import (
    MAX_PAGE_SIZE,
    Page,
    decode_cursor,
    encode_cursor,
    requeue_where,
    scope,
)
from pollhub.errors import BadRequest
from pollhub.tenancy.service import Caller

CHANNEL = "webhook"
_CONDITION = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"
    r"(?:'(?P<quoted>(?:[^']|'')*)'|(?P<number>-?\d+))\s*",
)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
FIELDS = ("channel", "status", "config.url", "instanceId", "eventId")


@dataclass(frozen=True)
class DeliveryFilter:
    """A parsed ``where``: ``field = 'value'`` conditions joined by ``and``."""

    channel: str | None = None
    status: str | None = None
    url: str | None = None
    instance_id: int | None = None
    event_id: str | None = None


def parse_where(where: str | None) -> DeliveryFilter:
    """Read the ``where`` parameter; anything else than ``field = value`` joined by ``and``
    over the known fields is a :class:`BadRequest` naming the part it could not read."""
    if where and "\x00" in where:
        raise BadRequest("'where' contains a NUL character")
    values: dict[str, str] = {}
    for part in _AND.split(where.strip()) if where and where.strip() else []:
        match = _CONDITION.fullmatch(part)
        if match is None:
            raise BadRequest(
                f"'where': cannot read \"{part[:80]}\"; write field='value' conditions joined "
                f"by 'and', over {', '.join(FIELDS)}"
            )
        field = match["field"]
        if field not in FIELDS:
            raise BadRequest(f"'where': unknown field '{field}'; known: {', '.join(FIELDS)}")
        quoted = match["quoted"]
        values[field] = quoted.replace("''", "'") if quoted is not None else match["number"]
    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"'where': status must be one of {', '.join(STATUSES)}, not '{status}'")
    instance_id = values.get("instanceId")
    if instance_id is not None and not (instance_id.isdecimal() and 0 < int(instance_id) < 2**31):
        raise BadRequest(f"'where': instanceId must be an instance id, not '{instance_id}'")
    return DeliveryFilter(
        channel=values.get("channel"),
        status=status,
        url=values.get("config.url"),
        instance_id=int(instance_id) if instance_id is not None else None,
        event_id=values.get("eventId"),
    )


async def list_deliveries(
    session: AsyncSession,
    caller: Caller,
    where: DeliveryFilter,
    *,
    page_size: int = 100,
    cursor: str | None = None,
) -> Page:
    """The organization's deliveries matching ``where``, oldest first (the order in which
    they were, or will be, delivered)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadRequest(f"'pageSize' must be between 1 and {MAX_PAGE_SIZE}")
    conditions = await _conditions(session, caller, where)
    total = (
        await session.scalar(select(func.count()).select_from(Notification).where(*conditions)) or 0
    )
    query = select(Notification).where(*conditions).order_by(Notification.id)
    if cursor is not None:
        query = query.where(Notification.id > decode_cursor(cursor))
    rows = list(await session.scalars(query.limit(page_size + 1)))
    items = rows[:page_size]
    more = len(rows) > page_size
    return Page(items, total, encode_cursor(items[-1].id) if more and items else None)


async def release_deliveries(session: AsyncSession, caller: Caller, where: DeliveryFilter) -> int:
    """Deliver again the matching queued (or failed) deliveries, from now, in order, with a
    fresh retry schedule; ``status`` defaults to ``queued``. Returns how many."""
    status = where.status or QUEUED
    conditions = await _conditions(session, caller, where)
    return await requeue_where(session, conditions, status=status)


async def _conditions(
    session: AsyncSession, caller: Caller, where: DeliveryFilter
) -> list[ColumnElement[bool]]:
    conditions = await scope(session, caller, where.instance_id)
    if where.channel is not None and where.channel != CHANNEL:
        conditions.append(false())  # pollhub delivers over webhooks only
    if where.status is not None:
        conditions.append(Notification.status == where.status)
    if where.url is not None:
        conditions.append(Notification.callback_url == where.url)
    if where.event_id is not None:
        conditions.append(Notification.event_id == where.event_id)
    return conditions
