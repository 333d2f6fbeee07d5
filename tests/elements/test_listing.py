"""The generic list executor against respx-mocked providers: every pagination kind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from pollhub.elements.base import Element
from pollhub.elements.http import ProviderApi, ProviderError
from pollhub.elements.hub import HubPathError, list_page, plan_call
from pollhub.elements.listing import fetch_all, fetch_object, fetch_page, list_call
from pollhub.elements.resources import ResourceDefinition

BASE = "https://api.example.com/v1"


@pytest.fixture
async def api() -> AsyncIterator[ProviderApi]:
    async with httpx.AsyncClient() as http:
        yield ProviderApi(http, "token-1")


def items(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i} for i in ids]


def call(definition: dict[str, Any], **kwargs: Any) -> Any:
    return list_call(
        ResourceDefinition.model_validate(definition),
        base=BASE,
        values={},
        configuration={},
        **kwargs,
    )


@respx.mock
async def test_next_links_are_followed_and_the_page_size_is_sent(api: ProviderApi) -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(200, json={"value": items("a"), "next": f"{BASE}/items?skip=1"}),
            httpx.Response(200, json={"value": items("b")}),
        ]
    )
    found = await fetch_all(
        api,
        call(
            {
                "path": "/items",
                "query": {"kind": "file"},
                "list": "value",
                "pagination": {"type": "nextLink", "field": "next"},
                "pageSize": {"param": "$top"},
            },
            params={"$filter": "x eq 1"},
        ),
    )
    assert [o["id"] for o in found] == ["a", "b"]
    first = route.calls[0].request.url.params
    assert dict(first) == {"kind": "file", "$filter": "x eq 1", "$top": "20"}
    assert dict(route.calls[1].request.url.params) == {"skip": "1"}


@respx.mock
async def test_relative_link_headers_are_followed(api: ProviderApi) -> None:
    respx.get(f"{BASE}/items", params={"page": "2"}).respond(json=items("b"))
    respx.get(f"{BASE}/items").respond(
        json=items("a"), headers={"Link": '</v1/items?page=2>; rel="next"'}
    )
    found = await fetch_all(api, call({"path": "/items", "pagination": {"type": "linkHeader"}}))
    assert [o["id"] for o in found] == ["a", "b"]


@respx.mock
async def test_cursors_are_sent_back_until_none_is_given(api: ProviderApi) -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(200, json={"data": {"rows": items("a")}, "cursor": "c2"}),
            httpx.Response(200, json={"data": {"rows": items("b")}, "cursor": ""}),
        ]
    )
    definition = {
        "path": "/items",
        "list": "data.rows",
        "pagination": {"type": "cursor", "field": "cursor", "param": "pageToken"},
    }
    assert [o["id"] for o in await fetch_all(api, call(definition))] == ["a", "b"]
    assert route.calls[1].request.url.params["pageToken"] == "c2"


@respx.mock
async def test_page_numbers_stop_at_a_short_page(api: ProviderApi) -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(200, json={"items": items("a", "b")}),
            httpx.Response(200, json={"items": items("c")}),
        ]
    )
    definition = {
        "path": "/items",
        "list": "items",
        "pagination": {"type": "page", "param": "page"},
        "pageSize": {"param": "size"},
    }
    found = await fetch_all(api, call(definition, page_size=2))
    assert [o["id"] for o in found] == ["a", "b", "c"]
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]


@respx.mock
async def test_offsets_advance_by_what_was_read_until_an_empty_page(api: ProviderApi) -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(200, json=items("a", "b")),
            httpx.Response(200, json=[]),
        ]
    )
    found = await fetch_all(
        api, call({"path": "/items", "pagination": {"type": "offset", "param": "from"}})
    )
    assert [o["id"] for o in found] == ["a", "b"]
    assert [c.request.url.params["from"] for c in route.calls] == ["0", "2"]


@respx.mock
async def test_one_page_at_a_time_gives_a_token_for_the_next(api: ProviderApi) -> None:
    respx.get(f"{BASE}/items").respond(json={"items": items("a"), "more": "t2"})
    definition = {
        "path": "/items",
        "list": "items",
        "pagination": {"type": "cursor", "field": "more", "param": "after"},
    }
    page = await fetch_page(api, call(definition))
    assert (page.objects, page.next_token) == (items("a"), "t2")


@respx.mock
async def test_a_next_link_to_another_site_is_refused(api: ProviderApi) -> None:
    respx.get(f"{BASE}/items").respond(json={"v": [], "n": "https://evil.example/steal"})
    definition = {
        "path": "/items",
        "list": "v",
        "pagination": {"type": "nextLink", "field": "n"},
    }
    with pytest.raises(ProviderError, match="another site"):
        await fetch_all(api, call(definition))


@respx.mock
async def test_a_list_that_is_not_a_list_is_a_provider_error(api: ProviderApi) -> None:
    respx.get(f"{BASE}/items").respond(json={"items": {"id": "a"}})
    with pytest.raises(ProviderError, match="expected a list"):
        await fetch_all(api, call({"path": "/items", "list": "items"}))


@respx.mock
async def test_one_object_is_fetched_by_id(api: ProviderApi) -> None:
    respx.get(f"{BASE}/items/a%2Fb").respond(json={"id": "a/b"})
    definition = ResourceDefinition(path="/items")
    found = await fetch_object(
        api, definition, base=BASE, values={}, configuration={}, object_id="a/b"
    )
    assert found == {"id": "a/b"}


def _calendar_element() -> Element:
    """Calendars and their events, as Google's hub resources fan out over them."""
    cursor = {"type": "cursor", "field": "next", "param": "token"}
    return Element(
        key="cal",
        name="Calendars",
        hub="general",
        event_mechanism="polling",
        authorization_url="",
        token_url="",
        default_scope="",
        base_url=BASE,
        hub_resources={
            "calendars": ResourceDefinition(path="/calendars", list="items"),
            "calendars/{calendarId}/events": ResourceDefinition.model_validate(
                {
                    "path": "/calendars/{calendarId}/events",
                    "list": "items",
                    "pagination": cursor,
                    "parent": {"placeholder": "calendarId", "resource": "calendars"},
                }
            ),
            "links": ResourceDefinition.model_validate(
                {"path": "/links", "list": "v", "pagination": {"type": "nextLink", "field": "n"}}
            ),
        },
    )


@respx.mock
async def test_a_fanned_out_list_pages_through_each_parent_in_turn(api: ProviderApi) -> None:
    respx.get(f"{BASE}/calendars").respond(json={"items": items("c1", "c2", "c3")})
    respx.get(f"{BASE}/calendars/c1/events", params={"token": "p2"}).respond(
        json={"items": items("e3")}
    )
    respx.get(f"{BASE}/calendars/c1/events").respond(
        json={"items": items("e1", "e2"), "next": "p2"}
    )
    respx.get(f"{BASE}/calendars/c2/events").respond(json={"items": []})
    respx.get(f"{BASE}/calendars/c3/events").respond(json={"items": items("e4")})
    call = plan_call(_calendar_element(), "/hubs/general/calendars/{calendarId}/events", None)

    pages, token = [], None
    for _ in range(10):
        page = await list_page(api, call, {}, token=token)
        pages.append([o["id"] for o in page.objects])
        if (token := page.next_token) is None:
            break

    # c2 has no events: the walk goes on to c3 rather than answer an empty page.
    assert pages == [["e1", "e2"], ["e3"], ["e4"]]
    stale = '{"parent": "gone", "page": null}'
    with pytest.raises(HubPathError, match="no longer listed"):
        await list_page(api, call, {}, token=stale)
    with pytest.raises(HubPathError, match="not a page token"):
        await list_page(api, call, {}, token="not json")


@respx.mock
async def test_a_page_token_naming_another_site_is_refused_before_any_request(
    api: ProviderApi,
) -> None:
    """The hub hands next links back to clients as page tokens; one sent back pointing
    elsewhere would carry the instance's access token there."""
    route = respx.get(url__startswith="https://evil.example/").respond(json={"v": []})
    call = plan_call(_calendar_element(), "/hubs/general/links", None)

    with pytest.raises(HubPathError, match="not a page token"):
        await list_page(api, call, {}, token="https://evil.example/steal")
    assert not route.called
