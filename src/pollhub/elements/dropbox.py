"""Dropbox (``dropbox``): the change feed of one account's files, from ``list_folder``.

The first read lists the whole account (``files/list_folder`` with ``recursive``, page
after page with ``files/list_folder/continue``): a baseline that enumerates everything.
Its last cursor is stored; the next read continues from it and gets only what changed —
files added or changed (with their metadata) and paths deleted (``{".tag": "deleted"}``
entries, which carry no id). So an object's id is its ``path_lower``: a rename shows as
the old path deleted and the new one created, as Dropbox itself reports it. A cursor from
before a reset (409 ``reset``) is expired: the poller starts over with a full listing.
Docs: https://www.dropbox.com/developers/documentation/http/documentation#files-list_folder
"""

from __future__ import annotations

from typing import Any

from pollhub.elements.http import ProviderApi, ProviderError
from pollhub.elements.reading import (
    ChangeKind,
    ChangeReader,
    CursorExpired,
    ProviderChange,
    ReadRequest,
    ReadResult,
)
from pollhub.elements.urls import provider_url

API = "https://api.dropboxapi.com/2"
MAX_LIMIT = 2000


async def read_folder_changes(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Every entry on the first read; afterwards what changed since the stored cursor."""
    cursor = (request.cursor or {}).get("cursor")
    if cursor is None:
        limit = min(request.page_size or MAX_LIMIT, MAX_LIMIT)
        arguments = {"path": "", "recursive": True, "include_deleted": False, "limit": limit}
        page = await _call(api, "files/list_folder", arguments)
    else:
        page = await _call(api, "files/list_folder/continue", {"cursor": cursor})
    entries: dict[str, ProviderChange] = {}
    while True:
        for entry in page.get("entries", []):
            kind: ChangeKind | None = "deleted" if entry.get(".tag") == "deleted" else None
            key = str(entry["path_lower"])
            entries.pop(key, None)  # a path's last entry is its state now
            entries[key] = ProviderChange(key, entry, kind)
        if not page.get("has_more"):
            break
        page = await _call(api, "files/list_folder/continue", {"cursor": page["cursor"]})
    return ReadResult(list(entries.values()), {"cursor": page["cursor"]}, complete=cursor is None)


async def _call(api: ProviderApi, route: str, arguments: dict[str, Any]) -> dict[str, Any]:
    try:
        body = await api.send("POST", provider_url(f"{API}/{route}"), json=arguments)
    except ProviderError as exc:
        if exc.status == 409 and "reset" in str(exc):
            raise CursorExpired(str(exc)) from exc
        raise
    if body is None or not isinstance(body.get("cursor"), str):
        raise ProviderError(f"Dropbox {route} answered without a cursor")
    return body


# The change feeds this element's definition file names (definitions/*.json).
CHANGE_FEEDS: dict[str, ChangeReader] = {"listFolder": read_folder_changes}
