"""Google Suite (``googlesuite``): Calendar events, People contact groups, Gmail messages.

The default resources are the ones Cloud Elements documented for this element (seed
``002``). Provider docs: https://developers.google.com/calendar/api/guides/sync,
https://developers.google.com/people/api/rest/v1/contactGroups/list,
https://developers.google.com/gmail/api/guides/sync
"""

from typing import Any

from pollhub.elements.base import Element, PollableResource, RateLimits
from pollhub.elements.http import ProviderApi, ProviderError, ProviderGone, ProviderNotFound
from pollhub.elements.reading import (
    ChangeKind,
    CursorExpired,
    ProviderChange,
    ReadRequest,
    ReadResult,
)
from pollhub.elements.resources import (
    FilterTarget,
    PageSize,
    Pagination,
    Parent,
    ResourceDefinition,
)
from pollhub.elements.urls import provider_url
from pollhub.elements.where import Operator

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


# People connections carry their update time per source; the first is the contact's own.
_CONTACT_DATES = {
    "updatedDateField": "metadata.sources.0.updateTime",
    "updatedDateFormat": _FORMAT,
    "updatedDateTimezone": "GMT",
    "createdDateField": "metadata.sources.0.updateTime",
    "createdDateFormat": _FORMAT,
    "createdDateTimezone": "GMT",
}


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


_CURSOR = {"pagination": Pagination(type="cursor", field="nextPageToken", param="pageToken")}
_UPDATED_MIN: dict[Operator, str | FilterTarget] = {">": "updatedMin", ">=": "updatedMin"}
_CALENDARS = Parent(
    placeholder="calendarId", resource="calendars", field="id", aliases={"primary": "primary"}
)
_EVENTS = {
    "base": CALENDAR,
    "path": "/calendars/{calendarId}/events",
    "object": "/calendars/{calendarId}/events/{id}",
    "list": "items",
    "query": {"showDeleted": "true"},
    "pageSize": PageSize(param="maxResults", maximum=2500),
    "filters": {"updated": _UPDATED_MIN},
    "datesConfiguration": _CALENDAR_DATES,
    "deletedWhen": "status = 'cancelled'",
    "parent": _CALENDARS,
    **_CURSOR,
}
_GROUPS = {
    "base": PEOPLE,
    "path": "/contactGroups",
    "object": "/contactGroups/{id}",
    "list": "contactGroups",
    "query": {"groupFields": "name,metadata,groupType,memberCount"},
    "pageSize": PageSize(param="pageSize", maximum=1000),
    "idField": "resourceName",
    "datesConfiguration": _GROUP_DATES,
    "deletedWhen": "metadata.deleted = true",
    **_CURSOR,
}
_MESSAGES = {
    "base": GMAIL,
    "path": "/users/me/messages",
    "object": "/users/me/messages/{id}",
    "list": "messages",
    "pageSize": PageSize(param="maxResults", maximum=500),
    **_CURSOR,
}

HUB_RESOURCES = {
    "calendars": ResourceDefinition(
        base=CALENDAR,
        path="/users/me/calendarList",
        object="/users/me/calendarList/{id}",
        list="items",
        pageSize=PageSize(param="maxResults", maximum=250),
        description="The calendars in the user's calendar list.",
        **_CURSOR,
    ),
    "calendars/{calendarId}/events": ResourceDefinition(
        description="Events of one calendar ({calendarId}: an id or primary; the literal "
        "{calendarId} polls every calendar). where updated > … is sent as updatedMin.",
        **_EVENTS,
    ),
    "calendars/{calendarId}/changed-events": ResourceDefinition(
        changeFeed="calendarSync",
        description="Changed events of one calendar, or of every calendar, by sync token.",
        **_EVENTS,
    ),
    "contacts": ResourceDefinition(
        base=PEOPLE,
        path="/people/me/connections",
        object="",
        list="connections",
        query={"personFields": "names,emailAddresses,phoneNumbers,metadata"},
        pageSize=PageSize(param="pageSize", maximum=1000),
        idField="resourceName",
        datesConfiguration=_CONTACT_DATES,
        description="The user's contacts (People connections).",
        **_CURSOR,
    ),
    "groups": ResourceDefinition(description="The user's contact groups.", **_GROUPS),
    "changed-groups": ResourceDefinition(
        changeFeed="peopleSync",
        description="Created, renamed or deleted contact groups, by sync token.",
        **_GROUPS,
    ),
    "messages": ResourceDefinition(
        description="Messages of the mailbox (id and threadId; fetch one for the rest).",
        **_MESSAGES,
    ),
    "changed-messages": ResourceDefinition(
        changeFeed="gmailHistory",
        description="Messages added to, relabelled in or deleted from the mailbox (history).",
        **_MESSAGES,
    ),
}

ELEMENT = Element(
    key="googlesuite",
    id=5601,  # Cloud Elements' element id (reference sections 6.1-6.3)
    name="Google Suite",
    hub="general",
    event_mechanism="polling",
    description="Google Calendar events, contacts, contact groups and Gmail messages.",
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
    hub_resources=HUB_RESOURCES,
    change_feeds={
        "calendarSync": read_calendar_changes,
        "peopleSync": read_contact_groups,
        "gmailHistory": read_mailbox_history,
    },
    resources=(
        PollableResource(
            name="calendars/{calendarId}/changed-events",
            url="/hubs/general/calendars/{calendarId}/changed-events",
            dates=_CALENDAR_DATES,
            description="Changed events of every calendar in the user's calendar list.",
        ),
        PollableResource(
            name="calendars/primary/changed-events",
            url="/hubs/general/calendars/primary/changed-events",
            dates=_CALENDAR_DATES,
            description="Changed events of the primary calendar.",
        ),
        PollableResource(
            name="changed-groups",
            url="/hubs/general/changed-groups",
            id_field="id",
            dates=_GROUP_DATES,
            description="Created, renamed or deleted contact groups.",
        ),
        PollableResource(
            name="changed-messages",
            url="/hubs/general/changed-messages",
            id_field="id",
            description="Messages added to or deleted from the mailbox (Gmail history).",
        ),
    ),
    # Google Calendar, the strictest of the APIs polled: 10,000 queries per minute per
    # project, 600 per minute per user (developers.google.com/calendar/api/guides/quota).
    rate_limits=RateLimits(app="10000/60", user="600/60"),
)
