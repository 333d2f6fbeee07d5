"""Google Suite (``googlesuite``): Calendar events, People contact groups, Gmail messages.

The default resources are the ones Cloud Elements documented for this element (seed
``002``). Provider docs: https://developers.google.com/calendar/api/guides/sync,
https://developers.google.com/people/api/rest/v1/contactGroups/list,
https://developers.google.com/gmail/api/guides/sync
"""

from typing import Any

from pollhub.elements.base import Element, PollableResource
from pollhub.elements.http import ProviderApi, ProviderError, ProviderGone, ProviderNotFound
from pollhub.elements.reading import (
    ChangeKind,
    CursorExpired,
    ProviderChange,
    ReadRequest,
    ReadResult,
)
from pollhub.elements.urls import provider_url

CALENDAR = "https://www.googleapis.com/calendar/v3"
PEOPLE = "https://people.googleapis.com/v1"
GMAIL = "https://gmail.googleapis.com/gmail/v1"

_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
_CALENDAR_DATES = {
    "updatedDateField": "updated",
    "updatedDateFormat": _FORMAT,
    "updatedDateTimezone": "GMT",
    "createdDateField": "created",
    "createdDateFormat": _FORMAT,
    "createdDateTimezone": "GMT",
}
# People reports only an update time, so Cloud Elements used it for both dates.
_GROUP_DATES = {
    "updatedDateField": "metadata.updateTime",
    "updatedDateFormat": _FORMAT,
    "updatedDateTimezone": "GMT",
    "createdDateField": "metadata.updateTime",
    "createdDateFormat": _FORMAT,
    "createdDateTimezone": "GMT",
}


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


async def read_all_calendars(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Changed events of every calendar in the user's calendar list, one sync token each."""
    calendars, _ = await _pages(api, provider_url(f"{CALENDAR}/users/me/calendarList"), {}, "items")
    return await _read_calendars(api, request, [c["id"] for c in calendars])


async def read_primary_calendar(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Changed events of the primary calendar."""
    return await _read_calendars(api, request, ["primary"])


async def _read_calendars(
    api: ProviderApi, request: ReadRequest, calendar_ids: list[str]
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
        for event in events:
            kind: ChangeKind | None = "deleted" if event.get("status") == "cancelled" else None
            changes.append(ProviderChange(event["id"], event, kind, silent=silent))
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


ELEMENT = Element(
    key="googlesuite",
    id=5601,  # Cloud Elements' element id (reference sections 6.1-6.3)
    name="Google Suite",
    hub="general",
    event_mechanism="polling",
    description="Google Calendar events, contact groups and Gmail messages of one account.",
    authorization_url="https://accounts.google.com/o/oauth2/v2/auth",
    token_url="https://oauth2.googleapis.com/token",
    default_scope=" ".join(
        [
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/contacts.readonly",
            "https://www.googleapis.com/auth/gmail.readonly",
        ]
    ),
    # Without these Google issues no refresh token (or none on a second consent).
    authorization_params={"access_type": "offline", "prompt": "consent"},
    resources=(
        PollableResource(
            name="calendars/{calendarId}/changed-events",
            url="/hubs/general/calendars/{calendarId}/changed-events",
            reader=read_all_calendars,
            dates=_CALENDAR_DATES,
            description="Changed events of every calendar in the user's calendar list.",
        ),
        PollableResource(
            name="calendars/primary/changed-events",
            url="/hubs/general/calendars/primary/changed-events",
            reader=read_primary_calendar,
            dates=_CALENDAR_DATES,
            description="Changed events of the primary calendar.",
        ),
        PollableResource(
            name="changed-groups",
            url="/hubs/general/changed-groups",
            reader=read_contact_groups,
            id_field="id",
            dates=_GROUP_DATES,
            description="Created, renamed or deleted contact groups.",
        ),
        PollableResource(
            name="changed-messages",
            url="/hubs/general/changed-messages",
            reader=read_mailbox_history,
            id_field="id",
            description="Messages added to or deleted from the mailbox (Gmail history).",
        ),
    ),
)
