"""Google Calendar API v3: the calendar list and events, with sync tokens.

Docs: https://developers.google.com/calendar/api/v3/reference/events/list and
https://developers.google.com/calendar/api/guides/sync
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from pollhub.sandbox.data.calendar import CalendarEntry
from pollhub.sandbox.deps import access_token_check, bool_query, fault_gate, get_state, int_query
from pollhub.sandbox.errors import CALENDAR_HOST, ProviderError, bad_request, google_error
from pollhub.sandbox.ids import decode_cursor, encode_cursor
from pollhub.sandbox.simulators import Simulator
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.timefmt import parse_datetime

router = APIRouter(
    prefix=f"/{CALENDAR_HOST}/calendar/v3",
    dependencies=[Depends(fault_gate("google")), Depends(access_token_check("google"))],
)

# Parameters that Google refuses together with syncToken.
_NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


def _bad(message: str) -> ProviderError:
    return bad_request("google", message)


def _calendar_not_found() -> ProviderError:
    return google_error(404, "Not Found", reason="notFound", status_text="NOT_FOUND")


def _full_sync_required() -> ProviderError:
    return google_error(
        410,
        "Sync token is no longer valid, a full sync is required.",
        reason="fullSyncRequired",
        status_text=None,
    )


@router.get("/users/me/calendarList")
async def calendar_list(
    request: Request, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """The user's calendars (``syncToken`` lists only calendars added since)."""
    store = state.data.calendar
    since = 0
    if sync_token := request.query_params.get("syncToken"):
        cursor = decode_cursor("calendar-list", store.epoch, sync_token)
        if cursor is None:
            raise _full_sync_required()
        since = cursor["s"]
    entries = [e for e in store.calendars.values() if e.seq > since]
    return {
        "kind": "calendar#calendarList",
        "etag": f'"p{store.current_seq:016d}"',
        "nextSyncToken": encode_cursor("calendar-list", store.epoch, {"s": store.current_seq}),
        "items": [store.calendar_entry_json(e) for e in entries],
    }


@router.get("/users/me/calendarList/{calendar_id}")
async def calendar_list_entry(
    calendar_id: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """One calendar of the user's list."""
    return state.data.calendar.calendar_entry_json(_calendar(state, calendar_id))


@router.get("/calendars/{calendar_id}")
async def calendar_metadata(
    calendar_id: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """A calendar's metadata."""
    entry = _calendar(state, calendar_id)
    return {
        "kind": "calendar#calendar",
        "etag": f'"{entry.seq:016d}"',
        "id": entry.id,
        "summary": entry.summary,
        "timeZone": entry.time_zone,
    }


@router.get("/calendars/{calendar_id}/events")
async def list_events(
    request: Request, calendar_id: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """Events of a calendar: a full list, ``updatedMin``-filtered, or changes since a
    ``syncToken``; paged by ``pageToken``; the last page carries ``nextSyncToken``."""
    store = state.data.calendar
    entry = _calendar(state, calendar_id)
    params = request.query_params
    sync_token, page_token = params.get("syncToken"), params.get("pageToken")
    if sync_token and (clash := [p for p in _NOT_WITH_SYNC_TOKEN if p in params]):
        raise _bad(f"Sync token cannot be used together with {', '.join(clash)}.")
    updated_min = None
    if raw := params.get("updatedMin"):
        updated_min = parse_datetime(raw)
        if updated_min is None:
            raise _bad(f"Invalid value '{raw}' for updatedMin.")
    max_results = int_query(request, "maxResults", 250, minimum=1, maximum=2500, error=_bad)
    since, upto, after, sync_mode = 0, store.current_seq, 0, bool(sync_token)
    if page_token:
        page = decode_cursor("calendar-page", store.epoch, page_token)
        if page is None:
            raise _bad("Invalid page token.")
        since, upto, after, sync_mode = page["s"], page["u"], page["a"], bool(page["m"])
    elif sync_token:
        cursor = decode_cursor("calendar-sync", store.epoch, sync_token)
        if cursor is None:
            raise _full_sync_required()
        since = cursor["s"]
    # Deleted (cancelled) events: with showDeleted, in sync mode, and always with updatedMin.
    include_cancelled = (
        sync_mode or updated_min is not None or bool_query(request, "showDeleted", "google")
    )
    events = store.changed_events(
        entry.id,
        since=max(since, after),
        upto=upto,
        include_cancelled=include_cancelled,
        updated_min=updated_min,
    )
    body = store.events_envelope(entry)
    page_events = events[:max_results]
    if len(events) > max_results:
        cursor = {"s": since, "u": upto, "a": page_events[-1].seq, "m": int(sync_mode)}
        body["nextPageToken"] = encode_cursor("calendar-page", store.epoch, cursor)
    else:
        body["nextSyncToken"] = encode_cursor("calendar-sync", store.epoch, {"s": upto})
    body["items"] = [store.event_json(e) for e in page_events]
    return body


@router.get("/calendars/{calendar_id}/events/{event_id}")
async def get_event(
    calendar_id: str, event_id: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """One event (a deleted one comes back with ``"status": "cancelled"``)."""
    entry = _calendar(state, calendar_id)
    event = state.data.calendar.events.get(event_id)
    if event is None or event.calendar_id != entry.id:
        raise _calendar_not_found()
    return state.data.calendar.event_json(event)


def _calendar(state: SandboxState, calendar_id: str) -> CalendarEntry:
    entry = state.data.calendar.calendar(calendar_id)
    if entry is None:
        raise _calendar_not_found()
    return entry


SIMULATORS = (Simulator("google", (CALENDAR_HOST,), (router,), elements=("googlesuite",)),)
