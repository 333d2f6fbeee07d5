"""Dropbox: OAuth 2.0 and the files API v2's folder listing, as Dropbox serves them.

- ``GET /www.dropbox.com/oauth2/authorize`` → 302 to ``redirect_uri?code=…&state=…``; a
  refresh token only with ``token_access_type=offline``;
- ``POST /api.dropboxapi.com/oauth2/token`` (form; authorization_code, refresh_token —
  a refresh answers without a new refresh token) → ``{"access_token": "sl.…",
  "token_type": "bearer", "expires_in", "refresh_token"?, "scope", "uid", "account_id"}``;
- ``POST /api.dropboxapi.com/2/files/list_folder`` ``{"path", "recursive", "limit", …}``
  (``path`` a path or a folder's ``id:…``),
  ``…/list_folder/continue`` ``{"cursor"}`` and ``…/list_folder/get_latest_cursor`` →
  ``{"entries": [FileMetadata | FolderMetadata | DeletedMetadata], "cursor", "has_more"}``;
- ``POST /api.dropboxapi.com/2/files/get_metadata`` ``{"path"}`` → one entry's metadata.

Errors as Dropbox sends them: a malformed call is a 400 in plain text; route errors are
409 ``{"error_summary", "error": {".tag": …}}`` (``path/not_found``, ``reset`` for a
cursor from before a reset); auth errors 401 and throttling 429 in the same JSON shape.
Docs: https://www.dropbox.com/developers/documentation/http/documentation
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from pollhub.sandbox.api.oauth import grant, read_token_request, redirect_with_code
from pollhub.sandbox.data.dropbox import ACCOUNT_ID, Cursor, DropboxStore, StaleCursor
from pollhub.sandbox.deps import access_token_check, fault_gate, get_state
from pollhub.sandbox.errors import ProviderError, dropbox_error, oauth_error
from pollhub.sandbox.simulators import Simulator
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.tokens import RefreshPolicy

API_HOST = "api.dropboxapi.com"
WEB_HOST = "www.dropbox.com"
DEFAULT_LIMIT = 500
MAX_LIMIT = 2000

router = APIRouter(dependencies=[Depends(fault_gate("dropbox"))])
_token = access_token_check("dropbox")


class BadInput(ProviderError):
    """Dropbox's 400: a plain-text explanation of what is wrong with the call."""

    def __init__(self, route: str, message: str) -> None:
        super().__init__(400, {})
        self.text = f'Error in call to API function "{route}": {message}'

    def response(self) -> Response:
        """The plain-text 400 Dropbox answers."""
        return PlainTextResponse(self.text, status_code=400)


@router.get(f"/{WEB_HOST}/oauth2/authorize")
async def authorize(request: Request, state: SandboxState = Depends(get_state)) -> RedirectResponse:
    """Consent granted at once; ``token_access_type=offline`` for a refresh token."""
    params = request.query_params
    offline = params.get("token_access_type") == "offline"
    return redirect_with_code(state, "dropbox", params, oauth_error, offline=offline)


@router.post(f"/{API_HOST}/oauth2/token")
async def token(request: Request, state: SandboxState = Depends(get_state)) -> JSONResponse:
    """The token endpoint; refresh tokens are long-lived and not replaced on refresh."""
    params = await read_token_request(request)
    tokens = grant(state, "dropbox", params, RefreshPolicy.KEEP, oauth_error)
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "token_type": "bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope or "files.metadata.read",
        "uid": "12345678",
        "account_id": ACCOUNT_ID,
    }
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    return JSONResponse(body)


@router.post(f"/{API_HOST}/2/files/list_folder", dependencies=[Depends(_token)])
async def list_folder(request: Request, state: SandboxState = Depends(get_state)) -> JSONResponse:
    """The first page of a folder's listing (``recursive``: everything below it)."""
    route = "files/list_folder"
    args = await _arguments(request, route)
    store = state.data.dropbox
    path = store.folder_path(_path(args, route))
    if not store.exists(path):
        raise dropbox_error(409, "path", {"path": {".tag": "not_found"}})
    recursive = _flag(args, "recursive", route)
    cursor = Cursor(path, recursive, _flag(args, "include_deleted", route), len(store.log), 0)
    return _listing_page(store, cursor, _limit(args, route))


@router.post(f"/{API_HOST}/2/files/list_folder/continue", dependencies=[Depends(_token)])
async def list_folder_continue(
    request: Request, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """The next page of a listing, or what changed since the cursor."""
    route = "files/list_folder/continue"
    args = await _arguments(request, route)
    store = state.data.dropbox
    cursor = _cursor(store, args, route)
    if cursor.offset is not None:
        return _listing_page(store, cursor, DEFAULT_LIMIT)
    changes = store.changes(cursor)
    page = changes[:DEFAULT_LIMIT]
    entries = [c.entry.as_json() if c.entry is not None else _deleted(c.path_display) for c in page]
    seq = page[-1].seq if len(changes) > len(page) else len(store.log)
    after = Cursor(cursor.path, cursor.recursive, cursor.include_deleted, seq, None)
    has_more = len(changes) > len(page)
    return _answer({"entries": entries, "cursor": store.encode(after), "has_more": has_more})


@router.post(f"/{API_HOST}/2/files/list_folder/get_latest_cursor", dependencies=[Depends(_token)])
async def get_latest_cursor(
    request: Request, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """A cursor at the present: ``continue`` with it returns only later changes."""
    route = "files/list_folder/get_latest_cursor"
    args = await _arguments(request, route)
    store = state.data.dropbox
    path = store.folder_path(_path(args, route))
    if not store.exists(path):
        raise dropbox_error(409, "path", {"path": {".tag": "not_found"}})
    recursive = _flag(args, "recursive", route)
    cursor = Cursor(path, recursive, _flag(args, "include_deleted", route), len(store.log), None)
    return _answer({"cursor": store.encode(cursor)})


@router.post(f"/{API_HOST}/2/files/get_metadata", dependencies=[Depends(_token)])
async def get_metadata(request: Request, state: SandboxState = Depends(get_state)) -> JSONResponse:
    """One file's or folder's metadata, by path or ``id:…`` (the root has none)."""
    route = "files/get_metadata"
    path = _path(await _arguments(request, route), route)
    if path == "":
        raise BadInput(route, "request body: path: the root folder is unsupported")
    entry = state.data.dropbox.metadata(path)
    if entry is None:
        raise dropbox_error(409, "path", {"path": {".tag": "not_found"}})
    return _answer(entry.as_json())


def _listing_page(store: DropboxStore, cursor: Cursor, limit: int) -> JSONResponse:
    assert cursor.offset is not None
    listed = store.listing(cursor.path, cursor.recursive)
    page = listed[cursor.offset : cursor.offset + limit]
    more = cursor.offset + limit < len(listed)
    offset = cursor.offset + limit if more else None
    after = Cursor(cursor.path, cursor.recursive, cursor.include_deleted, cursor.seq, offset)
    return _answer(
        {"entries": [e.as_json() for e in page], "cursor": store.encode(after), "has_more": more}
    )


def _deleted(path_display: str) -> dict[str, Any]:
    return {
        ".tag": "deleted",
        "name": path_display.rsplit("/", 1)[-1],
        "path_lower": path_display.lower(),
        "path_display": path_display,
    }


def _answer(body: dict[str, Any]) -> JSONResponse:
    # The official SDK insists on exactly "application/json".
    return JSONResponse(body, media_type="application/json")


async def _arguments(request: Request, route: str) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/json":
        raise BadInput(
            route,
            f'Bad HTTP "Content-Type" header: "{content_type}". Expecting "application/json".',
        )
    try:
        args = json.loads(await request.body() or b"null")
    except ValueError:
        raise BadInput(route, "request body: could not decode input as JSON") from None
    if not isinstance(args, dict):
        raise BadInput(route, "request body: expected object")
    return args


def _path(args: dict[str, Any], route: str) -> str:
    path = args.get("path")
    if not isinstance(path, str):
        raise BadInput(route, "request body: missing required field 'path'")
    if path.startswith("id:") and len(path) > 3:
        return path  # a file or folder named by its id
    if path not in ("", "/") and (not path.startswith("/") or path.endswith("/")):
        raise BadInput(route, f"request body: path: '{path}' did not match pattern")
    return "" if path == "/" else path


def _flag(args: dict[str, Any], name: str, route: str) -> bool:
    value = args.get(name, False)
    if not isinstance(value, bool):
        raise BadInput(route, f"request body: {name}: expected boolean")
    return value


def _limit(args: dict[str, Any], route: str) -> int:
    value = args.get("limit", DEFAULT_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise BadInput(route, f"request body: limit: must be between 1 and {MAX_LIMIT}")
    return value


def _cursor(store: DropboxStore, args: dict[str, Any], route: str) -> Cursor:
    token = args.get("cursor")
    if not isinstance(token, str) or not token:
        raise BadInput(route, "request body: missing required field 'cursor'")
    try:
        return store.decode(token)
    except StaleCursor:
        raise dropbox_error(409, "reset") from None
    except ValueError:
        raise BadInput(route, "request body: cursor: invalid cursor") from None


SIMULATORS = (Simulator("dropbox", (API_HOST, WEB_HOST), (router,), elements=("dropbox",)),)
