"""FastAPI dependencies shared by the routers: the database session and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.tenancy.authentication import authenticate_header
from pollhub.tenancy.service import Caller


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
    """The authenticated caller, from the ``Authorization`` header (authenticated already,
    before its body was read, when the request has one: :mod:`pollhub.middleware`)."""
    authenticated = getattr(request.state, "caller", None)
    if isinstance(authenticated, Caller):
        return authenticated
    return await authenticate_request(request, session, authorization)


async def authenticate_request(
    request: Request, session: AsyncSession, authorization: str | None
) -> Caller:
    """Authenticate ``request``'s caller, failures throttled (:mod:`pollhub.tenancy.throttle`)."""
    return await authenticate_header(
        session,
        request.app.state.sessionmaker,
        request.app.state.auth_throttle,
        authorization,
        client_address(request),
    )


def client_address(request: Request) -> str:
    """The client's address as the server saw it (behind a proxy: uvicorn's
    ``--forwarded-allow-ips`` decides whether ``X-Forwarded-For`` counts)."""
    return request.client.host if request.client else "unknown"


CallerDep = Annotated[Caller, Depends(get_caller)]

# Ids are 32-bit on PostgreSQL; anything outside is refused as a 400, never sent to the DB.
InstanceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the instance's id")]
EventId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="eventId")
]
