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

A receipt is written with ``INSERT … ON CONFLICT DO NOTHING`` on a unique key, so when
several API processes receive the same notification at once exactly one of them records it
— and reports it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.changes.verdicts import fingerprint_of
from pollhub.db.models import WebhookReceipt

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
    for start in range(0, len(wanted), _CHUNK):
        rows = [
            {"subscription_row_id": subscription_row_id, "object_id": o, "fingerprint": f}
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
