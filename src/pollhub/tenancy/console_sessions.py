"""Server-side console sessions: what a signed-in browser's cookie points at.

The cookie carries a random session id (only its hash is stored), never a secret. A session
ends when it expires, when its user signs out (every session of that user ends: a cookie
captured before sign-out is worthless), and when the user's secret changes.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import ConsoleSession, Organization, User
from pollhub.tenancy.secrets import hash_secret, new_secret

LIFETIME = timedelta(hours=12)


async def start_session(db: AsyncSession, user: User) -> str:
    """A new session for ``user``; returns its id, for the cookie only."""
    session_id = new_secret()
    now = clock.now()
    db.add(
        ConsoleSession(
            id_hash=hash_secret(session_id),
            user_id=user.id,
            user_secret_hash=user.secret_hash,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    await db.flush()
    return session_id


async def session_user(db: AsyncSession, session_id: str) -> tuple[Organization, User] | None:
    """The organization and user of a live session, or None (expired, ended, or the user's
    secret changed since sign-in)."""
    found = (
        await db.execute(
            select(ConsoleSession, User, Organization)
            .join(User, User.id == ConsoleSession.user_id)
            .join(Organization, Organization.id == User.organization_id)
            .where(ConsoleSession.id_hash == hash_secret(session_id))
        )
    ).first()
    if found is None:
        return None
    row, user, organization = found
    if row.expires_at <= clock.now() or row.user_secret_hash != user.secret_hash:
        return None
    return organization, user


async def end_sessions_of(db: AsyncSession, user_id: int) -> None:
    """End every console session of a user (sign-out, secret rotation)."""
    await db.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    await db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= clock.now()))
