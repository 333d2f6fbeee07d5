"""Gmail API v1: profile, history, messages.

Docs: https://developers.google.com/gmail/api/reference/rest/v1/users.history/list and
https://developers.google.com/gmail/api/guides/sync
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from pollhub.sandbox.data.gmail import FORMATS, HISTORY_TYPES, matches_query, visible
from pollhub.sandbox.deps import (
    access_token_check,
    bool_query,
    fault_gate,
    get_state,
    int_query,
)
from pollhub.sandbox.errors import GMAIL_HOST, ProviderError, google_error
from pollhub.sandbox.ids import decode_cursor, encode_cursor
from pollhub.sandbox.simulators import Simulator
from pollhub.sandbox.state import SandboxState


async def _mailbox_owner(user_id: str, state: SandboxState = Depends(get_state)) -> None:
    # Only the authorised user's own mailbox ("me" or its address) can be read.
    email = state.data.google_user.email
    if user_id not in ("me", email):
        raise google_error(
            403,
            f"Delegation denied for {email}",
            reason="forbidden",
            status_text="PERMISSION_DENIED",
        )


router = APIRouter(
    prefix=f"/{GMAIL_HOST}/gmail/v1/users/{{user_id}}",
    dependencies=[
        Depends(fault_gate("google")),
        Depends(access_token_check("google")),
        Depends(_mailbox_owner),
    ],
)


def _invalid(message: str) -> ProviderError:
    return google_error(400, message, reason="invalidArgument", status_text="INVALID_ARGUMENT")


def _not_found() -> ProviderError:
    return google_error(
        404, "Requested entity was not found.", reason="notFound", status_text="NOT_FOUND"
    )


@router.get("/profile")
async def profile(state: SandboxState = Depends(get_state)) -> dict[str, Any]:
    """The mailbox's address, counts and current ``historyId``."""
    return state.data.gmail.profile_json()


@router.get("/history")
async def list_history(
    request: Request, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """History records after ``startHistoryId`` (404 when that is no longer kept)."""
    store = state.data.gmail
    params = request.query_params
    try:
        start = int(params.get("startHistoryId", ""))
    except ValueError:
        raise _invalid("Invalid startHistoryId") from None
    types = params.getlist("historyTypes") or list(HISTORY_TYPES)
    if unknown := [t for t in types if t not in HISTORY_TYPES]:
        raise _invalid(f"Invalid value at 'history_types' ({unknown[0]})")
    max_results = int_query(request, "maxResults", 100, minimum=1, maximum=500, error=_invalid)
    records = store.history_after(start)
    if records is None:
        raise _not_found()
    upto, after = store.history_id, start
    if page_token := params.get("pageToken"):
        page = decode_cursor("gmail-history", store.epoch, page_token)
        if page is None:
            raise _invalid("Invalid pageToken")
        upto, after = page["u"], page["a"]
    wanted = set(types)
    matching = [r for r in records if after < r.id <= upto and r.types() & wanted]
    body: dict[str, Any] = {}
    if matching[:max_results]:
        # Gmail leaves the list out when there is no history.
        body["history"] = [r.as_json(wanted) for r in matching[:max_results]]
    if len(matching) > max_results:
        cursor = {"u": upto, "a": matching[max_results - 1].id}
        body["nextPageToken"] = encode_cursor("gmail-history", store.epoch, cursor)
    body["historyId"] = str(store.history_id)
    return body


@router.get("/messages")
async def list_messages(
    request: Request, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """Message ids, newest first, filtered by ``labelIds`` and the search query ``q``."""
    store = state.data.gmail
    params = request.query_params
    max_results = int_query(request, "maxResults", 100, minimum=1, maximum=500, error=_invalid)
    labels = params.getlist("labelIds")
    include_spam_trash = bool_query(request, "includeSpamTrash", "google")
    offset = 0
    if page_token := params.get("pageToken"):
        page = decode_cursor("gmail-messages", store.epoch, page_token)
        if page is None:
            raise _invalid("Invalid pageToken")
        offset = page["o"]
    query = params.get("q", "")
    found = [
        m
        for m in store.newest_first()
        if visible(m, labels, include_spam_trash) and matches_query(m, query)
    ]
    chunk = found[offset : offset + max_results]
    body: dict[str, Any] = {}
    if chunk:
        body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in chunk]
    if offset + max_results < len(found):
        cursor = {"o": offset + max_results}
        body["nextPageToken"] = encode_cursor("gmail-messages", store.epoch, cursor)
    body["resultSizeEstimate"] = len(found)
    return body


@router.get("/messages/{message_id}")
async def get_message(
    request: Request, message_id: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """One message in the requested ``format`` (``full`` by default)."""
    fmt = request.query_params.get("format", "full")
    if fmt not in FORMATS:
        raise _invalid(f"Invalid value at 'format' ({fmt})")
    message = state.data.gmail.messages.get(message_id)
    if message is None:
        raise _not_found()
    headers = request.query_params.getlist("metadataHeaders")
    return state.data.gmail.message_json(message, fmt, headers)


SIMULATORS = (Simulator("google", (GMAIL_HOST,), (router,), elements=("googlesuite",)),)
