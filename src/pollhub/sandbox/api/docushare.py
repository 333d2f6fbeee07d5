"""DocuShare Flex sites: OAuth 2.0 and the objects API, at ``/{domain}/...``.

Every ``*.docushareflex.com`` host is a DocuShare Flex site, and each site is its own
authorization server with its own documents. The API shape is the one fixed in
:mod:`pollhub.elements.docushareflex`:

- ``GET /{domain}/oauth2/authorize`` → 302 to ``redirect_uri?code=…&state=…``;
- ``POST /{domain}/oauth2/token`` (authorization_code, refresh_token; the refresh token
  rotates and the used one is revoked) → ``{"access_token", "token_type": "Bearer",
  "expires_in", "refresh_token", "scope"}``; errors are RFC 6749 ``{"error",
  "error_description"}``;
- ``GET /{domain}/api/v1/objects?type=Document&modifiedAfter=<ISO 8601>&page=<n>&pageSize=<n>``
  (also ``title``, ``owner`` — exact — and ``titleLike`` with ``%`` wildcards)
  → ``{"items": [{"handle", "title", "create_date", "modified_date", "owner", "deleted"?}],
  "next": <absolute URL of the next page> | null}``, oldest change first, 50 per page by
  default; with ``modifiedAfter`` documents deleted after it come back with
  ``"deleted": true``; dates ``yyyy-MM-dd'T'HH:mm:ss'Z'``;
- ``GET /{domain}/api/v1/objects/{handle}`` → one document (404 once deleted).

API errors (401, 404, 429, 500) use the same ``{"error", "error_description"}`` shape,
with ``WWW-Authenticate: Bearer error="invalid_token"`` on 401 (RFC 6750).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse

from pollhub.sandbox.api.oauth import grant, read_token_request, redirect_with_code
from pollhub.sandbox.deps import access_token_check, fault_gate, get_state, int_query
from pollhub.sandbox.errors import ProviderError, bad_request, not_found, oauth_error
from pollhub.sandbox.simulators import Simulator, host_matches
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.timefmt import parse_datetime
from pollhub.sandbox.tokens import RefreshPolicy

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DOCUMENT_TYPES = ("Document", "Collection")
# Each customer's site is ``<name>.docushareflex.com``.
SITE_HOSTS = ("*.docushareflex.com",)


async def _site(domain: str) -> None:
    # The route takes any first segment; only DocuShare Flex sites are answered here.
    if not any(host_matches(domain, pattern) for pattern in SITE_HOSTS):
        raise ProviderError(404, {"error": f"no simulated provider serves {domain}"})


router = APIRouter(
    prefix="/{domain}", dependencies=[Depends(_site), Depends(fault_gate("docushare"))]
)
_token = access_token_check("docushare")


def _bad(message: str) -> ProviderError:
    return bad_request("docushare", message)


@router.get("/oauth2/authorize")
async def authorize(
    request: Request, domain: str, state: SandboxState = Depends(get_state)
) -> RedirectResponse:
    """The site's authorize endpoint: redirects straight back with a code."""
    return redirect_with_code(
        state, f"docushare:{domain.lower()}", request.query_params, oauth_error
    )


@router.post("/oauth2/token")
async def token(
    request: Request, domain: str, state: SandboxState = Depends(get_state)
) -> JSONResponse:
    """The site's token endpoint (refresh tokens rotate; a used one is revoked)."""
    params = await read_token_request(request)
    realm = f"docushare:{domain.lower()}"
    tokens = grant(state, realm, params, RefreshPolicy.ROTATE_AND_REVOKE, oauth_error)
    body: dict[str, Any] = {
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
    }
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    body["scope"] = tokens.scope
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/api/v1/objects", dependencies=[Depends(_token)])
async def list_objects(
    request: Request, domain: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """The site's documents, oldest change first, a page at a time."""
    params = request.query_params
    kind = params.get("type", "Document")
    if kind not in DOCUMENT_TYPES:
        raise _bad(f"type must be one of {', '.join(DOCUMENT_TYPES)}")
    modified_after = None
    if raw := params.get("modifiedAfter"):
        modified_after = parse_datetime(raw)
        if modified_after is None:
            raise _bad("modifiedAfter must be an ISO 8601 date-time")
    page = int_query(request, "page", 1, minimum=1, maximum=10**9, error=_bad)
    size = int_query(
        request, "pageSize", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE, error=_bad
    )
    # The sandbox keeps no collections, so a Collection listing is always empty.
    documents = (
        state.data.docushare.changed(domain.lower(), modified_after) if kind == "Document" else []
    )
    documents = [d for d in documents if _matches_query(d.as_json(), params)]
    chunk = documents[(page - 1) * size : page * size]
    more = page * size < len(documents)
    next_url = str(request.url.include_query_params(page=page + 1)) if more else None
    return {"items": [d.as_json() for d in chunk], "next": next_url}


def _matches_query(document: dict[str, Any], params: Any) -> bool:
    """The site's own query: ``title`` and ``owner`` exact, ``titleLike`` with ``%``."""
    if "title" in params and document["title"] != params["title"]:
        return False
    if "owner" in params and document["owner"] != params["owner"]:
        return False
    if pattern := params.get("titleLike"):
        regex = ".*".join(re.escape(part) for part in pattern.split("%"))
        return re.fullmatch(regex, document["title"], re.IGNORECASE) is not None
    return True


@router.get("/api/v1/objects/{handle}", dependencies=[Depends(_token)])
async def get_object(
    domain: str, handle: str, state: SandboxState = Depends(get_state)
) -> dict[str, Any]:
    """One live document."""
    document = state.data.docushare.live(domain.lower(), handle)
    if document is None:
        raise not_found("docushare", f"No object {handle}")
    return document.as_json()


SIMULATORS = (Simulator("docushare", SITE_HOSTS, (router,), elements=("docushareflex",)),)
