"""Hub resources end to end over real HTTP: pollhub (API + worker) with its sandbox
providers and a callback receiver. For each element a resource other than its defaults is
polled — changes made at the sandbox arrive once, with the right type — and the hub API
answers the same url with the same objects. Also the two wrong-event bugs of issue 12."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from pollhub.clock import clock
from tests import seeds
from tests.conftest import Tenant
from tests.live import Receiver

API = "/elements/api-v2"
MILLIS = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
SECONDS = "yyyy-MM-dd'T'HH:mm:ss'Z'"


@pytest.fixture
async def http(pollhub_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pollhub_server, timeout=30) as client:
        yield client


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.2)


# Dropbox has no Cloud Elements seed: the body a user of its definition would send.
DROPBOX = {
    "element": {"key": "dropbox"},
    "providerData": {"code": "dropbox-code"},
    "name": "my dropbox",
    "configuration": {
        "oauth.api.key": "<CONSUMER_KEY>",
        "oauth.api.secret": "<CONSUMER_SECRET>",
        "oauth.callback.url": "https://www.mycoolapplication.com/auth",
        "event.notification.enabled": True,
        "event.notification.callback.url": "<CALLBACK_URL>",
    },
}


def body(element: str, callback_url: str, poller: dict[str, Any] | None) -> dict[str, Any]:
    seed = {
        "onedrivev2": seeds.ONEDRIVE,
        "docushareflex": seeds.DOCUSHAREFLEX,
        "googlesuite": seeds.GOOGLESUITE,
        "dropbox": DROPBOX,
    }[element]
    created = seeds.filled(seed)
    configuration = created["configuration"]
    configuration["event.notification.callback.url"] = callback_url
    configuration["event.poller.refresh_interval"] = "0.02"  # ~1 s, floored by the settings
    if element == "docushareflex":
        configuration["docushare.domain"] = "acme.docushareflex.com"  # the user's own site
    if poller is not None:
        configuration["event.poller.configuration"] = poller
    return created


async def create(
    http: httpx.AsyncClient, tenant: Tenant, created: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(f"{API}/instances", json=created, headers=tenant.headers)
    assert response.status_code == 200, response.text
    instance: dict[str, Any] = response.json()
    return instance


async def polled_since(
    http: httpx.AsyncClient, tenant: Tenant, instance_id: int, moment: str, polls: int = 1
) -> None:
    """Wait until every resource has succeeded after ``moment`` (then ``polls - 1`` more)."""

    async def done() -> bool:
        status = await http.get(f"{API}/instances/{instance_id}/poller", headers=tenant.headers)
        return all((s["lastSuccessDate"] or "") > moment for s in status.json())

    for _ in range(polls):
        await wait_for(done)
        moment = clock.now().isoformat()


def now() -> str:
    return clock.now().isoformat()


@dataclass(frozen=True)
class Scenario:
    element: str
    collection: str
    url: str
    create: dict[str, Any]
    update: dict[str, Any]
    hub_get: str  # the same resource through the hub API
    one: str  # the hub path of one object, {id} its objectId
    ignored: dict[str, Any] | None = None  # a change the where clause leaves out


SCENARIOS = {
    "onedrivev2": Scenario(
        "onedrivev2",
        "files",
        "/hubs/documents/folders/root/contents?where=name like 'report%'",
        {"name": "report-1.txt"},
        {"name": "report-1 (final).txt"},
        "/hubs/documents/folders/root/contents?where=name like 'report%'",
        "/hubs/documents/events/{id}",
        ignored={"name": "notes.txt"},
    ),
    "googlesuite": Scenario(
        "googlesuite",
        "calendar-events",
        f"/hubs/general/calendars/primary/events?where=updated > '${{gmtDate:{MILLIS}}}'",
        {"summary": "Standup"},
        {"summary": "Standup (moved)"},
        "/hubs/general/calendars/primary/events?where=updated > '2000-01-01T00:00:00.000Z'",
        "/hubs/general/calendars/primary/events/{id}",
    ),
    "docushareflex": Scenario(
        "docushareflex",
        "documents",
        f"/hubs/documents/documents?where=modified_date > '${{gmtDate:{SECONDS}}}'",
        {"title": "Q3 report.pdf", "domain": "acme.docushareflex.com"},
        {"title": "Q3 report (final).pdf", "domain": "acme.docushareflex.com"},
        "/hubs/documents/documents?where=modified_date > '2000-01-01T00:00:00Z'",
        "/hubs/documents/documents/{id}",
    ),
    # Dropbox's list_folder is a POST taking JSON arguments; its files as a listing (every
    # poll a full read, so a deletion shows as the file missing).
    "dropbox": Scenario(
        "dropbox",
        "files",
        "/hubs/documents/files",
        {"path": "/report-1.txt", "size": 1},
        {"size": 2},
        "/hubs/documents/files",
        "/hubs/documents/files/{id}",
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
async def test_a_custom_resource_reports_each_change_once_and_the_hub_shows_the_same(
    http: httpx.AsyncClient,
    tenant: Tenant,
    receiver: tuple[Receiver, str],
    scenario: Scenario,
) -> None:
    recorder, callback_url = receiver
    poller = {"watched": {"url": scenario.url}}
    instance = await create(http, tenant, body(scenario.element, callback_url, poller))
    await polled_since(http, tenant, instance["id"], "")
    control = f"/sandbox/control/{scenario.element}/{scenario.collection}"

    created = (await http.post(control, json=scenario.create)).json()
    object_id = str(created["id"])
    if scenario.ignored is not None:
        assert (await http.post(control, json=scenario.ignored)).status_code == 201
    await wait_for(lambda: _arrived(recorder, 1))
    element_token = {
        "Authorization": f"{tenant.headers['Authorization']}, Element {instance['token']}"
    }
    hub = await http.get(f"{API}{scenario.hub_get}", headers=element_token)
    assert hub.status_code == 200, hub.text
    assert [_id(scenario.element, o) for o in hub.json()] == [object_id]
    # The client that got the event fetches the object with the instance token.
    event_id = recorder.events()[0]["objectId"]
    one = await http.get(f"{API}{scenario.one.format(id=event_id)}", headers=element_token)
    assert one.status_code == 200, one.text
    assert _id(scenario.element, one.json()) == object_id

    assert (await http.patch(f"{control}/{object_id}", json=scenario.update)).status_code == 200
    await wait_for(lambda: _arrived(recorder, 2))
    assert (await http.delete(f"{control}/{object_id}")).status_code == 200
    await wait_for(lambda: _arrived(recorder, 3))
    await polled_since(http, tenant, instance["id"], now(), polls=2)

    received = [(e["objectType"], e["objectId"], e["eventType"]) for e in recorder.events()]
    assert received == [
        ("watched", object_id, "CREATED"),
        ("watched", object_id, "UPDATED"),
        ("watched", object_id, "DELETED"),
    ]


async def _arrived(recorder: Receiver, count: int) -> bool:
    return len(recorder.events()) >= count


def _id(element: str, obj: dict[str, Any]) -> str:
    return str(obj["handle"] if element == "docushareflex" else obj["id"])


async def test_dropbox_folder_contents_page_through_list_folder_continue(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    _, callback_url = receiver
    instance = await create(http, tenant, body("dropbox", callback_url, None))
    control = "/sandbox/control/dropbox/files"
    for path in ("/Reports/a.pdf", "/Reports/b.pdf", "/Reports/2026/c.pdf", "/other.txt"):
        assert (await http.post(control, json={"path": path})).status_code == 201
    items = (await http.get(control)).json()["items"]
    folder = next(e["id"] for e in items if e["path_display"] == "/Reports")
    headers = {"Authorization": f"{tenant.headers['Authorization']}, Element {instance['token']}"}
    contents = f"{API}/hubs/documents/folders/{folder}/contents"

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        params = {"pageSize": "2", **({"nextPage": token} if token else {})}
        page = await http.get(contents, params=params, headers=headers)
        assert page.status_code == 200, page.text
        pages.append([e["path_display"] for e in page.json()])
        token = page.headers.get("Elements-Next-Page-Token")
        if not token:
            break
    everything = await http.get(f"{API}/hubs/documents/files", headers=headers)
    pdfs = await http.get(contents, params={"where": "name like '%.pdf'"}, headers=headers)

    assert pages == [["/Reports/2026", "/Reports/a.pdf"], ["/Reports/b.pdf"]]
    assert len(everything.json()) == 6, "both folders and the four files, recursively"
    assert [e["name"] for e in pdfs.json()] == ["a.pdf", "b.pdf"]


async def test_the_hub_api_needs_the_instance_token_of_the_callers_organization(
    http: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    _, callback_url = receiver
    instance = await create(http, tenant, body("docushareflex", callback_url, None))
    path = f"{API}/hubs/documents/documents"
    own = f"{tenant.headers['Authorization']}, Element {instance['token']}"
    other = f"{other_tenant.headers['Authorization']}, Element {instance['token']}"
    assert (await http.get(path, headers={"Authorization": own})).status_code == 200
    assert (await http.get(path, headers=tenant.headers)).status_code == 401
    assert (await http.get(path, headers={"Authorization": other})).status_code == 401
    wrong_hub = await http.get(f"{API}/hubs/general/contacts", headers={"Authorization": own})
    assert wrong_hub.status_code == 404
    bad_where = await http.get(path, params={"where": "title ="}, headers={"Authorization": own})
    assert bad_where.status_code == 400 and "where" in bad_where.json()["message"]


async def test_a_gmail_where_clause_is_gmails_search_for_the_poller_and_the_hub(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    """``where`` on messages goes to Gmail as ``q``: only matching mail is reported, the
    hub GET lists only matching mail, and the poller status says what was sent."""
    recorder, callback_url = receiver
    control = "/sandbox/control/googlesuite/messages"
    old = (await http.post(control, json={"subject": "Invoice 1"})).json()
    url = (
        "/hubs/general/messages?where=subject = 'Invoice' and "
        f"lastUpdated > '${{gmtDate:{SECONDS}}}' and threadId != 'none'"
    )
    poller = {"mail": {"url": url, "idField": "id"}}
    instance = await create(http, tenant, body("googlesuite", callback_url, poller))
    await polled_since(http, tenant, instance["id"], "")

    invoice = (await http.post(control, json={"subject": "Invoice 2 due"})).json()
    await http.post(control, json={"subject": "Lunch?"})
    await http.post(control, json={"subject": "Invoices"})  # not the word Invoice
    await wait_for(lambda: _arrived(recorder, 1))
    await polled_since(http, tenant, instance["id"], now())
    received = [(e["objectType"], e["objectId"], e["eventType"]) for e in recorder.events()]
    assert received == [("mail", invoice["id"], "CREATED")]

    headers = {"Authorization": f"{tenant.headers['Authorization']}, Element {instance['token']}"}
    where = "subject = 'Invoice' and lastUpdated >= '2000-01-01T00:00:00Z'"
    hub = f"{API}/hubs/general/messages"
    listed = await http.get(hub, params={"where": where}, headers=headers)
    assert listed.status_code == 200, listed.text
    assert {m["id"] for m in listed.json()} == {old["id"], invoice["id"]}

    status = await http.get(f"{API}/instances/{instance['id']}/poller", headers=tenant.headers)
    (mail,) = [s["reading"] for s in status.json()]
    when = "${gmtDate:yyyy-MM-ddTHH:mm:ssZ}"
    assert mail["providerParameters"] == {"q": f"subject:Invoice after:{when}"}
    assert mail["appliedToFetchedObjects"] == "threadId != 'none'"


async def test_a_hub_get_of_gmail_messages_refuses_a_condition_they_cannot_answer(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    """Listed messages are id and threadId: ``subject like`` (not Gmail-searchable) would
    match nothing, so the hub GET is a 400 naming it rather than an empty list."""
    _, callback_url = receiver
    await http.post("/sandbox/control/googlesuite/messages", json={"subject": "Invoice 7"})
    instance = await create(http, tenant, body("googlesuite", callback_url, None))
    headers = {"Authorization": f"{tenant.headers['Authorization']}, Element {instance['token']}"}
    hub = f"{API}/hubs/general/messages"

    refused = await http.get(hub, params={"where": "subject like 'Inv%'"}, headers=headers)
    searched = await http.get(hub, params={"where": "subject = 'Invoice'"}, headers=headers)

    assert refused.status_code == 400, refused.text
    message = refused.json()["message"]
    assert message.startswith("'where': \"subject like 'Inv%'\" cannot be sent")
    assert "carry only id, threadId" in message
    assert searched.status_code == 200, searched.text
    assert len(searched.json()) == 1


async def test_a_hub_get_over_every_calendar_pages_and_lists_each_event_once(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    """A literal ``{calendarId}`` reads every calendar's events, a page at a time like any
    hub list: each page at most pageSize, the next page's token in the header."""
    _, callback_url = receiver
    control = "/sandbox/control/googlesuite/calendar-events"
    made = set()
    for calendar, count in (("primary", 3), ("team", 4), ("offsite", 1)):
        for n in range(count):
            event = {"calendarId": calendar, "summary": f"{calendar} {n}"}
            made.add((await http.post(control, json=event)).json()["id"])
    instance = await create(http, tenant, body("googlesuite", callback_url, None))
    headers = {"Authorization": f"{tenant.headers['Authorization']}, Element {instance['token']}"}
    path = f"{API}/hubs/general/calendars/{{calendarId}}/events"

    pages: list[list[str]] = []
    params: dict[str, Any] = {"pageSize": 2}
    for _ in range(20):
        page = await http.get(path, params=params, headers=headers)
        assert page.status_code == 200, page.text
        assert 0 < len(page.json()) <= 2
        pages.append([event["id"] for event in page.json()])
        token = page.headers.get("Elements-Next-Page-Token")
        if token is None:
            break
        params = {"pageSize": 2, "nextPage": token}
    seen = [event_id for page_ids in pages for event_id in page_ids]
    assert sorted(seen) == sorted(made)  # every event, each exactly once
    assert len(pages) >= 4

    third = await http.get(path, params={"pageSize": 2, "page": 3}, headers=headers)
    assert [event["id"] for event in third.json()] == pages[2]
    forged = await http.get(path, params={"nextPage": "bm90IGEgdG9rZW4"}, headers=headers)
    assert forged.status_code == 400, forged.text


async def test_changing_a_resource_url_starts_a_fresh_baseline(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    """Regression: PATCHing the url under the same name handed the old cursor to the other
    resource (false CREATED for every contact group, false DELETED for existing mail)."""
    recorder, callback_url = receiver
    await http.post("/sandbox/control/googlesuite/contact-groups", json={"name": "Friends 2"})
    await http.post("/sandbox/control/googlesuite/messages", json={"labelIds": ["INBOX"]})
    poller = {"things": {"url": "/hubs/general/changed-groups", "idField": "id"}}
    instance = await create(http, tenant, body("googlesuite", callback_url, poller))
    await polled_since(http, tenant, instance["id"], "")

    patched = await http.patch(
        f"{API}/instances/{instance['id']}",
        json={
            "configuration": {
                "event.poller.configuration": {
                    "things": {"url": "/hubs/general/changed-messages", "idField": "id"}
                }
            }
        },
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    await polled_since(http, tenant, instance["id"], now(), polls=2)
    assert recorder.events() == []

    message = (await http.post("/sandbox/control/googlesuite/messages", json={})).json()
    await wait_for(lambda: _arrived(recorder, 1))
    await polled_since(http, tenant, instance["id"], now())
    received = [(e["objectType"], e["objectId"], e["eventType"]) for e in recorder.events()]
    assert received == [("things", message["id"], "CREATED")]


async def test_a_delete_before_the_first_poll_is_never_reported(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    """Regression: DocuShare's two-minute look-back reported a delete from before the
    instance existed."""
    recorder, callback_url = receiver
    control = "/sandbox/control/docushareflex/documents"
    site = {"domain": "acme.docushareflex.com"}
    # Start at the top of a second, so the delete and the first poll most likely share
    # it: the site dates to the second, and the second poll's look-back returns the delete.
    await asyncio.sleep(1 - clock.now().microsecond / 1_000_000)
    old = (await http.post(control, json={**site, "title": "old.pdf"})).json()
    await http.delete(f"{control}/{old['id']}")
    instance = await create(http, tenant, body("docushareflex", callback_url, None))
    await polled_since(http, tenant, instance["id"], "", polls=3)

    new = (await http.post(control, json={**site, "title": "new.pdf"})).json()
    await wait_for(lambda: _arrived(recorder, 1))
    await polled_since(http, tenant, instance["id"], now())
    received = [(e["objectId"], e["eventType"]) for e in recorder.events()]
    assert received == [(new["id"], "CREATED")]


async def test_the_seed_calendars_report_each_change_once_with_a_rendered_object_type(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    """The Google seed polls calendars/{calendarId}/… and calendars/primary/…: a primary
    calendar change arrives once; another calendar's names its calendar."""
    recorder, callback_url = receiver
    control = "/sandbox/control/googlesuite/calendar-events"
    team = (await http.post(control, json={"calendarId": "team", "summary": "kick-off"})).json()
    instance = await create(http, tenant, body("googlesuite", callback_url, None))
    await polled_since(http, tenant, instance["id"], "")

    primary_event = (await http.post(control, json={"summary": "1:1"})).json()
    team_event = (
        await http.post(control, json={"calendarId": team["calendarId"], "summary": "retro"})
    ).json()
    await wait_for(lambda: _arrived(recorder, 2))
    await polled_since(http, tenant, instance["id"], now(), polls=2)

    received = sorted((e["objectType"], e["objectId"]) for e in recorder.events())
    assert received == sorted(
        [
            ("calendars/primary/changed-events", primary_event["id"]),
            (f"calendars/{team['calendarId']}/changed-events", team_event["id"]),
        ]
    )
    assert all("{" not in e["objectType"] for e in recorder.events())


async def test_legacy_poller_urls_are_stored_and_shown_as_the_json_form(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    _, callback_url = receiver
    created = body("docushareflex", callback_url, None)
    created["configuration"]["event.poller.urls"] = (
        "docs|/hubs/documents/documents?where=modified_date>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'"
        "||modified_date|yyyy-MM-dd'T'HH:mm:ss'Z'|GMT|create_date|yyyy-MM-dd'T'HH:mm:ss'Z'|GMT"
    )
    instance = await create(http, tenant, created)
    shown = instance["configuration"]
    assert "event.poller.urls" not in shown
    assert shown["event.poller.configuration"]["docs"]["datesConfiguration"] == {
        "updatedDateField": "modified_date",
        "updatedDateFormat": SECONDS,
        "updatedDateTimezone": "GMT",
        "createdDateField": "create_date",
        "createdDateFormat": SECONDS,
        "createdDateTimezone": "GMT",
    }
    status = await http.get(f"{API}/instances/{instance['id']}/poller", headers=tenant.headers)
    reading = status.json()[0]["reading"]
    assert reading["providerParameters"] == {"modifiedAfter": "${gmtDate:yyyy-MM-ddTHH:mm:ssZ}"}
