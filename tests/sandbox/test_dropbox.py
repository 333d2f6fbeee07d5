"""The Dropbox simulator, checked with Dropbox's own Python SDK pointed at the sandbox."""

from __future__ import annotations

from typing import Any

import dropbox
import httpx
import pytest
import requests
from dropbox import files
from requests.adapters import HTTPAdapter

from tests.sandbox.conftest import CLIENT, Sandbox

DROPBOX_HOSTS = ("api.dropboxapi.com", "www.dropbox.com")


class _ToSandbox(HTTPAdapter):
    """Sends the SDK's ``https://api.dropboxapi.com/...`` calls to the sandbox's copy."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = request.url.replace("https://", f"{self.sandbox_url}/", 1)
        return super().send(request, **kwargs)


def dropbox_tokens(sandbox: Sandbox) -> dict[str, Any]:
    """Tokens for a code from the sandbox's own authorize page."""
    code = _authorization_code(sandbox)
    form = {**CLIENT, "grant_type": "authorization_code", "code": code}
    form["redirect_uri"] = "http://localhost/callback"
    response = httpx.post(f"{sandbox.url}/api.dropboxapi.com/oauth2/token", data=form, timeout=30)
    assert response.status_code == 200
    tokens: dict[str, Any] = response.json()
    return tokens


def sdk_client(sandbox: Sandbox) -> dropbox.Dropbox:
    """The official client, holding only a refresh token (so it refreshes first)."""
    tokens = dropbox_tokens(sandbox)
    session = requests.Session()
    for host in DROPBOX_HOSTS:
        session.mount(f"https://{host}/", _ToSandbox(sandbox.url))
    return dropbox.Dropbox(
        oauth2_refresh_token=tokens["refresh_token"],
        app_key=CLIENT["client_id"],
        app_secret=CLIENT["client_secret"],
        session=session,
    )


def _authorization_code(sandbox: Sandbox) -> str:
    response = httpx.get(
        f"{sandbox.url}/www.dropbox.com/oauth2/authorize",
        params={
            "client_id": CLIENT["client_id"],
            "response_type": "code",
            "redirect_uri": "http://localhost/callback",
            "token_access_type": "offline",
            "state": "s1",
        },
        timeout=30,
    )
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert location.params["state"] == "s1"
    return location.params["code"]


def create(sandbox: Sandbox, **fields: Any) -> dict[str, Any]:
    response = sandbox.control("POST", "dropbox/files", fields)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_the_sdk_lists_a_folder_page_by_page_with_typed_metadata(sandbox: Sandbox) -> None:
    for n in range(3):
        create(sandbox, path=f"/Reports/q{n}.pdf", size=100 + n)
    dbx = sdk_client(sandbox)

    first = dbx.files_list_folder("", recursive=True, limit=2)
    second = dbx.files_list_folder_continue(first.cursor)

    assert first.has_more and not second.has_more
    entries = first.entries + second.entries
    assert [type(e) for e in entries] == [files.FolderMetadata] + [files.FileMetadata] * 3
    report = entries[1]
    assert isinstance(report, files.FileMetadata)
    assert (report.path_display, report.size) == ("/Reports/q0.pdf", 100)
    assert report.id.startswith("id:") and len(report.rev) >= 9


def test_the_sdk_lists_one_folder_named_by_its_id(sandbox: Sandbox) -> None:
    create(sandbox, path="/Reports/2026/q1.pdf")
    create(sandbox, path="/Reports/summary.pdf")
    create(sandbox, path="/elsewhere.txt")
    listed_now = sandbox.control("GET", "dropbox/files").json()["items"]
    folders = {e["path_display"]: e for e in listed_now}
    dbx = sdk_client(sandbox)

    listed = dbx.files_list_folder(folders["/Reports"]["id"])

    assert sorted(e.path_display for e in listed.entries) == [
        "/Reports/2026",
        "/Reports/summary.pdf",
    ]
    with pytest.raises(dropbox.exceptions.ApiError) as raised:
        dbx.files_list_folder("id:NoSuchFolder000000000")
    assert raised.value.error.is_path() and raised.value.error.get_path().is_not_found()


def test_the_sdk_reads_one_entry_by_id_or_path(sandbox: Sandbox) -> None:
    created = create(sandbox, path="/Reports/q1.pdf", size=12)
    dbx = sdk_client(sandbox)

    by_id = dbx.files_get_metadata(created["id"])
    by_path = dbx.files_get_metadata("/reports/Q1.PDF")

    assert isinstance(by_id, files.FileMetadata) and by_id.size == 12
    assert by_path.path_display == by_id.path_display == "/Reports/q1.pdf"
    assert isinstance(dbx.files_get_metadata("/Reports"), files.FolderMetadata)
    with pytest.raises(dropbox.exceptions.ApiError) as raised:
        dbx.files_get_metadata("/nowhere.txt")
    assert raised.value.error.is_path() and raised.value.error.get_path().is_not_found()


def test_continue_reports_changes_and_deletions_since_the_cursor(sandbox: Sandbox) -> None:
    kept = create(sandbox, path="/kept.txt")
    doomed = create(sandbox, path="/doomed.txt")
    dbx = sdk_client(sandbox)
    cursor = dbx.files_list_folder_get_latest_cursor("", recursive=True).cursor
    sandbox.control("PATCH", f"dropbox/files/{kept['id']}", {"size": 7})
    sandbox.control("DELETE", f"dropbox/files/{doomed['id']}")
    create(sandbox, path="/new.txt")

    changes = dbx.files_list_folder_continue(cursor)

    by_path = {e.path_lower: e for e in changes.entries}
    assert set(by_path) == {"/kept.txt", "/doomed.txt", "/new.txt"}
    assert isinstance(by_path["/doomed.txt"], files.DeletedMetadata)
    updated = by_path["/kept.txt"]
    assert isinstance(updated, files.FileMetadata) and updated.size == 7
    assert updated.rev != kept["rev"]
    assert dbx.files_list_folder_continue(changes.cursor).entries == []


def test_a_cursor_from_before_a_reset_is_a_reset_route_error(sandbox: Sandbox) -> None:
    dbx = sdk_client(sandbox)
    cursor = dbx.files_list_folder_get_latest_cursor("").cursor
    sandbox.control("POST", "sync-tokens/invalidate", {"elementKey": "dropbox"})

    with pytest.raises(dropbox.exceptions.ApiError) as raised:
        dbx.files_list_folder_continue(cursor)

    assert raised.value.error.is_reset()


def test_a_missing_folder_is_a_path_not_found_route_error(sandbox: Sandbox) -> None:
    dbx = sdk_client(sandbox)

    with pytest.raises(dropbox.exceptions.ApiError) as raised:
        dbx.files_list_folder("/nowhere")

    assert raised.value.error.is_path() and raised.value.error.get_path().is_not_found()


def test_an_unknown_access_token_is_refused_as_dropbox_does(sandbox: Sandbox) -> None:
    response = httpx.post(
        f"{sandbox.url}/api.dropboxapi.com/2/files/list_folder",
        json={"path": ""},
        headers={"Authorization": "Bearer sl.not-a-token"},
        timeout=30,
    )

    assert response.status_code == 401
    assert response.json()["error"][".tag"] == "invalid_access_token"


def test_a_malformed_call_is_a_plain_text_400(sandbox: Sandbox) -> None:
    token = dropbox_tokens(sandbox)["access_token"]

    response = httpx.post(
        f"{sandbox.url}/api.dropboxapi.com/2/files/list_folder",
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith('Error in call to API function "files/list_folder"')
