"""Google Suite (``googlesuite``): Calendar events, People contact groups, Gmail messages.

The default resources are the ones Cloud Elements documented for this element (seed
``002``). Provider docs: https://developers.google.com/calendar/api/guides/sync,
https://developers.google.com/people/api/rest/v1/contactGroups/list,
https://developers.google.com/gmail/api/guides/sync
"""

from typing import Any

from pollhub.elements.http import ProviderApi, ProviderError, ProviderGone, ProviderNotFound
from pollhub.elements.reading import (
    ChangeKind,
    ChangeReader,
    CursorExpired,
    ProviderChange,
    ReadRequest,
    ReadResult,
)
from pollhub.elements.urls import provider_url

CALENDAR = "https://www.googleapis.com/calendar/v3"
PEOPLE = "https://people.googleapis.com/v1"
GMAIL = "https://gmail.googleapis.com/gmail/v1"


async def _pages(
    api: ProviderApi, url: str, params: dict[str, Any], items_key: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every item of a paged Google list, and the last page (which holds nextSyncToken)."""
    items: list[dict[str, Any]] = []
    while True:
        page = await api.get_json(url, params)
        items.extend(page.get(items_key, []))
        token = page.get("nextPageToken")
        if not token:
            return items, page
        params = {**params, "pageToken": token}


def _is_expired_sync_token(exc: ProviderError) -> bool:
    # Calendar answers 410; People answers 400 FAILED_PRECONDITION "Sync token is expired".
    return isinstance(exc, ProviderGone) or (exc.status == 400 and "sync token" in str(exc).lower())


# ---------------------------------------------------------------- Calendar
# https://developers.google.com/calendar/api/guides/sync


async def read_calendar_changes(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Changed events of one calendar, or — for ``{calendarId}`` — of every calendar in
    the user's calendar list but those another resource polls by name; a sync token each."""
    calendar_id = request.values.get("calendarId", "primary")
    if calendar_id != "{calendarId}":
        return await _read_calendars(api, request, [calendar_id], fanned_out=False)
    calendars, _ = await _pages(api, provider_url(f"{CALENDAR}/users/me/calendarList"), {}, "items")
    # "primary" names the calendar whose entry says primary: true.
    skipped = [
        c["id"]
        for c in calendars
        if c["id"] in request.skip or ("primary" in request.skip and c.get("primary"))
    ]
    ids = [c["id"] for c in calendars if c["id"] not in skipped]
    return await _read_calendars(api, request, ids, fanned_out=True)


async def _read_calendars(
    api: ProviderApi, request: ReadRequest, calendar_ids: list[str], *, fanned_out: bool
) -> ReadResult:
    known = dict((request.cursor or {}).get("syncTokens", {}))
    first_read = request.cursor is None
    changes: list[ProviderChange] = []
    tokens: dict[str, str] = {}
    for calendar_id in calendar_ids:
        events, token = await _read_calendar(api, calendar_id, known.get(calendar_id))
        # A calendar that has just appeared is a baseline of its own: its existing events
        # are remembered, not reported.
        silent = not first_read and calendar_id not in known
        object_type = request.name.replace("{calendarId}", calendar_id) if fanned_out else None
        for event in events:
            kind: ChangeKind | None = "deleted" if event.get("status") == "cancelled" else None
            changes.append(ProviderChange(event["id"], event, kind, silent, object_type))
        tokens[calendar_id] = token
    # Calendars no longer listed are dropped; their events stay as last reported.
    return ReadResult(changes, {"syncTokens": tokens}, complete=False)


async def _read_calendar(
    api: ProviderApi, calendar_id: str, sync_token: str | None
) -> tuple[list[dict[str, Any]], str]:
    url = provider_url(f"{CALENDAR}/calendars/{calendar_id}/events")
    params: dict[str, Any] = {"maxResults": "250", "showDeleted": "true"}
    if sync_token:
        params["syncToken"] = sync_token
    try:
        events, last = await _pages(api, url, params, "items")
    except ProviderError as exc:
        if not (sync_token and _is_expired_sync_token(exc)):
            raise
        # Full resync of this calendar; cancelled events still show the deletes, and the
        # poller's fingerprints keep unchanged events from being reported again.
        events, last = await _pages(api, url, {"maxResults": "250", "showDeleted": "true"}, "items")
    token = last.get("nextSyncToken")
    if not isinstance(token, str):
        raise ProviderError(f"calendar {calendar_id} listing ended without nextSyncToken")
    return events, token


# ---------------------------------------------------------------- People
# https://developers.google.com/people/api/rest/v1/contactGroups/list


async def read_contact_groups(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Created, renamed or deleted contact groups, by sync token."""
    sync_token = (request.cursor or {}).get("syncToken")
    url = provider_url(f"{PEOPLE}/contactGroups")
    params = {"pageSize": "1000", "groupFields": "name,metadata,groupType,memberCount"}
    try:
        groups, last = await _pages(
            api,
            url,
            {**params, **({"syncToken": sync_token} if sync_token else {})},
            "contactGroups",
        )
    except ProviderError as exc:
        if not (sync_token and _is_expired_sync_token(exc)):
            raise
        raise CursorExpired(str(exc)) from exc
    token = last.get("nextSyncToken")
    if not isinstance(token, str):
        raise ProviderError("contactGroups listing ended without nextSyncToken")
    changes = []
    for group in groups:
        # Cloud Elements' hub objects carry an "id": the resource name's last segment.
        raw = {"id": group["resourceName"].rsplit("/", 1)[-1], **group}
        kind: ChangeKind | None = "deleted" if group.get("metadata", {}).get("deleted") else None
        changes.append(ProviderChange(raw["id"], raw, kind))
    return ReadResult(changes, {"syncToken": token}, complete=not sync_token)


# ---------------------------------------------------------------- Gmail
# https://developers.google.com/gmail/api/guides/sync


_HISTORY_KINDS: tuple[tuple[ChangeKind, str], ...] = (
    ("created", "messagesAdded"),
    ("updated", "labelsAdded"),
    ("updated", "labelsRemoved"),
    ("deleted", "messagesDeleted"),
)


async def read_mailbox_history(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Messages added, deleted or relabelled since the stored history id."""
    history_id = (request.cursor or {}).get("historyId")
    if history_id is None:
        profile = await api.get_json(provider_url(f"{GMAIL}/users/me/profile"))
        return ReadResult([], {"historyId": str(profile["historyId"])})
    params = {
        "startHistoryId": history_id,
        "historyTypes": ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"],
    }
    try:
        records, last = await _pages(
            api, provider_url(f"{GMAIL}/users/me/history"), params, "history"
        )
    except ProviderNotFound as exc:
        raise CursorExpired(f"history id {history_id} is too old: {exc}") from exc
    changes = []
    for record in records:
        for kind, key in _HISTORY_KINDS:
            for entry in record.get(key, []):
                message = entry["message"]
                raw = await _message(api, message) if kind != "deleted" else message
                changes.append(ProviderChange(message["id"], raw, kind))
    return ReadResult(changes, {"historyId": str(last.get("historyId", history_id))})


async def _message(api: ProviderApi, stub: dict[str, Any]) -> dict[str, Any]:
    url = provider_url(f"{GMAIL}/users/me/messages/{stub['id']}")
    try:
        return await api.get_json(url, {"format": "metadata"})
    except ProviderNotFound:
        return stub  # deleted since; its messagesDeleted record follows


# The change feeds this element's definition file names (definitions/*.json).
CHANGE_FEEDS: dict[str, ChangeReader] = {
    "calendarSync": read_calendar_changes,
    "peopleSync": read_contact_groups,
    "gmailHistory": read_mailbox_history,
}
