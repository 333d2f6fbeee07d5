"""Each element's change reader against respx-mocked provider pages (no database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx

from pollhub.elements import catalog
from pollhub.elements.docushareflex import read_documents
from pollhub.elements.googlesuite import (
    read_calendar_changes,
    read_contact_groups,
    read_mailbox_history,
)
from pollhub.elements.http import ProviderApi, ProviderThrottled
from pollhub.elements.reading import CursorExpired, ReadRequest

CALENDAR = "https://www.googleapis.com/calendar/v3"
PEOPLE = "https://people.googleapis.com/v1"
GMAIL = "https://gmail.googleapis.com/gmail/v1"


@pytest.fixture
async def api() -> AsyncIterator[ProviderApi]:
    async with httpx.AsyncClient() as http:
        yield ProviderApi(http, "token-1")


def request(cursor: dict[str, Any] | None = None, **configuration: str) -> ReadRequest:
    return ReadRequest(path="/", query={}, cursor=cursor, since=None, configuration=configuration)


def every_calendar(
    cursor: dict[str, Any] | None = None, skip: frozenset[str] = frozenset()
) -> ReadRequest:
    return ReadRequest(
        path="/",
        query={},
        cursor=cursor,
        since=None,
        name="calendars/{calendarId}/changed-events",
        values={"calendarId": "{calendarId}"},
        skip=skip,
    )


def event(event_id: str, status: str = "confirmed") -> dict[str, Any]:
    return {
        "id": event_id,
        "status": status,
        "created": "2026-11-20T10:00:00.000Z",
        "updated": "2026-11-21T08:30:12.345Z",
    }


@respx.mock
async def test_calendars_fan_out_over_the_calendar_list_with_a_sync_token_each(
    api: ProviderApi,
) -> None:
    respx.get(f"{CALENDAR}/users/me/calendarList").respond(
        json={"items": [{"id": "me@example.com", "primary": True}, {"id": "team"}]}
    )
    me = respx.get(f"{CALENDAR}/calendars/me@example.com/events").mock(
        side_effect=[
            httpx.Response(200, json={"items": [event("a")], "nextPageToken": "p2"}),
            httpx.Response(200, json={"items": [event("b")], "nextSyncToken": "s-me"}),
        ]
    )
    respx.get(f"{CALENDAR}/calendars/team/events").respond(
        json={"items": [event("c", "cancelled")], "nextSyncToken": "s-team"}
    )

    result = await read_calendar_changes(api, every_calendar())

    assert [(c.object_id, c.kind) for c in result.changes] == [
        ("a", None),
        ("b", None),
        ("c", "deleted"),
    ]
    assert result.cursor == {"syncTokens": {"me@example.com": "s-me", "team": "s-team"}}
    assert me.calls[1].request.url.params["pageToken"] == "p2"
    assert me.calls[0].request.headers["Authorization"] == "Bearer token-1"


@respx.mock
async def test_a_calendar_that_appears_later_is_a_silent_baseline(api: ProviderApi) -> None:
    respx.get(f"{CALENDAR}/users/me/calendarList").respond(json={"items": [{"id": "new"}]})
    respx.get(f"{CALENDAR}/calendars/new/events").respond(
        json={"items": [event("x")], "nextSyncToken": "s-new"}
    )

    result = await read_calendar_changes(api, every_calendar({"syncTokens": {"old": "s-old"}}))

    assert [c.silent for c in result.changes] == [True]
    assert result.cursor == {"syncTokens": {"new": "s-new"}}


@respx.mock
async def test_a_stale_calendar_sync_token_relists_the_calendar(api: ProviderApi) -> None:
    route = respx.get(f"{CALENDAR}/calendars/primary/events").mock(
        side_effect=[
            httpx.Response(410, json={"error": {"code": 410, "message": "Sync token expired"}}),
            httpx.Response(200, json={"items": [event("a")], "nextSyncToken": "fresh"}),
        ]
    )

    result = await read_calendar_changes(api, request({"syncTokens": {"primary": "stale"}}))

    assert route.calls[0].request.url.params["syncToken"] == "stale"
    assert "syncToken" not in route.calls[1].request.url.params
    assert result.cursor == {"syncTokens": {"primary": "fresh"}}
    assert [c.object_id for c in result.changes] == ["a"]


@respx.mock
async def test_contact_groups_carry_an_id_and_report_deletes(api: ProviderApi) -> None:
    respx.get(f"{PEOPLE}/contactGroups").respond(
        json={
            "contactGroups": [
                {"resourceName": "contactGroups/g1", "metadata": {"updateTime": "x"}},
                {"resourceName": "contactGroups/g2", "metadata": {"deleted": True}},
            ],
            "nextSyncToken": "s2",
        }
    )

    result = await read_contact_groups(api, request({"syncToken": "s1"}))

    assert [(c.object_id, c.kind, c.raw["id"]) for c in result.changes] == [
        ("g1", None, "g1"),
        ("g2", "deleted", "g2"),
    ]
    assert result.cursor == {"syncToken": "s2"} and not result.complete


@respx.mock
async def test_an_expired_contact_group_sync_token_is_a_cursor_expiry(api: ProviderApi) -> None:
    respx.get(f"{PEOPLE}/contactGroups").respond(
        400,
        json={"error": {"code": 400, "message": "Sync token is expired. Clear local cache."}},
    )

    with pytest.raises(CursorExpired):
        await read_contact_groups(api, request({"syncToken": "old"}))


@respx.mock
async def test_gmail_starts_from_the_profiles_history_id(api: ProviderApi) -> None:
    respx.get(f"{GMAIL}/users/me/profile").respond(json={"historyId": "100"})

    result = await read_mailbox_history(api, request())

    assert result.changes == [] and result.cursor == {"historyId": "100"}


@respx.mock
async def test_gmail_history_turns_records_into_changes(api: ProviderApi) -> None:
    respx.get(f"{GMAIL}/users/me/history").respond(
        json={
            "history": [
                {"id": "101", "messagesAdded": [{"message": {"id": "m1"}}]},
                {"id": "102", "labelsAdded": [{"message": {"id": "m2"}, "labelIds": ["X"]}]},
                {"id": "103", "messagesDeleted": [{"message": {"id": "m3"}}]},
            ],
            "historyId": "103",
        }
    )
    respx.get(f"{GMAIL}/users/me/messages/m1").respond(json={"id": "m1", "snippet": "hi"})
    respx.get(f"{GMAIL}/users/me/messages/m2").respond(json={"id": "m2", "labelIds": ["X"]})

    result = await read_mailbox_history(api, request({"historyId": "100"}))

    assert [(c.object_id, c.kind) for c in result.changes] == [
        ("m1", "created"),
        ("m2", "updated"),
        ("m3", "deleted"),
    ]
    assert result.changes[0].raw["snippet"] == "hi"
    assert result.cursor == {"historyId": "103"}


@respx.mock
async def test_a_too_old_gmail_history_id_is_a_cursor_expiry(api: ProviderApi) -> None:
    respx.get(f"{GMAIL}/users/me/history").respond(404, json={"error": {"code": 404}})

    with pytest.raises(CursorExpired):
        await read_mailbox_history(api, request({"historyId": "1"}))


@respx.mock
async def test_docushare_reads_the_instances_site_by_modified_date(api: ProviderApi) -> None:
    site = "https://mysite.docushareflex.com/api/v1/objects"
    route = respx.get(site).mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "items": [{"handle": "Document-1", "modified_date": "2026-11-25T10:00:00Z"}],
                    "next": f"{site}?page=2",
                },
            ),
            httpx.Response(
                200, json={"items": [{"handle": "Document-2", "deleted": True}], "next": None}
            ),
        ]
    )

    # The reader calls the element's baseUrl as the instance's site fills it in.
    docushare = catalog()["docushareflex"]
    configuration = {"docushare.domain": "mysite.docushareflex.com"}
    base_url = docushare.resolve(docushare.base_url, configuration)
    cursor = {"since": "2026-11-25T09:00:00Z"}
    result = await read_documents(api, replace(request(cursor, **configuration), base_url=base_url))

    first = route.calls[0].request.url.params
    assert first["type"] == "Document"
    assert first["modifiedAfter"] == "2026-11-25T08:58:00Z", "reaches back by the overlap"
    assert [(c.object_id, c.kind) for c in result.changes] == [
        ("Document-1", None),
        ("Document-2", "deleted"),
    ]
    assert not result.complete


@respx.mock
async def test_throttling_carries_retry_after(api: ProviderApi) -> None:
    respx.get(f"{GMAIL}/users/me/profile").respond(
        429, headers={"Retry-After": "7"}, json={"error": {"code": 429, "message": "slow"}}
    )

    with pytest.raises(ProviderThrottled) as raised:
        await read_mailbox_history(api, request())

    assert raised.value.retry_after == 7
