"""Authenticating a caller from the secrets it presents, with failures throttled."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.db.models import Organization, User
from pollhub.errors import Unauthorized
from pollhub.tenancy.header import parse_authorization
from pollhub.tenancy.secrets import hash_secret
from pollhub.tenancy.service import Caller, authenticate
from pollhub.tenancy.throttle import FailedAuthThrottle


async def authenticate_header(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    throttle: FailedAuthThrottle,
    header: str | None,
    address: str,
) -> Caller:
    """The caller an ``Authorization`` header names; a failure is counted and is
    :class:`Unauthorized`, or ``TooManyFailedAttempts`` once over a limit."""
    try:
        credentials = parse_authorization(header)
    except Unauthorized:
        await throttle.failed(sessionmaker, credential=None, address=address)
        raise
    organization, user = await authenticate_secrets(
        session,
        sessionmaker,
        throttle,
        user_secret=credentials.user,
        organization_secret=credentials.organization,
        address=address,
    )
    return Caller(organization.id, user.id, credentials.element, email=user.email)


async def authenticate_secrets(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    throttle: FailedAuthThrottle,
    *,
    user_secret: str,
    organization_secret: str,
    address: str,
) -> tuple[Organization, User]:
    """The organization and user these secrets belong to; a failure is counted against
    this pair of secrets and the address (a request that authenticates is never refused)."""
    try:
        return await authenticate(session, user_secret, organization_secret)
    except Unauthorized:
        credential = hash_secret(f"{user_secret}\n{organization_secret}")
        await throttle.failed(sessionmaker, credential=credential, address=address)
        raise
