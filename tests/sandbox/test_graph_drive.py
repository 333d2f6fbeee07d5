"""Microsoft Graph drive delta (OneDrive): full enumeration, paging, deltaLinks, deletes,
stale tokens — over plain HTTP and through the Microsoft Graph SDK."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.drives.item.items.item.delta.delta_request_builder import (
    DeltaRequestBuilder,
)

from tests.sandbox.conftest import Sandbox, bearer, microsoft_tokens
from tests.sandbox.graph_client import graph_client

# providers.md: driveItem fields.
DRIVE_ITEM_FIELDS = {
    "id",
    "name",
    "createdDateTime",
    "lastModifiedDateTime",
    "eTag",
    "cTag",
    "size",
    "parentReference",
}
DATE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def _graph(sandbox: Sandbox) -> str:
    return f"{sandbox.url}/graph.microsoft.com/v1.0"


def _create_file(sandbox: Sandbox, **fields: Any) -> dict[str, Any]:
    response = sandbox.control("POST", "onedrivev2/files", fields)
    assert response.status_code == 201
    created: dict[str, Any] = response.json()
    return created


def _read_all(url: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], str, int]:
    """Follow nextLinks to the deltaLink: (items, deltaLink, pages)."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = httpx.get(url, headers=headers, timeout=30).json()
        pages += 1
        items.extend(page["value"])
        if "@odata.deltaLink" in page:
            return items, page["@odata.deltaLink"], pages
        url = page["@odata.nextLink"]


@pytest.fixture
def headers(sandbox: Sandbox) -> dict[str, str]:
    return bearer(microsoft_tokens(sandbox))


def test_first_delta_enumerates_root_and_files_with_documented_fields(
    sandbox: Sandbox, headers: dict[str, str]
) -> None:
    report = _create_file(sandbox, name="report.docx", size=1234, mimeType="application/msword")

    page = httpx.get(f"{_graph(sandbox)}/me/drive/root/delta", headers=headers, timeout=30).json()

    by_name = {item["name"]: item for item in page["value"]}
    assert set(by_name) == {"root", "report.docx"}
    item = by_name["report.docx"]
    assert set(item) >= DRIVE_ITEM_FIELDS
    assert item["id"] == report["id"]
    assert item["size"] == 1234
    assert item["file"] == {"mimeType": "application/msword"}
    assert item["parentReference"]["id"] == by_name["root"]["id"]
    assert item["createdDateTime"] == item["lastModifiedDateTime"]
    assert re.match(DATE, item["createdDateTime"])
    assert by_name["root"]["root"] == {}
    assert by_name["root"]["folder"] == {"childCount": 1}
    assert page["@odata.deltaLink"].startswith(f"{_graph(sandbox)}/me/drive/root/delta(token='")
    assert "@odata.nextLink" not in page


def test_delta_pages_follow_next_links_to_a_delta_link(
    sandbox: Sandbox, headers: dict[str, str]
) -> None:
    for n in range(5):
        _create_file(sandbox, name=f"f{n}.txt")

    items, delta_link, pages = _read_all(f"{_graph(sandbox)}/me/drive/root/delta?$top=2", headers)

    assert pages == 3
    assert sorted(i["name"] for i in items) == [
        "f0.txt",
        "f1.txt",
        "f2.txt",
        "f3.txt",
        "f4.txt",
        "root",
    ]
    assert delta_link.startswith(_graph(sandbox))


def test_delta_link_returns_changes_and_deletes_since(
    sandbox: Sandbox, headers: dict[str, str]
) -> None:
    kept = _create_file(sandbox, name="kept.txt")
    changed = _create_file(sandbox, name="draft.txt")
    doomed = _create_file(sandbox, name="old.txt")
    _, delta_link, _ = _read_all(f"{_graph(sandbox)}/me/drive/root/delta", headers)
    sandbox.control("PATCH", f"onedrivev2/files/{changed['id']}", {"name": "final.txt"})
    sandbox.control("DELETE", f"onedrivev2/files/{doomed['id']}")
    created = _create_file(sandbox, name="new.txt")

    items, _, _ = _read_all(delta_link, headers)

    by_id = {item["id"]: item for item in items}
    assert kept["id"] not in by_id
    assert by_id[changed["id"]]["name"] == "final.txt"
    assert by_id[changed["id"]]["lastModifiedDateTime"] >= changed["lastModifiedDateTime"]
    assert by_id[doomed["id"]]["deleted"] == {"state": "deleted"}
    assert by_id[created["id"]]["name"] == "new.txt"
    # As in OneDrive, the folder above the changes shows up too.
    assert any("root" in item for item in items)


def test_token_query_parameter_form_is_accepted(sandbox: Sandbox, headers: dict[str, str]) -> None:
    _, delta_link, _ = _read_all(f"{_graph(sandbox)}/me/drive/root/delta", headers)
    token = delta_link.split("token='")[1].rstrip("')")
    _create_file(sandbox, name="later.txt")

    page = httpx.get(
        f"{_graph(sandbox)}/me/drive/root/delta",
        params={"token": token},
        headers=headers,
        timeout=30,
    ).json()

    assert "later.txt" in [item["name"] for item in page["value"]]


def test_token_latest_returns_no_items_and_a_baseline(
    sandbox: Sandbox, headers: dict[str, str]
) -> None:
    _create_file(sandbox, name="before.txt")

    baseline = httpx.get(
        f"{_graph(sandbox)}/me/drive/root/delta?token=latest", headers=headers, timeout=30
    ).json()
    _create_file(sandbox, name="after.txt")
    items, _, _ = _read_all(baseline["@odata.deltaLink"], headers)

    assert baseline["value"] == []
    names = [item["name"] for item in items]
    assert "after.txt" in names
    assert "before.txt" not in names


@pytest.mark.parametrize("token", ["garbage", "stale"])
def test_stale_or_unknown_delta_token_is_410_resync_required(
    sandbox: Sandbox, headers: dict[str, str], token: str
) -> None:
    url = f"{_graph(sandbox)}/me/drive/root/delta(token='{token}')"
    if token == "stale":
        _, url, _ = _read_all(f"{_graph(sandbox)}/me/drive/root/delta", headers)
        sandbox.control("POST", "sync-tokens/invalidate", {"elementKey": "onedrivev2"})

    response = httpx.get(url, headers=headers, timeout=30)

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "resyncRequired"


def test_drive_item_get_and_404_after_delete(sandbox: Sandbox, headers: dict[str, str]) -> None:
    folder = _create_file(sandbox, name="Reports", folder=True)
    item = _create_file(sandbox, name="q3.xlsx", parentId=folder["id"])

    found = httpx.get(f"{_graph(sandbox)}/me/drive/items/{item['id']}", headers=headers, timeout=30)
    sandbox.control("DELETE", f"onedrivev2/files/{folder['id']}")
    gone = httpx.get(f"{_graph(sandbox)}/me/drive/items/{item['id']}", headers=headers, timeout=30)

    assert found.json()["parentReference"]["path"] == "/drive/root:/Reports"
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "itemNotFound"


async def test_graph_sdk_reads_the_delta_feed_and_follows_its_links(sandbox: Sandbox) -> None:
    token = microsoft_tokens(sandbox)["access_token"]
    client = graph_client(sandbox.url, token)
    for n in range(3):
        _create_file(sandbox, name=f"sdk{n}.txt")

    drive = await client.me.drive.get()
    assert drive is not None and drive.id
    delta = client.drives.by_drive_id(drive.id).items.by_drive_item_id("root").delta
    query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(top=2)
    page = await delta.get(RequestConfiguration(query_parameters=query))
    names: list[str | None] = []
    while page is not None and page.odata_next_link:
        names.extend(item.name for item in page.value or [])
        page = await delta.with_url(page.odata_next_link).get()
    assert page is not None and page.odata_delta_link
    names.extend(item.name for item in page.value or [])
    sandbox.control("POST", "onedrivev2/files", {"name": "after-sdk.txt"})
    changes = await delta.with_url(page.odata_delta_link).get()

    assert sorted(n for n in names if n) == ["root", "sdk0.txt", "sdk1.txt", "sdk2.txt"]
    assert changes is not None
    changed = {item.name: item for item in changes.value or []}
    assert "after-sdk.txt" in changed
    assert changed["after-sdk.txt"].last_modified_date_time is not None
