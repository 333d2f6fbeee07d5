"""Google Calendar, People and Gmail through google-api-python-client (shipped discovery
documents) and google-auth token refresh, plus their error bodies over plain HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import Resource, build
from googleapiclient.errors import HttpError

from pollhub.clock import clock
from pollhub.sandbox.timefmt import millis_z
from tests.sandbox.conftest import CLIENT, GOOGLE_TOKEN, Sandbox, bearer, google_tokens

GOOGLE_DATE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
# providers.md: the fields pollhub reads.
EVENT_FIELDS = {"id", "status", "created", "updated", "summary", "start", "end"}
GROUP_FIELDS = {"resourceName", "etag", "metadata", "groupType", "name", "formattedName"}
MESSAGE_FIELDS = {"id", "threadId", "labelIds", "snippet", "historyId", "internalDate", "payload"}

# Where each API lives in the sandbox, as google-api-python-client's api_endpoint
# (rootUrl + servicePath of the shipped discovery document).
ENDPOINTS = {
    ("calendar", "v3"): "www.googleapis.com/calendar/v3/",
    ("people", "v1"): "people.googleapis.com/",
    ("gmail", "v1"): "gmail.googleapis.com/",
}

ServiceFactory = Callable[[str, str], Any]


@pytest.fixture
def credentials(sandbox: Sandbox) -> Credentials:
    """google-auth credentials holding only a refresh token, as pollhub stores them."""
    return Credentials(
        token=None,
        refresh_token=google_tokens(sandbox)["refresh_token"],
        token_uri=f"{sandbox.url}/{GOOGLE_TOKEN}",
        client_id=CLIENT["client_id"],
        client_secret=CLIENT["client_secret"],
    )


@pytest.fixture
def service(sandbox: Sandbox, credentials: Credentials) -> ServiceFactory:
    def make(name: str, version: str) -> Resource:
        return build(
            name,
            version,
            credentials=credentials,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": f"{sandbox.url}/{ENDPOINTS[(name, version)]}"},
        )

    return make


def _create(sandbox: Sandbox, collection: str, **fields: Any) -> dict[str, Any]:
    response = sandbox.control("POST", f"googlesuite/{collection}", fields)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# Calendar ----------------------------------------------------------------------------


def test_google_auth_refreshes_and_calendar_list_shows_the_primary_calendar(
    service: ServiceFactory, credentials: Credentials, sandbox: Sandbox
) -> None:
    calendars = service("calendar", "v3").calendarList().list().execute()

    assert credentials.token is not None and credentials.token.startswith("ya29.")
    assert calendars["kind"] == "calendar#calendarList"
    primary = [c for c in calendars["items"] if c.get("primary")]
    assert [c["id"] for c in primary] == [sandbox.state.data.google_user.email]
    assert primary[0]["kind"] == "calendar#calendarListEntry"


def test_events_by_updated_min_include_cancelled_ones_with_google_dates(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    since = millis_z(clock.now() - timedelta(seconds=1))
    kept = _create(sandbox, "calendar-events", summary="Stand-up")
    cancelled = _create(sandbox, "calendar-events", summary="Retro")
    sandbox.control("DELETE", f"googlesuite/calendar-events/{cancelled['id']}")

    result = (
        service("calendar", "v3").events().list(calendarId="primary", updatedMin=since).execute()
    )
    plain = service("calendar", "v3").events().list(calendarId="primary").execute()

    assert result["kind"] == "calendar#events"
    statuses = {e["id"]: e["status"] for e in result["items"]}
    assert statuses == {kept["id"]: "confirmed", cancelled["id"]: "cancelled"}
    event = result["items"][0]
    assert set(event) >= EVENT_FIELDS
    assert re.match(GOOGLE_DATE, event["created"]) and re.match(GOOGLE_DATE, event["updated"])
    assert [e["id"] for e in plain["items"]] == [kept["id"]]


def test_show_deleted_lists_cancelled_events(service: ServiceFactory, sandbox: Sandbox) -> None:
    gone = _create(sandbox, "calendar-events", summary="Gone")
    sandbox.control("DELETE", f"googlesuite/calendar-events/{gone['id']}")

    result = (
        service("calendar", "v3").events().list(calendarId="primary", showDeleted=True).execute()
    )

    assert [(e["id"], e["status"]) for e in result["items"]] == [(gone["id"], "cancelled")]


def test_sync_token_returns_only_changes_including_cancellations(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    events = service("calendar", "v3").events()
    first = _create(sandbox, "calendar-events", summary="One")
    second = _create(sandbox, "calendar-events", summary="Two")
    baseline = events.list(calendarId="primary").execute()
    sandbox.control("PATCH", f"googlesuite/calendar-events/{first['id']}", {"summary": "One!"})
    sandbox.control("DELETE", f"googlesuite/calendar-events/{second['id']}")

    changes = events.list(calendarId="primary", syncToken=baseline["nextSyncToken"]).execute()
    quiet = events.list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()

    assert [(e["summary"], e["status"]) for e in changes["items"]] == [
        ("One!", "confirmed"),
        ("Two", "cancelled"),
    ]
    assert quiet["items"] == []


def test_event_pages_end_with_a_next_sync_token(service: ServiceFactory, sandbox: Sandbox) -> None:
    for n in range(5):
        _create(sandbox, "calendar-events", summary=f"E{n}")
    events = service("calendar", "v3").events()

    request = events.list(calendarId="primary", maxResults=2)
    pages = []
    while request is not None:
        page = request.execute()
        pages.append(page)
        request = events.list_next(request, page)

    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert all("nextSyncToken" not in p for p in pages[:-1])
    assert "nextSyncToken" in pages[-1]


def test_stale_calendar_sync_token_is_410_full_sync_required(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    with pytest.raises(HttpError) as raised:
        service("calendar", "v3").events().list(calendarId="primary", syncToken="stale").execute()

    assert raised.value.resp.status == 410
    assert raised.value.error_details[0]["reason"] == "fullSyncRequired"


def test_secondary_calendar_events_and_unknown_calendar(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    _create(sandbox, "calendar-events", calendarId="team@group.calendar.google.com", summary="Team")
    calendar = service("calendar", "v3")

    listed = calendar.calendarList().list().execute()
    events = calendar.events().list(calendarId="team@group.calendar.google.com").execute()

    assert "team@group.calendar.google.com" in [c["id"] for c in listed["items"]]
    assert [e["summary"] for e in events["items"]] == ["Team"]
    with pytest.raises(HttpError) as raised:
        calendar.events().list(calendarId="nobody@example.com").execute()
    assert raised.value.resp.status == 404


def test_client_refreshes_by_itself_when_the_access_token_expires(
    service: ServiceFactory, credentials: Credentials
) -> None:
    calendar = service("calendar", "v3")
    calendar.calendarList().list().execute()
    first_token = credentials.token

    clock.advance(timedelta(hours=2))
    calendar.calendarList().list().execute()

    assert credentials.token != first_token


# People ------------------------------------------------------------------------------


def test_contact_groups_page_and_sync_with_deleted_groups(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    groups = service("people", "v1").contactGroups()
    request = groups.list(pageSize=3)
    listed: list[dict[str, Any]] = []
    while request is not None:
        page = request.execute()
        listed.extend(page.get("contactGroups", []))
        last, request = page, groups.list_next(request, page)
    friends = _create(sandbox, "contact-groups", name="Climbing")
    sandbox.control("PATCH", f"googlesuite/contact-groups/{friends['id']}", {"name": "Bouldering"})
    doomed = _create(sandbox, "contact-groups", name="Old team")
    sandbox.control("DELETE", f"googlesuite/contact-groups/{doomed['id']}")

    changes = groups.list(syncToken=last["nextSyncToken"]).execute()

    assert {g["resourceName"] for g in listed} >= {
        "contactGroups/myContacts",
        "contactGroups/starred",
    }
    assert all(g["groupType"] == "SYSTEM_CONTACT_GROUP" for g in listed)
    by_name = {g["resourceName"]: g for g in changes["contactGroups"]}
    renamed = by_name[f"contactGroups/{friends['id']}"]
    assert set(renamed) >= GROUP_FIELDS
    assert renamed["name"] == "Bouldering"
    assert renamed["groupType"] == "USER_CONTACT_GROUP"
    assert re.match(GOOGLE_DATE, renamed["metadata"]["updateTime"])
    assert by_name[f"contactGroups/{doomed['id']}"]["metadata"]["deleted"] is True
    assert "nextSyncToken" in changes


def test_expired_people_sync_token_is_400_failed_precondition(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    token = service("people", "v1").contactGroups().list().execute()["nextSyncToken"]
    clock.advance(timedelta(days=8))

    response = httpx.get(
        f"{sandbox.url}/people.googleapis.com/v1/contactGroups",
        params={"syncToken": token},
        headers=bearer(google_tokens(sandbox)),
        timeout=30,
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "FAILED_PRECONDITION"
    assert error["details"][0]["reason"] == "EXPIRED_SYNC_TOKEN"


# Gmail -------------------------------------------------------------------------------


def test_gmail_history_records_message_and_label_changes(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    gmail = service("gmail", "v1").users()
    start = gmail.getProfile(userId="me").execute()["historyId"]
    message = _create(sandbox, "messages", subject="Invoice", labelIds=["INBOX", "UNREAD"])
    sandbox.control(
        "PATCH",
        f"googlesuite/messages/{message['id']}",
        {"addLabelIds": ["STARRED"], "removeLabelIds": ["UNREAD"]},
    )
    sandbox.control("DELETE", f"googlesuite/messages/{message['id']}")

    history = gmail.history().list(userId="me", startHistoryId=start).execute()
    only_added = (
        gmail.history()
        .list(userId="me", startHistoryId=start, historyTypes="messageAdded")
        .execute()
    )

    records = history["history"]
    assert [sorted(set(r) - {"id", "messages"}) for r in records] == [
        ["messagesAdded"],
        ["labelsAdded", "labelsRemoved"],
        ["messagesDeleted"],
    ]
    assert records[0]["messagesAdded"][0]["message"]["id"] == message["id"]
    assert records[1]["labelsAdded"][0]["labelIds"] == ["STARRED"]
    assert records[1]["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    assert int(history["historyId"]) == int(records[-1]["id"])
    assert [list(r) for r in only_added["history"]] == [["id", "messages", "messagesAdded"]]


def test_gmail_history_pages_with_page_tokens(service: ServiceFactory, sandbox: Sandbox) -> None:
    history = service("gmail", "v1").users().history()
    start = service("gmail", "v1").users().getProfile(userId="me").execute()["historyId"]
    for n in range(5):
        _create(sandbox, "messages", subject=f"M{n}")

    request = history.list(userId="me", startHistoryId=start, maxResults=2)
    ids: list[str] = []
    while request is not None:
        page = request.execute()
        ids.extend(record["id"] for record in page.get("history", []))
        request = history.list_next(request, page)

    assert len(ids) == len(set(ids)) == 5
    assert ids == sorted(ids, key=int)


def test_gmail_message_get_has_the_documented_fields(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    message = _create(sandbox, "messages", subject="Hello", body="Hi there")
    users = service("gmail", "v1").users()

    listed = users.messages().list(userId="me").execute()
    got = (
        users.messages()
        .get(userId="me", id=message["id"], format="metadata", metadataHeaders=["Subject"])
        .execute()
    )

    assert listed["messages"] == [{"id": message["id"], "threadId": message["threadId"]}]
    assert set(got) >= MESSAGE_FIELDS
    assert got["payload"]["headers"] == [{"name": "Subject", "value": "Hello"}]
    assert re.match(r"^\d{13}$", got["internalDate"])


def test_gmail_history_older_than_retained_is_404(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    gmail = service("gmail", "v1").users()
    start = gmail.getProfile(userId="me").execute()["historyId"]
    _create(sandbox, "messages", subject="Old")
    clock.advance(timedelta(days=8))
    _create(sandbox, "messages", subject="New")

    with pytest.raises(HttpError) as raised:
        gmail.history().list(userId="me", startHistoryId=start).execute()

    assert raised.value.resp.status == 404


def test_gmail_deleted_message_is_404(sandbox: Sandbox) -> None:
    message = _create(sandbox, "messages", subject="Bye")
    sandbox.control("DELETE", f"googlesuite/messages/{message['id']}")

    response = httpx.get(
        f"{sandbox.url}/gmail.googleapis.com/gmail/v1/users/me/messages/{message['id']}",
        headers=bearer(google_tokens(sandbox)),
        timeout=30,
    )

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_gmail_message_list_honours_the_search_query(
    service: ServiceFactory, sandbox: Sandbox
) -> None:
    """``q`` as pollhub sends it: operators joined by spaces, ``-`` negating one,
    ``after:`` (its own second included) and ``before:`` in seconds or as yyyy/mm/dd."""
    old = _create(sandbox, "messages", subject="Invoice 41", **{"from": "Ann <ann@a.com>"})
    clock.advance(timedelta(hours=1))
    cutoff = int(clock.now().timestamp())
    due = _create(sandbox, "messages", subject="Invoice 42 due", labelIds=["INBOX"])
    other = _create(sandbox, "messages", subject="Invoices", labelIds=["INBOX", "UNREAD"])
    phrase = _create(sandbox, "messages", subject="Q3 report", **{"from": "bob@b.com"})
    messages = service("gmail", "v1").users().messages()

    def found(query: str) -> set[str]:
        listed = messages.list(userId="me", q=query).execute()
        return {m["id"] for m in listed.get("messages", [])}

    assert found("subject:Invoice") == {old["id"], due["id"]}  # words, not prefixes
    assert found(f"subject:Invoice after:{cutoff}") == {due["id"]}
    assert found(f"subject:Invoice before:{cutoff}") == {old["id"]}
    assert found("subject:Invoice -from:ann@a.com") == {due["id"]}
    assert found('subject:"Q3 report" from:bob@b.com') == {phrase["id"]}
    assert found('subject:"report Q3"') == set()
    assert found("label:unread") == found("is:unread") == {old["id"], other["id"], phrase["id"]}
    assert found("-is:unread") == {due["id"]}
    assert found("after:2000/01/01 before:2000/01/02") == set()
    assert found("") == {old["id"], due["id"], other["id"], phrase["id"]}
