"""Creating organizations and users, and authenticating API callers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import Organization, User
from pollhub.errors import NotFound, Unauthorized
from pollhub.tenancy.console_sessions import end_sessions_of
from pollhub.tenancy.secrets import hash_secret, new_secret, secret_matches


@dataclass(frozen=True)
class Caller:
    """Who is calling: an authenticated user of an organization, maybe naming an instance."""

    organization_id: int
    user_id: int
    element_token: str | None = None
    # The user's email, as authentication read it: a new instance's answer shows its
    # owner without reading the user again.
    email: str | None = None


@dataclass(frozen=True)
class NewCredential:
    """A created organization or user with its secret, shown once and never again."""

    id: int
    name: str
    secret: str


async def create_organization(
    session: AsyncSession, name: str, email: str
) -> tuple[NewCredential, NewCredential]:
    """Create an organization and its first user; returns both with their secrets."""
    org_secret, user_secret = new_secret(), new_secret()
    now = clock.now()
    organization = Organization(name=name, secret_hash=hash_secret(org_secret), created_at=now)
    user = User(email=email, secret_hash=hash_secret(user_secret), created_at=now)
    organization.users.append(user)
    session.add(organization)
    await session.flush()
    return (
        NewCredential(organization.id, organization.name, org_secret),
        NewCredential(user.id, user.email, user_secret),
    )


async def create_user(session: AsyncSession, organization_id: int, email: str) -> NewCredential:
    """Add a user to an existing organization."""
    if await session.get(Organization, organization_id) is None:
        raise NotFound(f"No organization found with ID {organization_id}")
    secret = new_secret()
    user = User(
        organization_id=organization_id,
        email=email,
        secret_hash=hash_secret(secret),
        created_at=clock.now(),
    )
    session.add(user)
    await session.flush()
    return NewCredential(user.id, user.email, secret)


async def rotate_user_secret(session: AsyncSession, user_id: int) -> NewCredential:
    """Give a user a new secret: the old one stops working at once, and every console
    session of the user ends."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user found with ID {user_id}")
    secret = new_secret()
    user.secret_hash = hash_secret(secret)
    await end_sessions_of(session, user.id)
    await session.flush()
    return NewCredential(user.id, user.email, secret)


async def authenticate(
    session: AsyncSession, user_secret: str, organization_secret: str
) -> tuple[Organization, User]:
    """The organization and user these secrets belong to, or :class:`Unauthorized`."""
    # One statement: authentication runs before every API request.
    found = (
        await session.execute(
            select(User, Organization)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.secret_hash == hash_secret(user_secret))
        )
    ).first()
    user, organization = (found[0], found[1]) if found else (None, None)
    # Both comparisons always run, so timing does not tell which secret was wrong.
    user_ok = secret_matches(user_secret, user.secret_hash if user else "")
    org_ok = secret_matches(organization_secret, organization.secret_hash if organization else "")
    if not (user and organization and user_ok and org_ok):
        raise Unauthorized("Invalid Organization or User secret, or invalid Element token")
    return organization, user
