"""HTTP routes of the hub API (read-only): ``GET /hubs/{hub}/{resource…}[/{id}]``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from pollhub.deps import CallerDep, SessionDep
from pollhub.errors import NotFound
from pollhub.hubs import service
from pollhub.oauth.tokens import TokenKeeper

router = APIRouter(prefix="/hubs", tags=["hubs"])
NEXT_PAGE_HEADER = "Elements-Next-Page-Token"


@router.get("/{hub}/{path:path}", response_model=None)
async def read_hub(
    request: Request,
    hub: str,
    path: str,
    session: SessionDep,
    caller: CallerDep,
    where: Annotated[str | None, Query(max_length=4000)] = None,
    pageSize: Annotated[int | None, Query(ge=1, le=service.MAX_PAGE_SIZE)] = None,
    nextPage: Annotated[str | None, Query(max_length=8000)] = None,
    page: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> JSONResponse:
    """A list of the instance's ``{resource…}`` (``where``, ``pageSize``, ``nextPage`` or
    ``page``; the next page's token in ``Elements-Next-Page-Token``), or one object."""
    instance = await service.instance_for_token(session, caller)
    await session.commit()  # the provider calls below hold no transaction open
    tokens = TokenKeeper(request.app.state.sessionmaker)
    try:
        found = await service.read_list(
            tokens,
            instance,
            hub=hub,
            path=path,
            where_clause=where,
            page_size=pageSize,
            next_page=nextPage,
            page=page,
        )
    except NotFound:
        if where or nextPage or page:
            raise
        one: dict[str, Any] = await service.read_one(tokens, instance, hub=hub, path=path)
        return JSONResponse(one)
    headers = {NEXT_PAGE_HEADER: found.next_page} if found.next_page else {}
    return JSONResponse(found.objects, headers=headers)
