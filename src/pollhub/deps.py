"""FastAPI dependencies shared by the routers: the database session, the caller, and the
instance a call is about."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.db.models import Instance
from pollhub.instances.service import get_instance, named_instance, token_instance
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


# The instance a call is about, looked up and authorized before the handler runs, with the
# services' errors. A call names it by id in the path or by its ``Element`` token; one
# dependency per way, since a parameter FastAPI cannot find in a route's path becomes a
# query parameter (``/elements/{keyOrId}/instances/{id}``: see instances/endpoints.py).


async def instance_by_id(
    instance_id: InstanceId, session: SessionDep, caller: CallerDep
) -> Instance:
    """``/instances/{id}…``: the caller's instance of that id. Another organization's, or
    another instance than the caller's ``Element`` token's, is 404."""
    return await get_instance(session, caller, instance_id)


async def instance_by_token(session: SessionDep, caller: CallerDep) -> Instance:
    """The id-less ``/instances…`` routes: the ``Element`` token's instance (no token, or
    another organization's: 401)."""
    return await token_instance(session, caller)


async def instance_if_named(session: SessionDep, caller: CallerDep) -> Instance | None:
    """The organization-wide routes: the ``Element`` token's instance when the caller names
    one (then only its data is seen), else None."""
    return await named_instance(session, caller)


InstanceDep = Annotated[Instance, Depends(instance_by_id)]
TokenInstanceDep = Annotated[Instance, Depends(instance_by_token)]
NamedInstanceDep = Annotated[Instance | None, Depends(instance_if_named)]
