"""Microsoft OneDrive (``onedrivev2``): polled through Microsoft Graph's drive delta.

The cursor is the ``@odata.deltaLink`` of the last read. Without one, the delta feed
enumerates the whole drive, which both establishes the baseline and — after a 410 —
resynchronises. Provider docs: https://learn.microsoft.com/graph/api/driveitem-delta
"""

from pollhub.elements.http import ProviderApi, ProviderError, ProviderGone
from pollhub.elements.reading import (
    ChangeKind,
    ChangeReader,
    CursorExpired,
    ProviderChange,
    ReadRequest,
    ReadResult,
)
from pollhub.elements.urls import provider_url

GRAPH = "https://graph.microsoft.com/v1.0"


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


# The change feeds this element's definition file names (definitions/*.json).
CHANGE_FEEDS: dict[str, ChangeReader] = {"driveDelta": read_drive_delta}
