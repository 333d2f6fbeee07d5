"""The control API's contract, and the sandbox mounted under ``/sandbox`` in another app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from pollhub.clock import clock
from pollhub.sandbox import create_sandbox_app
from tests.sandbox.conftest import Sandbox, bearer, microsoft_tokens, serve, stop

COLLECTIONS = [
    ("onedrivev2", "files"),
    ("googlesuite", "calendar-events"),
    ("googlesuite", "contact-groups"),
    ("googlesuite", "messages"),
    ("docushareflex", "documents"),
    ("microsoftgraph", "events"),
]


@pytest.mark.parametrize(("element", "collection"), COLLECTIONS)
def test_every_collection_creates_updates_and_deletes(
    sandbox: Sandbox, element: str, collection: str
) -> None:
    created = sandbox.control("POST", f"{element}/{collection}", {})
    object_id = created.json()["id"]
    change = {"labelIds": ["INBOX", "STARRED"]} if collection == "messages" else {}

    updated = sandbox.control("PATCH", f"{element}/{collection}/{object_id}", change)
    listed = sandbox.control("GET", f"{element}/{collection}")
    deleted = sandbox.control("DELETE", f"{element}/{collection}/{object_id}")
    again = sandbox.control("DELETE", f"{element}/{collection}/{object_id}")

    assert created.status_code == 201
    assert updated.status_code == 200
    assert object_id in [item["id"] for item in listed.json()["items"]]
    assert deleted.status_code == 200
    assert again.status_code == 404


def test_unknown_element_collection_or_object_is_404_json(sandbox: Sandbox) -> None:
    unknown_element = sandbox.control("POST", "salesforce/accounts", {})
    unknown_collection = sandbox.control("POST", "googlesuite/tasks", {})
    unknown_object = sandbox.control("PATCH", "onedrivev2/files/nope", {"name": "x"})

    for response in (unknown_element, unknown_collection, unknown_object):
        assert response.status_code == 404
        assert "error" in response.json()


def test_invalid_fields_are_400(sandbox: Sandbox) -> None:
    response = sandbox.control("POST", "googlesuite/calendar-events", {"status": "maybe"})

    assert response.status_code == 400


def test_updates_move_the_modified_time_on(sandbox: Sandbox) -> None:
    created = sandbox.control("POST", "docushareflex/documents", {"title": "a"}).json()
    clock.advance(timedelta(minutes=1))

    updated = sandbox.control("PATCH", f"docushareflex/documents/{created['id']}", {"title": "b"})

    assert updated.json()["modified_date"] > created["modified_date"]


def test_reset_forgets_data_and_tokens(sandbox: Sandbox) -> None:
    headers = bearer(microsoft_tokens(sandbox))
    sandbox.control("POST", "onedrivev2/files", {"name": "x.txt"})

    sandbox.control("POST", "reset").raise_for_status()

    assert [i["name"] for i in sandbox.control("GET", "onedrivev2/files").json()["items"]] == [
        "root"
    ]
    drive = httpx.get(
        f"{sandbox.url}/graph.microsoft.com/v1.0/me/drive", headers=headers, timeout=30
    )
    assert drive.status_code == 401


@pytest.fixture(scope="module")
def mounted() -> Iterator[str]:
    """The sandbox mounted at /sandbox inside another app, as pollhub's factory does."""
    app = FastAPI()
    app.mount("/sandbox", create_sandbox_app())
    served = serve(app)
    yield served.base_url
    stop(served)


def test_links_point_at_the_mount_point(mounted: str) -> None:
    form = {"client_id": "c", "grant_type": "authorization_code", "code": "any"}
    token_url = f"{mounted}/sandbox/login.microsoftonline.com/common/oauth2/v2.0/token"
    tokens = httpx.post(token_url, data=form, timeout=30).json()

    page = httpx.get(
        f"{mounted}/sandbox/graph.microsoft.com/v1.0/me/drive/root/delta",
        headers=bearer(tokens),
        timeout=30,
    ).json()

    assert page["@odata.deltaLink"].startswith(
        f"{mounted}/sandbox/graph.microsoft.com/v1.0/me/drive/root/delta(token='"
    )
    follow = httpx.get(page["@odata.deltaLink"], headers=bearer(tokens), timeout=30)
    assert follow.status_code == 200


def test_malformed_query_parameters_get_provider_errors(sandbox: Sandbox) -> None:
    headers = bearer(microsoft_tokens(sandbox))

    response = httpx.get(
        f"{sandbox.url}/graph.microsoft.com/v1.0/me/drive/root/delta?$top=lots",
        headers=headers,
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
