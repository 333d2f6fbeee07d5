"""Microsoft OneDrive (``onedrivev2``): polled through Microsoft Graph's drive delta.

The cursor is the ``@odata.deltaLink`` of the last read. Without one, the delta feed
enumerates the whole drive, which both establishes the baseline and — after a 410 —
resynchronises. Provider docs: https://learn.microsoft.com/graph/api/driveitem-delta
"""

from pollhub.elements.base import Element, PollableResource
from pollhub.elements.http import ProviderApi, ProviderError, ProviderGone
from pollhub.elements.reading import (
    ChangeKind,
    CursorExpired,
    ProviderChange,
    ReadRequest,
    ReadResult,
)
from pollhub.elements.urls import provider_url

GRAPH = "https://graph.microsoft.com/v1.0"

_GRAPH_DATES = {
    "updatedDateField": "lastModifiedDateTime",
    "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "updatedDateTimezone": "GMT",
    "createdDateField": "createdDateTime",
    "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "createdDateTimezone": "GMT",
}


async def read_drive_delta(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Follow the drive's delta feed from the stored delta link to a new one."""
    delta_link = (request.cursor or {}).get("deltaLink")
    url = delta_link or provider_url(f"{GRAPH}/me/drive/root/delta")
    params = {"$top": str(request.page_size)} if request.page_size and not delta_link else None
    items: dict[str, ProviderChange] = {}
    while True:
        try:
            page = await api.get_json(url, params)
        except ProviderGone as exc:
            raise CursorExpired(str(exc)) from exc
        params = None  # next and delta links carry their own query
        for item in page.get("value", []):
            if "root" in item:
                continue  # the drive root changes with every file in it: noise, not news
            kind: ChangeKind | None = "deleted" if "deleted" in item else None
            # An item may appear more than once in a feed; the last occurrence wins.
            items.pop(item["id"], None)
            items[item["id"]] = ProviderChange(item["id"], item, kind)
        next_link = page.get("@odata.nextLink")
        if not next_link:
            break
        url = next_link
    new_link = page.get("@odata.deltaLink")
    if not isinstance(new_link, str):
        raise ProviderError("the drive delta feed ended without an @odata.deltaLink")
    return ReadResult(list(items.values()), {"deltaLink": new_link}, complete=not delta_link)


ELEMENT = Element(
    key="onedrivev2",
    id=146,  # Cloud Elements' element id (reference sections 6.1-6.3)
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
            reader=read_drive_delta,
            id_field="id",
            dates=_GRAPH_DATES,
            description="Every created, changed or deleted file and folder in the drive.",
        ),
    ),
)
