"""Running a resource definition against its provider: one page, every page, one object.

The generic executor behind hub calls and list polling. It knows the six pagination kinds
of :class:`~pollhub.elements.resources.Pagination`, page sizes, and where the list sits;
what to ask for (filters, placeholders) is decided by the caller through :class:`ListCall`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from pollhub.elements.http import ProviderApi, ProviderError
from pollhub.elements.resources import ResourceDefinition, fill_body, provider_resource_url
from pollhub.elements.where import field_value

MAX_PAGES = 1000
"""A list that pages on past this is treated as a provider fault, not followed forever."""


@dataclass(frozen=True)
class ListCall:
    """One list request of a resource: where, with which query, how many per page."""

    definition: ResourceDefinition
    url: str
    params: dict[str, str] = field(default_factory=dict)
    page_size: int | None = None
    # A POST resource's JSON arguments, and where its cursor asks for the next page.
    body: dict[str, Any] | None = None
    continuation: str | None = None


@dataclass(frozen=True)
class Page:
    """Objects of one page; ``next_token`` continues the list (None: it ended)."""

    objects: list[dict[str, Any]]
    next_token: str | None


def list_call(
    definition: ResourceDefinition,
    *,
    base: str,
    values: Mapping[str, str],
    configuration: Mapping[str, Any],
    params: Mapping[str, str] | None = None,
    page_size: int | None = None,
) -> ListCall:
    """Build the list request: the resource's URL and fixed query, ``params`` (translated
    filters) and the page size in the definition's page-size parameter."""
    size = definition.page_size(page_size)
    base = definition.base or base
    url = provider_resource_url(base, definition.path, values, configuration)
    if definition.method == "POST":
        body = {**fill_body(definition.body or {}, values, configuration), **(params or {})}
        if definition.pageSize is not None:
            body[definition.pageSize.param] = size
        path = definition.pagination.path
        after = provider_resource_url(base, path, values, configuration) if path else None
        sized = size if definition.pageSize else None
        return ListCall(definition, url, dict(definition.query), sized, body, after)
    query = {**definition.query, **(params or {})}
    if definition.pageSize is not None:
        query[definition.pageSize.param] = str(size)
    return ListCall(definition, url, query, size if definition.pageSize else None)


def objects_at(body: Any, path: str) -> list[dict[str, Any]]:
    """The list at a dotted ``path`` of the body (``""``: the body is the list). A missing
    list is empty (Google leaves ``items`` out of an empty page)."""
    found = body if not path else field_value(body, path)
    if found is None:
        return []
    if not isinstance(found, list):
        where = f"'{path}'" if path else "the body"
        raise ProviderError(f"expected a list at {where} of the provider's answer")
    return [item for item in found if isinstance(item, dict)]


async def fetch_page(api: ProviderApi, call: ListCall, token: str | None = None) -> Page:
    """One page of the list: the first without ``token``, else the one it names."""
    if call.body is not None:
        return await _post_page(api, call, token)
    pagination = call.definition.pagination
    url, params = call.url, dict(call.params)
    if token is not None and pagination.type in ("nextLink", "linkHeader"):
        url, params = _same_site(call.url, token), {}  # next links carry their own query
    elif pagination.type == "cursor" and token is not None:
        params[pagination.param] = token
    elif pagination.type == "page":
        params[pagination.param] = token or str(pagination.start or 1)
    elif pagination.type == "offset":
        params[pagination.param] = token or str(pagination.start or 0)
    response = await api.get(url, params or None)
    objects = objects_at(response.body, call.definition.list)
    return Page(objects, _next_token(call, params, response.body, response.next_link, objects))


async def _post_page(api: ProviderApi, call: ListCall, token: str | None) -> Page:
    # The arguments, or for a cursor with a continuation endpoint only the cursor there.
    pagination = call.definition.pagination
    url, arguments = call.url, dict(call.body or {})
    if token is not None and pagination.type == "cursor" and call.continuation:
        url, arguments = call.continuation, {pagination.param: token}
    elif token is not None and pagination.type == "cursor":
        arguments[pagination.param] = token
    elif pagination.type in ("page", "offset"):
        first = pagination.start or (1 if pagination.type == "page" else 0)
        arguments[pagination.param] = int(token) if token is not None else first
    body = await api.send("POST", url, params=call.params or None, json=arguments)
    objects = objects_at(body, call.definition.list)
    counted = {k: str(v) for k, v in arguments.items() if k == pagination.param}
    return Page(objects, _next_token(call, counted, body, None, objects))


def _next_token(
    call: ListCall,
    params: Mapping[str, str],
    body: Any,
    link_header: str | None,
    objects: list[dict[str, Any]],
) -> str | None:
    pagination = call.definition.pagination
    if pagination.type == "nextLink":
        link = field_value(body, pagination.field)
        return _same_site(call.url, urljoin(call.url, link)) if isinstance(link, str) else None
    if pagination.type == "linkHeader":
        return _same_site(call.url, urljoin(call.url, link_header)) if link_header else None
    if pagination.type == "cursor":
        if pagination.more and field_value(body, pagination.more) is not True:
            return None
        cursor = field_value(body, pagination.field)
        return str(cursor) if cursor not in (None, "") else None
    short = not objects or (call.page_size is not None and len(objects) < call.page_size)
    if pagination.type == "page" and not short:
        return str(int(params[pagination.param]) + 1)
    if pagination.type == "offset" and not short:
        return str(int(params[pagination.param]) + len(objects))
    return None


def same_site(origin: str, link: str) -> bool:
    """Whether ``link`` is on the scheme and host ``origin`` is on."""
    first, then = urlsplit(origin), urlsplit(link)
    return (first.scheme, first.netloc) == (then.scheme, then.netloc)


def _same_site(origin: str, link: str) -> str:
    # The access token goes with every page: never to a host the list did not start on
    # (a next link from the provider, or a page token a hub client sent back).
    if not same_site(origin, link):
        raise ProviderError(
            f"the next page points to another site ({urlsplit(link).netloc or link[:100]})"
        )
    return link


async def fetch_all(api: ProviderApi, call: ListCall) -> list[dict[str, Any]]:
    """Every object of the list, page after page."""
    objects: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = await fetch_page(api, call, token)
        objects.extend(page.objects)
        if page.next_token is None or page.next_token == token:
            return objects
        token = page.next_token
    raise ProviderError(
        f"the list at {urlsplit(call.url).path} did not end after {MAX_PAGES} pages"
    )


async def fetch_object(
    api: ProviderApi,
    definition: ResourceDefinition,
    *,
    base: str,
    values: Mapping[str, str],
    configuration: Mapping[str, Any],
    object_id: str,
) -> dict[str, Any]:
    """One object of the resource by its id (the provider's 404 propagates)."""
    path = definition.object_path()
    if path is None:
        raise ProviderError("this resource has no single-object call")
    values = {**values, "id": object_id}
    url = provider_resource_url(definition.base or base, path, values, configuration)
    if definition.method == "POST":
        arguments = fill_body(definition.objectBody or {}, values, configuration)
        found: Any = await api.send("POST", url, json=arguments)
    else:
        found = (await api.get(url)).body
    if not isinstance(found, dict):
        raise ProviderError("the provider's answer for one object is not an object")
    return found
