"""The instance bodies of the five seed documents, copied verbatim (``../shared/seeds``).

The seeds' own ``<INSERT_…>`` placeholders are filled by :func:`filled` the way a user
would fill them; everything else (shapes, strings vs booleans, object vs string) is as
written.
"""

from __future__ import annotations

import json
from typing import Any

# seeds/000 and 001 (Microsoft OneDrive): "instance JSON with polling events enabled".
ONEDRIVE = json.loads("""
{
"element": {
"key": "onedrivev2"
},
"providerData": {
"code": "Code on Return the URL"
},
"configuration": {
"oauth.api.key": "<INSERT_ONEDRIVE_CLIENT_ID>",
"oauth.api.secret": "<INSERT_ONEDRIVE_CLIENT_SECRET>",
"oauth.callback.url": "https://www.yourcallbackurl.com/oauth2callback",
"event.notification.enabled": "true",
"event.notification.callback.url": "<INSERT_YOUR_APPS_CALLBACK_URL>"
},
"tags": [
"<INSERT_TAGS>"
],
"name": "<INSERT_INSTANCE_NAME>"
}
""")

# seeds/002 (Google Suite): the "Example cURL with Polling" body.
GOOGLESUITE = json.loads("""
{
"element": {
"key": "googlesuite"
},
"providerData":{
"code": "<AUTHORIZATION_GRANT_CODE>"
},
"configuration": {
"oauth.api.key": "xxxxxxxxxxxxxxxxxx",
"oauth.api.secret": "xxxxxxxxxxxxxxxxxxxxxxxx",
"oauth.callback.url":"https://auth.mycoolapp.com/oauth",
"event.notification.enabled": true,
"event.notification.callback.url": "https://api.cloud-elements.com/elements/api-v2/events/page.elementKey/",
"event.poller.refresh_interval": "15",
"event.poller.configuration":{
"calendars/{calendarId}/changed-events": {
"url": "/hubs/general/calendars/{calendarId}/changed-events",
"idField": "",
"datesConfiguration": {
"updatedDateField": "updated",
"updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
"updatedDateTimezone": "GMT",
"createdDateField": "created",
"createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
"createdDateTimezone": "GMT"
}
},
"calendars/primary/changed-events": {
"url": "/hubs/general/calendars/primary/changed-events",
"idField": "",
"datesConfiguration": {
"updatedDateField": "updated",
"updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
"updatedDateTimezone": "GMT",
"createdDateField": "created",
"createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
"createdDateTimezone": "GMT"
}
},
"changed-groups": {
"url": "/hubs/general/changed-groups",
"idField": "id",
"datesConfiguration": {
"updatedDateField": "metadata.updateTime",
"updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
"updatedDateTimezone": "GMT",
"createdDateField": "metadata.updateTime",
"createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
"createdDateTimezone": "GMT"
}
},
"changed-messages": {
"url": "/hubs/general/changed-messages",
"idField": "id"
}
}
},
"tags": [
"Docs"
],
"name": "API Instance with Polling"
}
""")

# seeds/002 (Google Suite): the one-line body of "Construct a JSON body".
GOOGLESUITE_TEMPLATE = json.loads("""
{ "element":{ "key":"googlesuite" }, "providerData":{ "code": "<AUTHORIZATION_GRANT_CODE>" }, "configuration":{ "oauth.api.key": "<Google app Client ID>", "oauth.api.secret": "<Google app Client secret>", "oauth.callback.url": "<Google app Authorized redirect URI>", "event.notification.enabled": true, "event.notification.callback.url": "http://mycoolapp.com", "event.poller.refresh_interval": "<minutes>", "event.poller.configuration":{ "calendars/{calendarId}/changed-events": { "url": "/hubs/general/calendars/{calendarId}/changed-events", "idField": "", "datesConfiguration": { "updatedDateField": "updated", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "updatedDateTimezone": "GMT", "createdDateField": "created", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "createdDateTimezone": "GMT" } }, "calendars/primary/changed-events": { "url": "/hubs/general/calendars/primary/changed-events", "idField": "", "datesConfiguration": { "updatedDateField": "updated", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "updatedDateTimezone": "GMT", "createdDateField": "created", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "createdDateTimezone": "GMT" } }, "changed-groups": { "url": "/hubs/general/changed-groups", "idField": "id", "datesConfiguration": { "updatedDateField": "metadata.updateTime", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "updatedDateTimezone": "GMT", "createdDateField": "metadata.updateTime", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "createdDateTimezone": "GMT" } }, "changed-messages": { "url": "/hubs/general/changed-messages", "idField": "id" } } }, "tags":[ "<Add_Your_Tag>" ], "name":"<INSTANCE_NAME>" }
""")

# seeds/003 (Microsoft Graph, webhooks): the body of "Construct a JSON body". (The seed's
# cURL example of the same body is missing a comma and is not valid JSON.)
MICROSOFTGRAPH = json.loads("""
{ "element": { "key": "microsoftgraph" }, "providerData": { "code": "<AUTHORIZATION_GRANT_CODE>" }, "configuration": { "oauth.callback.url": "<CALLBACK_URL>", "oauth.api.key": "<CONSUMER_KEY>", "oauth.api.secret": "<CONSUMER_SECRET>", "oauth.scope": "Calendars.Read Calendars.ReadWrite offline_access", "event.notification.enabled": true, "event.notification.callback.url": "<CALLBACK_URL>" }, "tags": [ "<Add_Your_Tag>" ], "name": "<INSTANCE_NAME>" }
""")

# seeds/004 (DocuShare Flex): the "Example cURL with Polling" body (its code is left empty
# in the seed; a real client sends the code it got).
DOCUSHAREFLEX = json.loads("""
{
"element":{
"key":"docushareflex"
},
"configuration": {
"oauth.api.secret": "xxxxxxxxxxxxxxxxxxxxxxxx",
"oauth.callback.url": "https://auth.cloudelements.io/oauth",
"oauth.api.key": "xxxxxxxxxxxxxxxxxx",
"event.vendor.type": "polling",
"event.poller.refresh_interval": "15",
"event.notification.enabled": true,
"docushare.domain": "mysite.docushareflex.com",
"event.notification.callback.url": "https://www.mycoolapplication.com/events"
},
"name": "myCoolInstance with Polling",
"providerData": {
"code": ""
}
}
""")

# seeds/004: the body of "Construct a JSON body".
DOCUSHAREFLEX_TEMPLATE = json.loads("""
{ "element":{ "key":"docushareflex" }, "configuration": { "oauth.api.secret": "<INSERT_API_SECRET>", "oauth.callback.url": "https://auth.cloudelements.io/oauth", "oauth.api.key": "<INSERT_API_KEY>", "event.vendor.type": "polling", "event.poller.refresh_interval": "15", "event.notification.enabled": true, "docushare.domain": "<INSERT_DOCUSHARE_DOMAIN>", "event.notification.callback.url": "https://www.mycoolapplication.com/events" }, "name": "myCoolInstance", "providerData": { "code": "<AUTHORIZATION_GRANT_CODE>" } }
""")

ALL = {
    "onedrivev2": ONEDRIVE,
    "googlesuite": GOOGLESUITE,
    "googlesuite-template": GOOGLESUITE_TEMPLATE,
    "microsoftgraph": MICROSOFTGRAPH,
    "docushareflex": DOCUSHAREFLEX,
    "docushareflex-template": DOCUSHAREFLEX_TEMPLATE,
}

_FILL_BY_KEY = {
    "event.notification.callback.url": "https://client.example.com/events",
    "oauth.callback.url": "https://client.example.com/oauth",
    "docushare.domain": "mysite.docushareflex.com",
    "event.poller.refresh_interval": "15",
    "code": "a-good-authorization-code",
}


def filled(body: dict[str, Any]) -> dict[str, Any]:
    """The seed body with its ``<…>`` placeholders (and empty code) filled in as a user would."""

    def fill(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(key, v) for v in value]
        is_placeholder = isinstance(value, str) and value.startswith("<") and value.endswith(">")
        if is_placeholder or (key == "code" and value == ""):
            return _FILL_BY_KEY.get(key, f"my-{key.replace('.', '-')}")
        return value

    result: dict[str, Any] = fill("", body)
    return result
