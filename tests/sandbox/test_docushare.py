"""DocuShare Flex sites: the objects API's paging, modifiedAfter, deletes, separate sites."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from pollhub.clock import clock
from pollhub.sandbox.timefmt import seconds_z
from tests.sandbox.conftest import Sandbox, bearer, docushare_tokens

SITE = "acme.docushareflex.com"
DATE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
# The shape fixed in pollhub.elements.docushareflex.
DOCUMENT_FIELDS = {"handle", "title", "create_date", "modified_date", "owner"}


def _document(sandbox: Sandbox, **fields: Any) -> dict[str, Any]:
    response = sandbox.control("POST", "docushareflex/documents", {"domain": SITE, **fields})
    assert response.status_code == 201
    created: dict[str, Any] = response.json()
    return created


def _objects(sandbox: Sandbox, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{sandbox.url}/{SITE}/api/v1/objects",
        params={"type": "Document", **params},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_documents_are_listed_with_the_fixed_shape(sandbox: Sandbox) -> None:
    created = _document(sandbox, title="Q3 report.pdf", owner="alice")

    page = _objects(sandbox, bearer(docushare_tokens(sandbox, SITE)))

    assert page["next"] is None
    [item] = page["items"]
    assert set(item) == DOCUMENT_FIELDS
    assert item["handle"] == created["id"]
    assert re.match(r"^Document-\d+$", item["handle"])
    assert (item["title"], item["owner"]) == ("Q3 report.pdf", "alice")
    assert re.match(DATE, item["create_date"]) and re.match(DATE, item["modified_date"])


def test_pages_link_to_the_next_page_by_absolute_url(sandbox: Sandbox) -> None:
    headers = bearer(docushare_tokens(sandbox, SITE))
    for n in range(5):
        _document(sandbox, title=f"doc {n}")

    first = _objects(sandbox, headers, pageSize=2)
    handles = [i["handle"] for i in first["items"]]
    url = first["next"]
    while url:
        page = httpx.get(url, headers=headers, timeout=30).json()
        handles.extend(i["handle"] for i in page["items"])
        url = page["next"]

    assert first["next"].startswith(f"{sandbox.url}/{SITE}/api/v1/objects?")
    assert "page=2" in first["next"]
    assert len(handles) == len(set(handles)) == 5


def test_default_page_size_is_fifty(sandbox: Sandbox) -> None:
    for n in range(51):
        _document(sandbox, title=f"bulk {n}")

    page = _objects(sandbox, bearer(docushare_tokens(sandbox, SITE)))

    assert len(page["items"]) == 50
    assert page["next"] is not None


def test_modified_after_returns_changes_and_deletions_since(sandbox: Sandbox) -> None:
    headers = bearer(docushare_tokens(sandbox, SITE))
    untouched = _document(sandbox, title="untouched")
    edited = _document(sandbox, title="draft")
    removed = _document(sandbox, title="obsolete")
    clock.advance(timedelta(seconds=5))
    since = seconds_z(clock.now())
    clock.advance(timedelta(seconds=5))
    sandbox.control("PATCH", f"docushareflex/documents/{edited['id']}", {"title": "final"})
    deleted = sandbox.control("DELETE", f"docushareflex/documents/{removed['id']}").json()

    page = _objects(sandbox, headers, modifiedAfter=since)
    everything = _objects(sandbox, headers)

    by_handle = {i["handle"]: i for i in page["items"]}
    assert set(by_handle) == {edited["id"], removed["id"]}
    assert by_handle[edited["id"]]["title"] == "final"
    assert by_handle[removed["id"]]["deleted"] is True
    assert by_handle[removed["id"]]["modified_date"] == deleted["modified_date"] > since
    assert "deleted" not in by_handle[edited["id"]]
    assert {i["handle"] for i in everything["items"]} == {untouched["id"], edited["id"]}


def test_single_object_and_404_once_deleted(sandbox: Sandbox) -> None:
    headers = bearer(docushare_tokens(sandbox, SITE))
    doc = _document(sandbox, title="contract.docx")
    url = f"{sandbox.url}/{SITE}/api/v1/objects/{doc['id']}"

    found = httpx.get(url, headers=headers, timeout=30)
    sandbox.control("DELETE", f"docushareflex/documents/{doc['id']}")
    gone = httpx.get(url, headers=headers, timeout=30)

    assert found.json()["title"] == "contract.docx"
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"


def test_each_site_keeps_its_own_documents_and_tokens(sandbox: Sandbox) -> None:
    _document(sandbox, title="acme only")
    sandbox.control("POST", "docushareflex/documents", {"title": "demo doc"})
    demo_headers = bearer(docushare_tokens(sandbox))

    demo = httpx.get(
        f"{sandbox.url}/demo.docushareflex.com/api/v1/objects", headers=demo_headers, timeout=30
    ).json()
    cross = httpx.get(f"{sandbox.url}/{SITE}/api/v1/objects", headers=demo_headers, timeout=30)

    assert [i["title"] for i in demo["items"]] == ["demo doc"]
    assert cross.status_code == 401


def test_bad_modified_after_is_a_400(sandbox: Sandbox) -> None:
    response = httpx.get(
        f"{sandbox.url}/{SITE}/api/v1/objects",
        params={"modifiedAfter": "yesterday"},
        headers=bearer(docushare_tokens(sandbox, SITE)),
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
