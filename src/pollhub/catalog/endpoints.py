"""HTTP routes of the element catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pollhub.catalog.schemas import ElementOut, OAuthUrlOut
from pollhub.deps import CallerDep
from pollhub.elements import catalog, find_element
from pollhub.elements.base import Element
from pollhub.errors import BadRequest, NotFound

router = APIRouter(prefix="/elements", tags=["elements"])


@router.get("", response_model=list[ElementOut])
async def list_elements(_caller: CallerDep) -> list[ElementOut]:
    """Every element pollhub supports and how each delivers events."""
    return [ElementOut.of(element) for element in catalog().values()]


@router.get("/{key}", response_model=ElementOut)
async def get_element_by_key(key: str, _caller: CallerDep) -> ElementOut:
    """One element, by key or by its Cloud Elements id."""
    return ElementOut.of(_element(key))


@router.get("/{key}/oauth/url", response_model=OAuthUrlOut)
async def oauth_url(
    key: str,
    _caller: CallerDep,
    apiKey: Annotated[str | None, Query(description="the OAuth client id")] = None,
    apiSecret: Annotated[str | None, Query(description="accepted for compatibility")] = None,
    callbackUrl: Annotated[str | None, Query(description="the OAuth redirect URI")] = None,
    scope: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query(description="defaults to the element key")] = None,
    siteAddress: Annotated[str | None, Query(description="DocuShare Flex site domain")] = None,
) -> OAuthUrlOut:
    """The provider page where a user grants access; it redirects back with a ``code``."""
    element = _element(key)
    if not apiKey:
        raise BadRequest("query parameter 'apiKey' is required")
    if not callbackUrl:
        raise BadRequest("query parameter 'callbackUrl' is required")
    configuration = {"docushare.domain": siteAddress} if siteAddress else {}
    try:
        url = element.authorize_url(
            client_id=apiKey,
            redirect_uri=callbackUrl,
            scope=scope,
            state=state,
            configuration=configuration,
        )
    except KeyError as exc:
        raise BadRequest(
            f"query parameter 'siteAddress' is required for {key} (its '{exc.args[0]}')"
        ) from exc
    return OAuthUrlOut(oauthUrl=url, element=element.key)


def _element(key: str) -> Element:
    element = find_element(key)
    if element is None:
        raise NotFound(f"No element found with key '{key}'")
    return element
