"""Microsoft OneDrive (``onedrivev2``): polled through Microsoft Graph's drive delta.

The cursor is the ``@odata.deltaLink`` of the last read. Without one, the delta feed
enumerates the whole drive, which both establishes the baseline and — after a 410 —
resynchronises. Provider docs: https://learn.microsoft.com/graph/api/driveitem-delta
"""

from pollhub.elements.base import Element, PollableResource, RateLimits
from pollhub.elements.http import ProviderApi, ProviderError, ProviderGone
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
    ResourceDefinition,
)
from pollhub.elements.urls import provider_url
from pollhub.elements.where import Operator

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


_ODATA: dict[Operator, str] = {"=": "eq", "!=": "ne", ">": "gt", ">=": "ge", "<": "lt", "<=": "le"}


def _odata_filters(field: str, quoted: bool) -> dict[Operator, str | FilterTarget]:
    # OData comparison operators inside one $filter, conditions joined with "and".
    value = "'{value}'" if quoted else "{value}"
    return {
        op: FilterTarget(param="$filter", value=f"{field} {odata} {value}", join=" and ")
        for op, odata in _ODATA.items()
    }


_LISTED = {
    "list": "value",
    "pagination": Pagination(type="nextLink", field="@odata.nextLink"),
    "pageSize": PageSize(param="$top", maximum=999),
    "datesConfiguration": _GRAPH_DATES,
}

HUB_RESOURCES = {
    "events": ResourceDefinition(
        path="/me/drive/root/delta",
        object="/me/drive/items/{id}",
        changeFeed="driveDelta",
        deletedWhen="deleted != null",
        description="Every file and folder of the drive; polled through its delta feed, "
        "which also shows deletes.",
        **_LISTED,
    ),
    "folders/{id}/contents": ResourceDefinition(
        path="/me/drive/items/{id}/children",
        object="",
        filters={
            "lastModifiedDateTime": _odata_filters("lastModifiedDateTime", quoted=False),
            "createdDateTime": _odata_filters("createdDateTime", quoted=False),
            "name": _odata_filters("name", quoted=True),
        },
        description="The files and folders in one folder ({id}: an item id, or root).",
        **_LISTED,
    ),
}

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
    base_url=GRAPH,
    hub_resources=HUB_RESOURCES,
    change_feeds={"driveDelta": read_drive_delta},
    resources=(
        PollableResource(
            name="events",
            url="/hubs/documents/events",
            id_field="id",
            dates=_GRAPH_DATES,
            description="Every created, changed or deleted file and folder in the drive.",
        ),
    ),
    # Microsoft Graph: 130,000 requests per 10 s per app across all tenants; per user,
    # Graph's 10,000 per 10 minutes per app (learn.microsoft.com/graph/throttling-limits).
    rate_limits=RateLimits(app="130000/10", user="10000/600"),
)
