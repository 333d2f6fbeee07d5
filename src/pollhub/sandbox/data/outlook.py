"""The sandbox user's Outlook calendar events, as Microsoft Graph shows them.

Docs: https://learn.microsoft.com/graph/api/resources/event
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pollhub.clock import clock
from pollhub.sandbox.data import JSON, InvalidFields, UnknownObject, text_field
from pollhub.sandbox.data.accounts import MicrosoftUser
from pollhub.sandbox.ids import guid, opaque, outlook_id
from pollhub.sandbox.timefmt import parse_datetime, ticks_local, ticks_z


@dataclass
class OutlookEvent:
    """One calendar event."""

    id: str
    subject: str
    body: str
    start: JSON
    end: JSON
    location: str
    created: datetime
    modified: datetime
    change_key: str
    ical_uid: str

    @property
    def etag(self) -> str:
        """The weak ETag Graph derives from the change key."""
        return f'W/"{self.change_key}"'


def _date_time_zone(value: Any, default: datetime) -> JSON:
    """A ``dateTimeTimeZone`` from the control API's ISO string or object."""
    if value is None:
        return {"dateTime": ticks_local(default), "timeZone": "UTC"}
    if isinstance(value, Mapping) and isinstance(value.get("dateTime"), str):
        return {"dateTime": value["dateTime"], "timeZone": str(value.get("timeZone", "UTC"))}
    if isinstance(value, str) and (moment := parse_datetime(value)) is not None:
        return {"dateTime": ticks_local(moment), "timeZone": "UTC"}
    raise InvalidFields("start and end must be ISO date-times or {dateTime, timeZone}")


class OutlookStore:
    """Events of the sandbox user; also the control API's ``microsoftgraph/events``."""

    def __init__(self, user: MicrosoftUser) -> None:
        self.user = user
        self.events: dict[str, OutlookEvent] = {}

    def event_json(self, event: OutlookEvent) -> JSON:
        """The event resource, with the fields Graph returns by default."""
        organizer = {"emailAddress": {"name": self.user.display_name, "address": self.user.mail}}
        return {
            "@odata.etag": event.etag,
            "id": event.id,
            "createdDateTime": ticks_z(event.created),
            "lastModifiedDateTime": ticks_z(event.modified),
            "changeKey": event.change_key,
            "categories": [],
            "transactionId": None,
            "originalStartTimeZone": "UTC",
            "originalEndTimeZone": "UTC",
            "iCalUId": event.ical_uid,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": True,
            "hasAttachments": False,
            "subject": event.subject,
            "bodyPreview": event.body[:255],
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": False,
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": True,
            "seriesMasterId": None,
            "showAs": "busy",
            "type": "singleInstance",
            "webLink": f"https://outlook.live.com/owa/?itemid={event.id}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": True,
            "isDraft": False,
            "hideAttendees": False,
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "body": {"contentType": "text", "content": event.body},
            "start": event.start,
            "end": event.end,
            "location": {
                "displayName": event.location,
                "locationType": "default",
                "uniqueIdType": "unknown",
                "address": {},
                "coordinates": {},
            },
            "locations": [],
            "recurrence": None,
            "attendees": [],
            "organizer": organizer,
        }

    def ordered(self) -> list[OutlookEvent]:
        """Events in creation order (how the sandbox pages ``/me/events``)."""
        return sorted(self.events.values(), key=lambda e: e.created)

    # The control API's collection -------------------------------------------------

    def list_objects(self) -> list[JSON]:
        """Every event."""
        return [self.event_json(e) for e in self.ordered()]

    def create(self, fields: Mapping[str, Any]) -> JSON:
        """A new event (``subject``, ``body``, ``start``, ``end``, ``location``)."""
        now = clock.now()
        default_start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        event = OutlookEvent(
            id=outlook_id(),
            subject=text_field(fields, "subject", "Sandbox meeting"),
            body=text_field(fields, "body", ""),
            start=_date_time_zone(fields.get("start"), default_start),
            end=_date_time_zone(fields.get("end"), default_start + timedelta(hours=1)),
            location=text_field(fields, "location", ""),
            created=now,
            modified=now,
            change_key=opaque(18),
            ical_uid="040000008200E00074C5B7101A82E008" + guid().replace("-", "").upper(),
        )
        self.events[event.id] = event
        return self.event_json(event)

    def update(self, object_id: str, fields: Mapping[str, Any]) -> JSON:
        """Change an event; its change key and modified time move on."""
        event = self._existing(object_id)
        event.subject = text_field(fields, "subject", event.subject)
        event.body = text_field(fields, "body", event.body)
        event.location = text_field(fields, "location", event.location)
        if "start" in fields:
            event.start = _date_time_zone(fields["start"], clock.now())
        if "end" in fields:
            event.end = _date_time_zone(fields["end"], clock.now())
        event.modified = clock.now()
        event.change_key = opaque(18)
        return self.event_json(event)

    def delete(self, object_id: str) -> JSON:
        """Remove an event (Graph then answers 404 for it)."""
        event = self._existing(object_id)
        del self.events[object_id]
        return {"id": event.id, "deleted": True}

    def _existing(self, event_id: str) -> OutlookEvent:
        event = self.events.get(event_id)
        if event is None:
            raise UnknownObject(event_id)
        return event
