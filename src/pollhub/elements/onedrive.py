"""Microsoft OneDrive (``onedrivev2``): polled through Microsoft Graph's drive delta.

Provider docs: https://learn.microsoft.com/graph/api/driveitem-delta
"""

from pollhub.elements.base import Element, PollableResource

_GRAPH_DATES = {
    "updatedDateField": "lastModifiedDateTime",
    "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "updatedDateTimezone": "GMT",
    "createdDateField": "createdDateTime",
    "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "createdDateTimezone": "GMT",
}

ELEMENT = Element(
    key="onedrivev2",
    name="Microsoft OneDrive",
    hub="documents",
    event_mechanism="polling",
    description="Files and folders of one OneDrive; changes read from the drive delta feed.",
    authorization_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
    default_scope="files.readwrite offline_access",
    authorization_params={"response_mode": "query"},
    resources=(
        PollableResource(
            name="events",
            url="/hubs/documents/events",
            id_field="id",
            dates=_GRAPH_DATES,
            description="Every created, changed or deleted file and folder in the drive.",
        ),
    ),
)
