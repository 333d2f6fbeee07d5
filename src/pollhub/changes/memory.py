"""What pollhub remembers of each object it has seen (``object_fingerprints``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.changes.verdicts import DELETED_VERSION, Seen, digest
from pollhub.clock import clock
from pollhub.db.models import ObjectFingerprint

_CHUNK = 500  # bound the IN (...) list well under every database's parameter limit
MAX_OBJECT_ID_LENGTH = 500  # object_fingerprints.object_id


def storable_object_id(object_id: str) -> bool:
    """Whether an object id can be remembered: at most :data:`MAX_OBJECT_ID_LENGTH`
    characters and no NUL (which PostgreSQL cannot store)."""
    return 0 < len(object_id) <= MAX_OBJECT_ID_LENGTH and "\x00" not in object_id


class Memory:
    """The fingerprints of one resource of one instance, loaded for the objects at hand."""

    def __init__(self, instance_id: int, resource: str, rows: dict[str, ObjectFingerprint]):
        self.instance_id = instance_id
        self.resource = resource
        self._rows = rows

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        instance_id: int,
        resource: str,
        object_ids: Iterable[str],
        *,
        everything: bool = False,
        locked: bool = False,
    ) -> Memory:
        """Load the rows for ``object_ids`` (or all of the resource's, with ``everything``);
        ``locked`` holds them until commit, so two writers that may report the same change
        at once (a webhook notification and a catch-up read) take turns and the second
        sees what the first reported."""
        base = select(ObjectFingerprint).where(
            ObjectFingerprint.instance_id == instance_id, ObjectFingerprint.resource == resource
        )
        if locked:
            base = base.with_for_update()
        rows: dict[str, ObjectFingerprint] = {}
        if everything:
            rows = {row.object_id: row for row in await session.scalars(base)}
        else:
            ids = sorted(set(object_ids))
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                query = base.where(ObjectFingerprint.object_id.in_(chunk))
                rows.update({row.object_id: row for row in await session.scalars(query)})
        return cls(instance_id, resource, rows)

    @staticmethod
    async def forget(session: AsyncSession, instance_id: int, resource: str) -> None:
        """Drop everything remembered of a resource (its url changed: a new baseline)."""
        await session.execute(
            delete(ObjectFingerprint).where(
                ObjectFingerprint.instance_id == instance_id,
                ObjectFingerprint.resource == resource,
            )
        )

    def get(self, object_id: str) -> ObjectFingerprint | None:
        """The remembered row of an object, if any."""
        return self._rows.get(object_id)

    def seen(self, object_id: str) -> Seen | None:
        """What was remembered of an object, for :func:`~pollhub.changes.verdicts.classify`."""
        row = self._rows.get(object_id)
        return Seen(row.fingerprint, row.deleted) if row is not None else None

    def live_ids(self) -> set[str]:
        """Objects remembered as existing."""
        return {object_id for object_id, row in self._rows.items() if not row.deleted}

    def remember(
        self, session: AsyncSession, object_id: str, fingerprint: str, deleted: bool
    ) -> None:
        """Record the latest version of an object (written when the session commits)."""
        row = self._rows.get(object_id)
        if row is None:
            row = ObjectFingerprint(
                instance_id=self.instance_id, resource=self.resource, object_id=object_id
            )
            session.add(row)
            self._rows[object_id] = row
        row.fingerprint = fingerprint
        row.deleted = deleted
        row.seen_at = clock.now()

    def forget_missing(self, session: AsyncSession, present: Iterable[str]) -> list[str]:
        """After a read that enumerated every object (loaded with ``everything``): the
        remembered live objects missing from it were deleted while unobserved. Remembers
        them as deleted and returns their ids, sorted."""
        missing = sorted(self.live_ids() - set(present))
        for object_id in missing:
            self.remember(session, object_id, digest(DELETED_VERSION), True)
        return missing
