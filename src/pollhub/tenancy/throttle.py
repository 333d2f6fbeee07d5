"""Slowing down secret guessing without locking anybody out.

Failures are counted per presented credential (a client retrying a wrong or revoked secret
gets 429s) and per client address only as a high ceiling, because many tenants may share
one address behind a proxy or NAT. A request that authenticates is never refused: the
throttle only turns the 401 of a failed attempt into a 429 once a count is over its limit.
The counters live in the database (one-minute windows, ``auth_failures``), so every API
process sees the same counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, literal
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.models import AuthFailure
from pollhub.db.types import UTCDateTime
from pollhub.errors import PollhubError

WINDOW = timedelta(minutes=1)
# Counters of windows this old are deleted as new failures come in.
_FORGET_AFTER = timedelta(minutes=10)


class TooManyFailedAttempts(PollhubError):
    """The client failed to authenticate too often; it must wait."""

    status = 429


@dataclass(frozen=True)
class FailedAuthThrottle:
    """Limits on failed authentications per minute: per credential, and per address."""

    per_credential: int
    per_address: int

    async def failed(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        credential: str | None,
        address: str,
    ) -> None:
        """Count one failed authentication of ``credential`` (the secrets presented, None
        when none were) from ``address``; raise :class:`TooManyFailedAttempts` once over a
        limit."""
        keys = [(f"address:{address}", self.per_address)]
        if credential is not None:
            keys.append((f"credential:{credential}", self.per_credential))
        async with sessionmaker() as session:
            counts = [(await _count_failure(session, key), limit) for key, limit in keys]
            await session.execute(
                delete(AuthFailure).where(AuthFailure.window_start < clock.now() - _FORGET_AFTER)
            )
            await session.commit()
        if any(count > limit for count, limit in counts):
            raise TooManyFailedAttempts(
                "Too many failed authentication attempts; try again in a minute"
            )


async def _count_failure(session: AsyncSession, key: str) -> int:
    """Add one failure to ``key``'s current window (a new window once the last is over),
    atomically, and return the window's count."""
    now = clock.now()
    stale = AuthFailure.window_start <= now - WINDOW
    digest = hashlib.sha256(key.encode()).hexdigest()  # fixed length, no secret stored
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(AuthFailure)
        .values(key=digest, window_start=now, failures=1)
        .on_conflict_do_update(
            index_elements=[AuthFailure.key],
            set_={
                "failures": case((stale, 1), else_=AuthFailure.failures + 1),
                "window_start": case(
                    (stale, literal(now, UTCDateTime())), else_=AuthFailure.window_start
                ),
            },
        )
        .returning(AuthFailure.failures)
    )
    count: int = (await session.execute(statement)).scalar_one()
    return count
