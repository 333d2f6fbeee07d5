"""Google People API v1: contact groups (with sync tokens) and the user's connections.

Docs: https://developers.google.com/people/api/rest/v1/contactGroups/list,
https://developers.google.com/people/api/rest/v1/people.connections/list
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request

from pollhub.clock import clock
from pollhub.sandbox.data.people import (
    DEFAULT_GROUP_FIELDS,
    GROUP_FIELDS,
    PERSON_FIELDS,
    SYNC_TOKEN_LIFETIME,
)
from pollhub.sandbox.deps import access_token_check, fault_gate, get_state, int_query
from pollhub.sandbox.errors import PEOPLE_HOST, ProviderError, google_error
from pollhub.sandbox.ids import decode_cursor, encode_cursor
from pollhub.sandbox.simulators import Simulator
from pollhub.sandbox.state import SandboxState

router = APIRouter(
    prefix=f"/{PEOPLE_HOST}/v1",
    dependencies=[Depends(fault_gate("google")), Depends(access_token_check("google"))],
)
DEFAULT_PAGE_SIZE = 30


def _invalid_argument(message: str) -> ProviderError:
    return google_error(400, message, reason="badRequest", status_text="INVALID_ARGUMENT")


def _expired_sync_token() -> ProviderError:
    # People signals an expired sync token with 400 FAILED_PRECONDITION, not 410.
    return google_error(
        400,
        "Sync token is expired. Clear local cache and retry call without the sync token.",
        reason="failedPrecondition",
        status_text="FAILED_PRECONDITION",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "EXPIRED_SYNC_TOKEN",
                "domain": "people.googleapis.com",
            }
        ],
    )


def _group_fields(raw: str | None) -> frozenset[str]:
    if not raw:
        return DEFAULT_GROUP_FIELDS
    fields = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if unknown := sorted(fields - set(GROUP_FIELDS)):
        raise _invalid_argument(f'Invalid groupFields mask path: "{unknown[0]}".')
    return fields


@router.get("/contactGroups")
async def list_contact_groups(
    request: Request, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """Contact groups: all of them, or (``syncToken``) those changed since, deleted ones
    with ``metadata.deleted``; the last page carries ``nextSyncToken``."""
    store = state.data.people
    params = request.query_params
    fields = _group_fields(params.get("groupFields"))
    page_size = int_query(request, "pageSize", 0, minimum=0, maximum=1000, error=_invalid_argument)
    page_size = page_size or DEFAULT_PAGE_SIZE
    since, upto, after = 0, store.current_seq, 0
    now_seconds = int(clock.now().timestamp())
    if page_token := params.get("pageToken"):
        page = decode_cursor("people-page", store.epoch, page_token)
        if page is None:
            raise _invalid_argument("Page token is not valid.")
        since, upto, after = page["s"], page["u"], page["a"]
    elif sync_token := params.get("syncToken"):
        cursor = decode_cursor("people-sync", store.epoch, sync_token)
        lifetime = SYNC_TOKEN_LIFETIME // timedelta(seconds=1)
        if cursor is None or now_seconds - cursor["t"] > lifetime:
            raise _expired_sync_token()
        since = cursor["s"]
    groups = store.changed(since, upto)
    remaining = [g for g in groups if g.seq > after]
    body: dict[str, Any] = {}
    if remaining:
        body["contactGroups"] = [store.group_json(g, fields) for g in remaining[:page_size]]
    if groups:
        # proto3 JSON leaves zero out.
        body["totalItems"] = len(groups)
    if len(remaining) > page_size:
        cursor = {"s": since, "u": upto, "a": remaining[page_size - 1].seq}
        body["nextPageToken"] = encode_cursor("people-page", store.epoch, cursor)
    else:
        sync = {"s": upto, "t": now_seconds}
        body["nextSyncToken"] = encode_cursor("people-sync", store.epoch, sync)
    return body


@router.get("/contactGroups/{group_id}")
async def get_contact_group(
    request: Request, group_id: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """One contact group (``contactGroups/{id}``)."""
    group = state.data.people.groups.get(group_id)
    if group is None or group.deleted:
        raise google_error(
            404, "Requested entity was not found.", reason="notFound", status_text="NOT_FOUND"
        )
    return state.data.people.group_json(
        group, _group_fields(request.query_params.get("groupFields"))
    )


SIMULATORS = (Simulator("google", (PEOPLE_HOST,), (router,), elements=("googlesuite",)),)


@router.get("/people/me/connections")
async def list_connections(
    request: Request, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """The user's contacts, ``personFields`` required, paged by ``pageToken`` (100 a page
    unless ``pageSize`` says otherwise, at most 1000)."""
    store = state.data.contacts
    raw_fields = request.query_params.get("personFields")
    if not raw_fields:
        raise _invalid_argument(
            "personFields mask is required. Please specify one or more valid paths."
        )
    fields = frozenset(part.strip() for part in raw_fields.split(",") if part.strip())
    if unknown := sorted(fields - set(PERSON_FIELDS)):
        raise _invalid_argument(f'Invalid personFields mask path: "{unknown[0]}".')
    size = int_query(request, "pageSize", 100, minimum=1, maximum=1000, error=_invalid_argument)
    offset = 0
    if token := request.query_params.get("pageToken"):
        page = decode_cursor("connections", store.epoch, token)
        if page is None:
            raise _invalid_argument("Page token is not valid.")
        offset = page["o"]
    contacts = store.listed()
    body: dict[str, Any] = {}
    chunk = contacts[offset : offset + size]
    if chunk:
        body["connections"] = [store.person_json(c, fields) for c in chunk]
    if offset + size < len(contacts):
        body["nextPageToken"] = encode_cursor("connections", store.epoch, {"o": offset + size})
    if contacts:
        body["totalPeople"] = body["totalItems"] = len(contacts)
    return body
