"""HTTP routes of the element catalog and of an organization's custom elements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pollhub.catalog import service
from pollhub.catalog.schemas import ElementDeleted, ElementOut, OAuthUrlOut
from pollhub.deps import CallerDep, SessionDep
from pollhub.elements import catalog, custom_element, get_element
from pollhub.elements.base import Element
from pollhub.elements.definition import ElementDefinition, definition_json_schema
from pollhub.errors import BadRequest

router = APIRouter(prefix="/elements", tags=["elements"])


@router.get("", response_model=list[ElementOut])
async def list_elements(session: SessionDep, caller: CallerDep) -> list[ElementOut]:
    """Every element the organization can use: pollhub's own, then its custom elements."""
    elements = await service.elements_of(session, caller.organization_id)
    return [_view(element) for element in elements]


@router.get("/schema")
async def definition_schema() -> dict[str, Any]:
    """The JSON Schema of an element definition: what ``POST /elements`` accepts."""
    return definition_json_schema()


@router.post("", response_model=ElementOut)
async def register_element(
    definition: ElementDefinition, session: SessionDep, caller: CallerDep
) -> ElementOut:
    """Register a custom element, private to the caller's organization (CONTRACT §7)."""
    row = await service.register(session, caller.organization_id, definition)
    await session.commit()
    return _view(custom_element(row.definition))


@router.get("/{key}", response_model=ElementOut)
async def get_element_by_key(key: str, session: SessionDep, caller: CallerDep) -> ElementOut:
    """One element: built-in, or the organization's own with its definition."""
    return _view(await service.element_or_404(session, caller.organization_id, key))


@router.put("/{key}", response_model=ElementOut)
async def replace_element(
    key: str, definition: ElementDefinition, session: SessionDep, caller: CallerDep
) -> ElementOut:
    """Replace a custom element's definition; its instances use it from their next poll."""
    row = await service.replace(session, caller.organization_id, key, definition)
    await session.commit()
    return _view(custom_element(row.definition))


@router.delete("/{key}", response_model=ElementDeleted)
async def delete_element(key: str, session: SessionDep, caller: CallerDep) -> ElementDeleted:
    """Delete a custom element; 409 while instances use it."""
    await service.remove(session, caller.organization_id, key)
    await session.commit()
    return ElementDeleted(key=key, deleted=True)


def _site_parameters() -> list[dict[str, Any]]:
    """The OpenAPI query parameters built-in definitions add to the OAuth URL route
    (``oauthUrlParameter``: DocuShare Flex's ``siteAddress``), described from the files."""
    found: dict[str, dict[str, Any]] = {}
    for element in catalog().values():
        for entry in element.definition.configuration if element.definition else []:
            if entry.oauthUrlParameter is None:
                continue
            what = entry.description or entry.label or entry.key
            parameter = found.setdefault(
                entry.oauthUrlParameter,
                {
                    "name": entry.oauthUrlParameter,
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "",
                },
            )
            required = " (required for it)" if entry.required else ""
            parameter["description"] += f"{element.name}: {what}{required}. "
    return [
        {**parameter, "description": parameter["description"].strip()}
        for parameter in found.values()
    ]


@router.get(
    "/{key}/oauth/url",
    response_model=OAuthUrlOut,
    openapi_extra={"parameters": _site_parameters()},
)
async def oauth_url(
    key: str,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    apiKey: Annotated[str | None, Query(description="the OAuth client id")] = None,
    apiSecret: Annotated[str | None, Query(description="accepted for compatibility")] = None,
    callbackUrl: Annotated[str | None, Query(description="the OAuth redirect URI")] = None,
    scope: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query(description="defaults to the element key")] = None,
) -> OAuthUrlOut:
    """The provider page where a user grants access; it redirects back with a ``code``.

    Elements whose provider URL depends on the instance (a per-customer site) take that
    value from the query parameter their definition names (DocuShare Flex: ``siteAddress``),
    or, when it names none, from a query parameter named as the configuration key.
    """
    element = await service.element_or_404(session, caller.organization_id, key)
    if not element.authorization_url:
        raise BadRequest(f"{key} does not authenticate with OAuth 2.0")
    if not apiKey:
        raise BadRequest("query parameter 'apiKey' is required")
    if not callbackUrl:
        raise BadRequest("query parameter 'callbackUrl' is required")
    configuration = _configuration_from_query(element, request.query_params)
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
            f"query parameter '{_parameter_for(element, exc.args[0])}' is required for {key} "
            f"(its '{exc.args[0]}')"
        ) from exc
    return OAuthUrlOut(oauthUrl=url, element=element.key)


def _configuration_from_query(element: Element, query: Mapping[str, str]) -> dict[str, Any]:
    """The element's configuration keys given as query parameters, checked."""
    found: dict[str, Any] = {}
    keys = element.definition.configuration if element.definition is not None else []
    for entry in keys:
        value = query.get(entry.oauthUrlParameter or entry.key)
        if value:
            try:
                found[entry.key] = entry.check(value)
            except ValueError as exc:
                name = entry.oauthUrlParameter or entry.key
                raise BadRequest(f"query parameter '{name}': {exc}") from exc
    return found


def _parameter_for(element: Element, key: str) -> str:
    entry = element.definition.configuration_key(key) if element.definition else None
    return (entry.oauthUrlParameter if entry else None) or key


def _view(element: Element) -> ElementOut:
    return ElementOut.of(element, custom=get_element(element.key) is None)
