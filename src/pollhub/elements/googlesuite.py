"""Google Suite (``googlesuite``): Calendar events, People contact groups, Gmail messages.

The default resources are the ones Cloud Elements documented for this element (seed
``002``). Provider docs: https://developers.google.com/calendar/api/guides/sync,
https://developers.google.com/people/api/rest/v1/contactGroups/list,
https://developers.google.com/gmail/api/guides/sync
"""

from pollhub.elements.base import Element, PollableResource

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

ELEMENT = Element(
    key="googlesuite",
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
)
