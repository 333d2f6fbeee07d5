"""FastAPI dependencies shared by the routers: the database session and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.errors import Unauthorized
from pollhub.tenancy.header import parse_authorization
from pollhub.tenancy.service import Caller, authenticate
from pollhub.tenancy.throttle import FailedAuthThrottle


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for this request; handlers commit where their unit of work ends."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_caller(
    request: Request,
    session: SessionDep,
    authorization: Annotated[
        str | None,
        Header(description="User <user secret>, Organization <org secret>[, Element <token>]"),
    ] = None,
) -> Caller:
    """The authenticated caller, from the ``Authorization`` header."""
    throttle: FailedAuthThrottle = request.app.state.auth_throttle
    client = request.client.host if request.client else "unknown"
    throttle.check(client)
    try:
        credentials = parse_authorization(authorization)
        organization, user = await authenticate(session, credentials.user, credentials.organization)
    except Unauthorized:
        throttle.failed(client)
        raise
    return Caller(organization.id, user.id, credentials.element)


CallerDep = Annotated[Caller, Depends(get_caller)]

# Ids are 32-bit on PostgreSQL; anything outside is refused as a 400, never sent to the DB.
InstanceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the instance's id")]
