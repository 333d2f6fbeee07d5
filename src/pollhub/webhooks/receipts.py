"""What each webhook subscription has already processed: its high-water mark.

Graph's notifications carry no sequence number and no change time, and an object's
``@odata.etag`` is opaque, so "older than what was processed" cannot be read off a
notification. What a subscription has processed can be remembered, though: every version
(etag) of every object it reported, and each deletion (``webhook_receipts``). A notification
of a version already processed — Graph resending it, or anyone replaying it, however late —
is no news; a version the subscription never processed is, even when it arrives after a
newer one (Graph promises no order). Creations and deletions bound the rest in the change
memory (:mod:`pollhub.changes`): nothing precedes an object's creation, nothing follows its
deletion (Graph never reuses ids), so the receipts of a deleted object are dropped except
the deletion's own.

Receipts are kept ``POLLHUB_WEBHOOK_RECEIPT_RETENTION_DAYS`` (the worker prunes older
ones with the delivered notifications; a subscription's go with it), so the table holds the
changes of that window, not every version of every object ever. What a pruned receipt
guarded, the change memory still mostly does: a replayed creation of a known object, a
change after a deletion, a deletion again and the object's latest version emit nothing;
only a replay of a superseded version older than the window is news again.

A receipt is written with ``INSERT … ON CONFLICT DO NOTHING`` on a unique key, so when
several API processes receive the same notification at once exactly one of them records it
— and reports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.changes.verdicts import fingerprint_of
from pollhub.clock import clock
from pollhub.db.models import WebhookReceipt
from pollhub.settings import get_settings

Change = tuple[str, str]  # (object id, fingerprint of the version or the deletion)
_CHUNK = 500  # rows per statement, well under every database's parameter limit
_DELETION = fingerprint_of("deleted", "")


async def record(
    session: AsyncSession, subscription_row_id: int, changes: Iterable[Change]
) -> set[Change]:
    """Record that the subscription processed ``changes``; returns those it had not
    processed before (the others are repeats). The caller commits."""
    wanted = sorted(set(changes))
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    fresh: set[Change] = set()
    now = clock.now()
    for start in range(0, len(wanted), _CHUNK):
        rows = [
            {
                "subscription_row_id": subscription_row_id,
                "object_id": o,
                "fingerprint": f,
                "received_at": now,
            }
            for o, f in wanted[start : start + _CHUNK]
        ]
        statement = (
            insert(WebhookReceipt)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["subscription_row_id", "object_id", "fingerprint"]
            )
            .returning(WebhookReceipt.object_id, WebhookReceipt.fingerprint)
        )
        fresh.update((o, f) for o, f in await session.execute(statement))
    return fresh


async def forget_deleted(
    session: AsyncSession, subscription_row_id: int, object_ids: Iterable[str]
) -> None:
    """Objects were deleted: the receipts of their versions are not needed any more (the
    change memory refuses whatever follows a deletion); a deletion's own receipt is kept."""
    ids = sorted(set(object_ids))
    for start in range(0, len(ids), _CHUNK):
        await session.execute(
            delete(WebhookReceipt).where(
                WebhookReceipt.subscription_row_id == subscription_row_id,
                WebhookReceipt.object_id.in_(ids[start : start + _CHUNK]),
                WebhookReceipt.fingerprint != _DELETION,
            )
        )


async def prune(session: AsyncSession, now: datetime) -> int:
    """Delete receipts written more than ``POLLHUB_WEBHOOK_RECEIPT_RETENTION_DAYS`` ago.

    For the worker to call periodically; returns how many were deleted, commits nothing.
    """
    cutoff = now - timedelta(days=get_settings().webhook_receipt_retention_days)
    result = await session.execute(
        delete(WebhookReceipt)
        .where(WebhookReceipt.received_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
