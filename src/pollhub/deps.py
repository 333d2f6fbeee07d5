"""FastAPI dependencies shared by the routers: the database session and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.tenancy.header import parse_authorization
from pollhub.tenancy.service import Caller, authenticate


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for this request; handlers commit where their unit of work ends."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_caller(
    session: SessionDep,
    authorization: Annotated[
        str | None,
        Header(description="User <user secret>, Organization <org secret>[, Element <token>]"),
    ] = None,
) -> Caller:
    """The authenticated caller, from the ``Authorization`` header."""
    credentials = parse_authorization(authorization)
    organization, user = await authenticate(session, credentials.user, credentials.organization)
    return Caller(organization.id, user.id, credentials.element)


CallerDep = Annotated[Caller, Depends(get_caller)]
