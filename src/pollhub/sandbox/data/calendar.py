"""Google Calendar: the sandbox user's calendars and their events.

Every change takes the next number of one sequence; sync tokens carry the number they
were issued at, so "changed since the token" is "sequence above it". Deleting an event
keeps it with ``"status": "cancelled"``, which Google returns with ``showDeleted=true``,
with ``updatedMin`` and in sync-token mode.
Docs: https://developers.google.com/calendar/api/guides/sync
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pollhub.clock import clock
from pollhub.sandbox.data import JSON, InvalidFields, UnknownObject, text_field
from pollhub.sandbox.data.accounts import GoogleUser
from pollhub.sandbox.ids import google_event_id, hex_id
from pollhub.sandbox.timefmt import millis_z, parse_datetime, seconds_z

STATUSES = ("confirmed", "tentative", "cancelled")


@dataclass
class CalendarEntry:
    """A calendar in the user's calendar list."""

    id: str
    summary: str
    primary: bool
    seq: int
    time_zone: str = "UTC"


@dataclass
class CalendarEvent:
    """One event of one calendar."""

    id: str
    calendar_id: str
    summary: str
    description: str
    location: str
    start: JSON
    end: JSON
    status: str
    created: datetime
    updated: datetime
    seq: int
    sequence: int = 0

    @property
    def etag(self) -> str:
        """Google's event ETag: a quoted number that changes with every update."""
        return f'"{int(self.updated.timestamp() * 1000)}{self.seq % 1000:03d}"'


def _event_time(value: Any, default: datetime) -> JSON:
    """An event ``start``/``end`` from an ISO string, a date, or Google's own object."""
    if value is None:
        return {"dateTime": seconds_z(default), "timeZone": "UTC"}
    if isinstance(value, Mapping) and ("dateTime" in value or "date" in value):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str) and len(value) == 10 and parse_datetime(value) is not None:
        return {"date": value}
    if isinstance(value, str) and (moment := parse_datetime(value)) is not None:
        return {"dateTime": seconds_z(moment), "timeZone": "UTC"}
    raise InvalidFields("start and end must be ISO date-times, dates or {dateTime, timeZone}")


class CalendarStore:
    """Calendars and events; also the control API's ``googlesuite/calendar-events``."""

    def __init__(self, user: GoogleUser) -> None:
        self.user = user
        self.epoch = hex_id(8)
        self._seq = 0
        primary = CalendarEntry(user.email, user.email, True, self._next())
        self.calendars: dict[str, CalendarEntry] = {primary.id: primary}
        self.events: dict[str, CalendarEvent] = {}

    @property
    def current_seq(self) -> int:
        """The sequence number of the latest change."""
        return self._seq

    def calendar(self, calendar_id: str) -> CalendarEntry | None:
        """A calendar by id; ``primary`` names the user's primary calendar."""
        return self.calendars.get(self.user.email if calendar_id == "primary" else calendar_id)

    def changed_events(
        self,
        calendar_id: str,
        *,
        since: int,
        upto: int,
        include_cancelled: bool,
        updated_min: datetime | None,
    ) -> list[CalendarEvent]:
        """Events of a calendar changed in ``(since, upto]``, in change order."""
        found = [
            event
            for event in self.events.values()
            if event.calendar_id == calendar_id
            and since < event.seq <= upto
            and (include_cancelled or event.status != "cancelled")
            and (updated_min is None or event.updated >= updated_min)
        ]
        return sorted(found, key=lambda event: event.seq)

    def calendar_entry_json(self, entry: CalendarEntry) -> JSON:
        """A ``calendar#calendarListEntry``."""
        data: JSON = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{entry.seq:016d}"',
            "id": entry.id,
            "summary": entry.summary,
            "timeZone": entry.time_zone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 30}],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if entry.primary:
            data["primary"] = True
        return data

    def events_envelope(self, entry: CalendarEntry) -> JSON:
        """The fields of a ``calendar#events`` page other than items and tokens."""
        latest = max(
            (e.updated for e in self.events.values() if e.calendar_id == entry.id),
            default=clock.now(),
        )
        return {
            "kind": "calendar#events",
            "etag": f'"p{self._seq:016d}"',
            "summary": entry.summary,
            "description": "",
            "updated": millis_z(latest),
            "timeZone": entry.time_zone,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 30}],
        }

    def event_json(self, event: CalendarEvent) -> JSON:
        """A ``calendar#event``."""
        person = {"email": self.user.email, "self": True}
        data: JSON = {
            "kind": "calendar#event",
            "etag": event.etag,
            "id": event.id,
            "status": event.status,
            "htmlLink": f"https://www.google.com/calendar/event?eid={event.id}",
            "created": millis_z(event.created),
            "updated": millis_z(event.updated),
            "summary": event.summary,
            "creator": person,
            "organizer": person,
            "start": event.start,
            "end": event.end,
            "iCalUID": f"{event.id}@google.com",
            "sequence": event.sequence,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        if event.description:
            data["description"] = event.description
        if event.location:
            data["location"] = event.location
        return data

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every event of every calendar, cancelled ones included."""
        return [
            {**self.event_json(e), "calendarId": e.calendar_id}
            for e in sorted(self.events.values(), key=lambda e: e.seq)
        ]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A new event; ``calendarId`` (default ``primary``) names a calendar, and a new
        name adds a secondary calendar to the user's list."""
        calendar = self._calendar_for_create(text_field(fields, "calendarId", "primary"))
        now = clock.now()
        start_default = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        start = _event_time(fields.get("start"), start_default)
        event = CalendarEvent(
            id=google_event_id(),
            calendar_id=calendar.id,
            summary=text_field(fields, "summary", "Sandbox event"),
            description=text_field(fields, "description", ""),
            location=text_field(fields, "location", ""),
            start=start,
            end=_event_time(fields.get("end"), start_default + timedelta(hours=1)),
            status=self._status(fields, "confirmed"),
            created=now,
            updated=now,
            seq=self._next(),
        )
        self.events[event.id] = event
        return {**self.event_json(event), "calendarId": calendar.id}

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Change an event's summary, description, location, times or status."""
        event = self._existing(object_id)
        event.summary = text_field(fields, "summary", event.summary)
        event.description = text_field(fields, "description", event.description)
        event.location = text_field(fields, "location", event.location)
        if "start" in fields:
            event.start = _event_time(fields["start"], clock.now())
        if "end" in fields:
            event.end = _event_time(fields["end"], clock.now())
        event.status = self._status(fields, event.status)
        self._touch(event)
        return {**self.event_json(event), "calendarId": event.calendar_id}

    def delete(self, object_id: str) -> JSON:
        """Cancel an event, which is how Google shows a deleted one."""
        event = self._existing(object_id)
        event.status = "cancelled"
        self._touch(event)
        return {**self.event_json(event), "calendarId": event.calendar_id}

    # helpers ---------------------------------------------------------------------

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _touch(self, event: CalendarEvent) -> None:
        event.updated = clock.now()
        event.sequence += 1
        event.seq = self._next()

    def _existing(self, event_id: str) -> CalendarEvent:
        event = self.events.get(event_id)
        if event is None or event.status == "cancelled":
            raise UnknownObject(event_id)
        return event

    def _calendar_for_create(self, calendar_id: str) -> CalendarEntry:
        found = self.calendar(calendar_id)
        if found is None:
            found = CalendarEntry(calendar_id, calendar_id, False, self._next())
            self.calendars[calendar_id] = found
        return found

    @staticmethod
    def _status(fields: Mapping[str, Any], default: str) -> str:
        status = text_field(fields, "status", default)
        if status not in STATUSES:
            raise InvalidFields(f"status must be one of {list(STATUSES)}")
        return status
