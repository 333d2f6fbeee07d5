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
from pollhub.elements.http import ProviderApi
from pollhub.elements.reading import (
    ChangeKind,
    ChangeReader,
    ProviderChange,
    ReadRequest,
    ReadResult,
)

# Documents are found by modified date, so each read reaches back this far before the last
# one: a document saved while the previous read ran, or stamped by a server clock that is a
# little behind ours, is still seen. The poller's fingerprints drop what was already reported.
# It never reaches back past the first read: what happened before it is not news.
OVERLAP = timedelta(minutes=2)


async def read_documents(api: ProviderApi, request: ReadRequest) -> ReadResult:
    """Documents modified since the last read (all of them on the first read)."""
    started = clock.now()
    cursor = request.cursor or {}
    since = cursor.get("since")
    first = cursor.get("firstRead", since if cursor else _iso(started))
    url = f"{request.base_url}/objects"  # the instance's own site
    params: dict[str, Any] = {"type": "Document"}
    if since:
        reach = _parse(since) - OVERLAP
        if "firstRead" in cursor:
            reach = max(reach, _parse(cursor["firstRead"]))
        params["modifiedAfter"] = _iso(reach)
    if request.page_size:
        params["pageSize"] = str(request.page_size)
    changes = []
    page_url: str | None = url
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


# The change feeds this element's definition file names (definitions/*.json).
CHANGE_FEEDS: dict[str, ChangeReader] = {"documentsSince": read_documents}
