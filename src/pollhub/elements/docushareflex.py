"""Xerox DocuShare Flex (``docushareflex``): documents of one DocuShare Flex site.

Public documentation of DocuShare Flex's REST API is thin, so this module fixes the one
shape pollhub uses and the sandbox serves (see ``reference/providers.md``); adapting to
the real API touches only this module. Each customer has its own site, the instance's
``docushare.domain`` (``<name>.docushareflex.com``), which hosts both OAuth and the API:

- ``GET https://{domain}/oauth2/authorize`` and ``POST https://{domain}/oauth2/token``
  (standard OAuth 2.0 authorization code grant with refresh tokens);
- ``GET https://{domain}/api/v1/objects?type=Document&modifiedAfter=<ISO>&page=<n>`` →
  ``{"items": [{"handle", "title", "create_date", "modified_date", "deleted"?}], "next"}``;
  the site's query also takes ``title`` (exact), ``titleLike`` (``%`` wildcards) and
  ``owner``.
"""

from datetime import datetime, timedelta
from typing import Any

from pollhub.clock import clock
from pollhub.elements.base import Element, PollableResource
from pollhub.elements.http import ProviderApi
from pollhub.elements.reading import ChangeKind, ProviderChange, ReadRequest, ReadResult
from pollhub.elements.resources import PageSize, Pagination, ResourceDefinition
from pollhub.elements.urls import provider_url

# Documents are found by modified date, so each read reaches back this far before the last
# one: a document saved while the previous read ran, or stamped by a server clock that is a
# little behind ours, is still seen. The poller's fingerprints drop what was already reported.
# It never reaches back past the first read: what happened before it is not news.
OVERLAP = timedelta(minutes=2)

_DATES = {
    "updatedDateField": "modified_date",
    "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "updatedDateTimezone": "GMT",
    "createdDateField": "create_date",
    "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "createdDateTimezone": "GMT",
}


async def read_documents(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Documents modified since the last read (all of them on the first read)."""
    started = clock.now()
    cursor = request.cursor or {}
    since = cursor.get("since")
    first = cursor.get("firstRead", since if cursor else _iso(started))
    url = f"https://{request.configuration['docushare.domain']}/api/v1/objects"
    params: dict[str, Any] = {"type": "Document"}
    if since:
        reach = _parse(since) - OVERLAP
        if "firstRead" in cursor:
            reach = max(reach, _parse(cursor["firstRead"]))
        params["modifiedAfter"] = _iso(reach)
    if request.page_size:
        params["pageSize"] = str(request.page_size)
    changes = []
    page_url: str | None = provider_url(url)
    while page_url:
        page = await api.get_json(page_url, params)
        params = {}  # the "next" link carries the query
        for document in page.get("items", []):
            kind: ChangeKind | None = "deleted" if document.get("deleted") else None
            changes.append(ProviderChange(document["handle"], document, kind))
        page_url = page.get("next")
    return ReadResult(changes, {"since": _iso(started), "firstRead": first}, complete=not since)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_DOCUMENTS = {
    "path": "/objects",
    "object": "/objects/{id}",
    "query": {"type": "Document"},
    "list": "items",
    "idField": "handle",
    "pagination": Pagination(type="nextLink", field="next"),
    "pageSize": PageSize(param="pageSize", maximum=200),
    "filters": {
        "modified_date": {">": "modifiedAfter", ">=": "modifiedAfter"},
        "title": {"=": "title", "like": "titleLike"},
        "owner": {"=": "owner"},
    },
    "datesConfiguration": _DATES,
    "deletedWhen": "deleted = true",
}

HUB_RESOURCES = {
    "documents": ResourceDefinition(
        description="Documents of the site; where modified_date > … is sent as "
        "modifiedAfter (deleted documents then come back marked deleted), title and owner "
        "as the site's own query.",
        **_DOCUMENTS,
    ),
    "events": ResourceDefinition(
        changeFeed="documentsSince",
        description="Every created, changed or deleted document, by modified date.",
        **_DOCUMENTS,
    ),
}

ELEMENT = Element(
    key="docushareflex",
    name="DocuShare Flex",
    hub="documents",
    event_mechanism="polling",
    description="Documents of one DocuShare Flex site, by their modified date.",
    authorization_url="https://{docushare.domain}/oauth2/authorize",
    token_url="https://{docushare.domain}/oauth2/token",
    default_scope="read offline_access",
    required_configuration=("docushare.domain",),
    base_url="https://{docushare.domain}/api/v1",
    hub_resources=HUB_RESOURCES,
    change_feeds={"documentsSince": read_documents},
    resources=(
        PollableResource(
            name="events",
            url="/hubs/documents/events",
            id_field="handle",
            dates=_DATES,
            description="Every created, changed or deleted document on the site.",
        ),
    ),
)
