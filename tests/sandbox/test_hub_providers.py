"""The provider calls behind the new hub resources, as the providers' own clients make
them: Graph folder children (``$filter``, ``$top``, ``@odata.nextLink``) through the
Microsoft Graph SDK, People connections and Calendar ``updatedMin`` through
google-api-python-client, and DocuShare's query over plain HTTP on a site of its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.drives.item.items.item.children.children_request_builder import (
    ChildrenRequestBuilder,
)

from pollhub.clock import clock
from pollhub.sandbox.timefmt import millis_z
from tests.sandbox.conftest import (
    CLIENT,
    GOOGLE_TOKEN,
    Sandbox,
    bearer,
    docushare_tokens,
    google_tokens,
    microsoft_tokens,
)
from tests.sandbox.graph_client import graph_client


def _control(sandbox: Sandbox, collection: str, **fields: Any) -> dict[str, Any]:
    response = sandbox.control("POST", collection, fields)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _google(sandbox: Sandbox, name: str, version: str, endpoint: str) -> Any:
    credentials = Credentials(
        token=None,
        refresh_token=google_tokens(sandbox)["refresh_token"],
        token_uri=f"{sandbox.url}/{GOOGLE_TOKEN}",
        client_id=CLIENT["client_id"],
        client_secret=CLIENT["client_secret"],
    )
    return build(
        name,
        version,
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{sandbox.url}/{endpoint}"},
    )


async def test_graph_sdk_lists_folder_children_filtered_and_paged(sandbox: Sandbox) -> None:
    client = graph_client(sandbox.url, microsoft_tokens(sandbox)["access_token"])
    folder = _control(sandbox, "onedrivev2/files", name="Reports", folder=True)
    for name in ("a.txt", "b.txt", "c.txt", "report.txt"):
        _control(sandbox, "onedrivev2/files", name=name, parentId=folder["id"])
    _control(sandbox, "onedrivev2/files", name="elsewhere.txt")

    drive = await client.me.drive.get()
    assert drive is not None and drive.id
    children = client.drives.by_drive_id(drive.id).items.by_drive_item_id(folder["id"]).children
    query = ChildrenRequestBuilder.ChildrenRequestBuilderGetQueryParameters(top=3)
    page = await children.get(RequestConfiguration(query_parameters=query))
    names: list[str | None] = []
    while page is not None:
        names.extend(item.name for item in page.value or [])
        page = await children.with_url(page.odata_next_link).get() if page.odata_next_link else None
    assert names == ["a.txt", "b.txt", "c.txt", "report.txt"]

    query = ChildrenRequestBuilder.ChildrenRequestBuilderGetQueryParameters(
        filter="name eq 'report.txt'"
    )
    found = await children.get(RequestConfiguration(query_parameters=query))
    assert found is not None and [item.name for item in found.value or []] == ["report.txt"]


def test_graph_refuses_a_filter_on_what_children_cannot_filter(sandbox: Sandbox) -> None:
    headers = bearer(microsoft_tokens(sandbox))
    url = f"{sandbox.url}/graph.microsoft.com/v1.0/me/drive/root/children"
    response = httpx.get(url, params={"$filter": "size gt 3"}, headers=headers, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidRequest"
    later = millis_z(clock.now()).replace(".000", "")
    fine = httpx.get(
        url, params={"$filter": f"lastModifiedDateTime gt {later}"}, headers=headers, timeout=30
    )
    assert fine.status_code == 200 and fine.json()["value"] == []


def test_people_connections_page_through_the_google_client(sandbox: Sandbox) -> None:
    for n in range(3):
        _control(sandbox, "googlesuite/contacts", name=f"Ann {n}", email=f"ann{n}@example.com")
    people = _google(sandbox, "people", "v1", "people.googleapis.com/").people().connections()
    request = people.list(resourceName="people/me", personFields="names,metadata", pageSize=2)
    found: list[dict[str, Any]] = []
    while request is not None:
        response = request.execute()
        found.extend(response.get("connections", []))
        request = people.list_next(request, response)
    assert [p["names"][0]["displayName"] for p in found] == ["Ann 0", "Ann 1", "Ann 2"]
    assert all(p["resourceName"].startswith("people/c") for p in found)
    assert all("updateTime" in p["metadata"]["sources"][0] for p in found)


def test_calendar_events_updated_min_lists_what_changed_since(sandbox: Sandbox) -> None:
    old = _control(sandbox, "googlesuite/calendar-events", summary="old")
    # A second later: updatedMin is written to the millisecond, and an event updated within
    # the same millisecond as it is (rightly) after it.
    clock.advance(timedelta(seconds=1))
    since = millis_z(clock.now())
    clock.advance(timedelta(seconds=1))
    try:
        new = _control(sandbox, "googlesuite/calendar-events", summary="new")
        events = _google(sandbox, "calendar", "v3", "www.googleapis.com/calendar/v3/").events()
        listed = events.list(calendarId="primary", updatedMin=since).execute()
    finally:
        clock.reset()
    ids = [e["id"] for e in listed.get("items", [])]
    assert new["id"] in ids and old["id"] not in ids


def test_any_docushare_domain_is_a_site_with_its_own_documents_and_query(
    sandbox: Sandbox,
) -> None:
    domain = "acme.docushareflex.com"
    for title, owner in (("Invoice 1.pdf", "ann"), ("Invoice 2.pdf", "bob"), ("Notes.pdf", "ann")):
        _control(sandbox, "docushareflex/documents", title=title, owner=owner, domain=domain)
    _control(sandbox, "docushareflex/documents", title="Invoice 9.pdf")  # the demo site's
    url = f"{sandbox.url}/{domain}/api/v1/objects"
    headers = bearer(docushare_tokens(sandbox, domain))

    def titles(**params: str) -> list[str]:
        response = httpx.get(
            url, params={"type": "Document", **params}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        return [d["title"] for d in response.json()["items"]]

    assert titles() == ["Invoice 1.pdf", "Invoice 2.pdf", "Notes.pdf"]
    assert titles(titleLike="invoice%") == ["Invoice 1.pdf", "Invoice 2.pdf"]
    assert titles(title="Notes.pdf", owner="ann") == ["Notes.pdf"]
