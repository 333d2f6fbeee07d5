"""Whether one authentic change notification is news, and which event it is.

A repeat or replay of what the subscription already processed (:mod:`.receipts`) is no
news, nor is anything older than it: a creation of a known object, a change after the
object's deletion. The object's latest version is remembered per object as a fingerprint
(:mod:`pollhub.changes`). The receiver asks for entries that carry the object's version; a
worker asks for the others once it has read the object (:mod:`.inbox`).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.changes.memory import Memory
from pollhub.changes.verdicts import classify, fingerprint_of
from pollhub.elements.reading import ChangeKind
from pollhub.webhooks import receipts

log = logging.getLogger(__name__)


async def news(
    session: AsyncSession,
    subscription_row_id: int,
    memory: Memory,
    kind: ChangeKind | None,
    object_id: str,
    version: str,
) -> str | None:
    """The event a change of ``object_id`` to ``version`` reports (``kind`` is what the
    provider says happened), or None when it is no news. ``memory`` must hold the object,
    loaded locked; the caller commits."""
    context = {"instance": memory.instance_id, "subscription": subscription_row_id}
    seen = memory.seen(object_id)
    if seen is not None and kind == "created":
        # An object is created once: a creation of an object already reported is
        # older than what was processed (a replay, or late), never news.
        log.warning("refused a creation notification for an object already reported", extra=context)
        return None
    fingerprint = fingerprint_of(kind, version)
    # A change without a version (and not a deletion) names no change of its own to
    # remember; after a deletion the memory refuses everything by itself.
    identified = bool(version) or kind == "deleted"
    if identified and not (seen is not None and seen.deleted):
        change = (object_id, fingerprint)
        if change not in await receipts.record(session, subscription_row_id, [change]):
            log.warning(
                "refused a notification of a change the subscription already processed",
                extra=context,
            )
            return None
    unknown = "UNKNOWN" if kind is None else kind.upper()
    verdict = classify(
        kind,
        version or unknown,
        seen,
        unseen=unknown,
        # Notifications come in no promised order and ids are never reused: a
        # change that arrives after the object's deletion is older news.
        after_delete="stale",
    )
    memory.remember(session, object_id, verdict.fingerprint, verdict.deleted)
    if verdict.event_type == "DELETED":
        await receipts.forget_deleted(session, subscription_row_id, [object_id])
    return verdict.event_type
