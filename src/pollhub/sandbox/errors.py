"""Errors in each provider's own body shape.

Every simulated endpoint fails by raising :class:`ProviderError`; the app turns it into
the response the real provider would send (see ``reference/providers.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any, Literal

from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from pollhub.clock import clock
from pollhub.sandbox.ids import guid

Provider = Literal["graph", "google", "docushare", "microsoft-login", "google-oauth", "dropbox"]
TokenProblem = Literal["missing", "invalid", "expired"]
PROVIDERS: tuple[Provider, ...] = (
    "graph",
    "google",
    "docushare",
    "microsoft-login",
    "google-oauth",
    "dropbox",
)

GRAPH_HOST = "graph.microsoft.com"
MICROSOFT_LOGIN_HOST = "login.microsoftonline.com"
GOOGLE_ACCOUNTS_HOST = "accounts.google.com"
GOOGLE_TOKEN_HOST = "oauth2.googleapis.com"
CALENDAR_HOST = "www.googleapis.com"
GMAIL_HOST = "gmail.googleapis.com"
PEOPLE_HOST = "people.googleapis.com"
CONTROL_SEGMENT = "control"

JSON = dict[str, Any]


class ProviderError(Exception):
    """A provider's error response: status, JSON body and headers."""

    def __init__(self, status: int, body: JSON, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The HTTP response for this error."""
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def route_path(request: Request) -> str:
    """The request path inside the sandbox app, wherever the app is mounted."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def graph_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """Microsoft Graph's ``{"error": {"code", "message", "innerError"}}``."""
    now = clock.now().astimezone(UTC)
    inner = {"date": now.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": guid()}
    inner["client-request-id"] = inner["request-id"]
    return ProviderError(
        status, {"error": {"code": code, "message": message, "innerError": inner}}, headers
    )


def microsoft_login_error(
    error: str, aadsts: int, description: str, status: int = 400
) -> ProviderError:
    """The Microsoft identity platform's token endpoint error (AADSTS codes)."""
    now = clock.now().astimezone(UTC)
    trace_id, correlation_id = guid(), guid()
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    text = (
        f"AADSTS{aadsts}: {description} Trace ID: {trace_id} "
        f"Correlation ID: {correlation_id} Timestamp: {stamp}"
    )
    body: JSON = {
        "error": error,
        "error_description": text,
        "error_codes": [aadsts],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://{MICROSOFT_LOGIN_HOST}/error?code={aadsts}",
    }
    return ProviderError(status, body)


def google_error(
    status: int,
    message: str,
    *,
    reason: str,
    status_text: str | None,
    domain: str = "global",
    headers: Mapping[str, str] | None = None,
    details: list[JSON] | None = None,
) -> ProviderError:
    """Google APIs' ``{"error": {"code", "message", "errors": [...], "status"}}``."""
    error: JSON = {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if status_text is not None:
        # Calendar's older errors (e.g. its 410 for a stale sync token) carry no status.
        error["status"] = status_text
    if details:
        error["details"] = details
    return ProviderError(status, {"error": error}, headers)


def oauth_error(
    error: str, description: str, status: int = 400, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """RFC 6749's ``{"error", "error_description"}`` (Google's token endpoint, DocuShare)."""
    return ProviderError(status, {"error": error, "error_description": description}, headers)


def bad_request(provider: Provider | None, message: str) -> ProviderError:
    """A 400 for a malformed request, in the provider's shape."""
    if provider == "graph":
        return graph_error(400, "BadRequest", message)
    if provider == "microsoft-login":
        return microsoft_login_error("invalid_request", 900144, message)
    if provider == "google":
        return google_error(
            400, message, reason="invalid", status_text="INVALID_ARGUMENT", domain="global"
        )
    if provider in ("google-oauth", "docushare"):
        return oauth_error("invalid_request", message)
    return ProviderError(400, {"error": message})


def not_found(provider: Provider | None, message: str = "Not Found") -> ProviderError:
    """A 404 in the provider's shape."""
    if provider == "graph":
        return graph_error(404, "itemNotFound", message)
    if provider == "google":
        return google_error(404, message, reason="notFound", status_text="NOT_FOUND")
    if provider == "docushare":
        return oauth_error("not_found", message, status=404)
    return ProviderError(404, {"error": message})


def dropbox_error(
    status: int, tag: str, detail: JSON | None = None, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """Dropbox's ``{"error_summary", "error": {".tag", ...}}`` (route and auth errors)."""
    error: JSON = {".tag": tag, **(detail or {})}
    summary = "/".join([tag, *_tags(detail)]) + "/.."
    return ProviderError(status, {"error_summary": summary, "error": error}, headers)


def _tags(detail: JSON | None) -> list[str]:
    nested = [v for v in (detail or {}).values() if isinstance(v, dict) and ".tag" in v]
    return [str(nested[0][".tag"]), *_tags(nested[0])] if nested else []


def unauthorized(
    provider: Provider, *, reason: TokenProblem, realm_hint: str = ""
) -> ProviderError:
    """401 for a ``missing``, ``invalid`` or ``expired`` access token."""
    if provider == "dropbox":
        tag = "expired_access_token" if reason == "expired" else "invalid_access_token"
        return dropbox_error(401, tag)
    if provider == "graph":
        message = {
            "missing": "Access token is empty.",
            "expired": "Access token has expired or is not yet valid.",
        }.get(reason, "Access token validation failure. Invalid audience.")
        header = (
            'Bearer realm="", authorization_uri='
            f'"https://{MICROSOFT_LOGIN_HOST}/common/oauth2/authorize"'
        )
        return graph_error(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": header})
    if provider == "google":
        return google_error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential. "
            "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            reason="authError",
            status_text="UNAUTHENTICATED",
            headers={
                "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                'error="invalid_token"'
            },
        )
    description = {
        "missing": "An access token is required",
        "expired": "The access token expired",
    }.get(reason, "The access token is invalid")
    header = (
        f'Bearer realm="{realm_hint}", error="invalid_token", error_description="{description}"'
    )
    return oauth_error("invalid_token", description, 401, {"WWW-Authenticate": header})


def throttled(provider: Provider, retry_after: int) -> ProviderError:
    """429 with ``Retry-After`` and the provider's throttling body."""
    headers = {"Retry-After": str(retry_after)}
    if provider == "dropbox":
        reason = {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after}
        return ProviderError(
            429,
            {"error_summary": "too_many_requests/..", "error": reason},
            headers,
        )
    if provider == "graph":
        return graph_error(
            429,
            "TooManyRequests",
            "Too many requests. Please retry after the time given in the Retry-After header.",
            headers,
        )
    if provider == "google":
        return google_error(
            429,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
            reason="rateLimitExceeded",
            status_text="RESOURCE_EXHAUSTED",
            domain="usageLimits",
            headers=headers,
        )
    if provider == "microsoft-login":
        error = microsoft_login_error(
            "temporarily_unavailable", 50196, "The server terminated an operation.", 429
        )
        error.headers.update(headers)
        return error
    return oauth_error(
        "temporarily_unavailable", "Too many requests, slow down.", 429, headers=headers
    )


def server_failure(provider: Provider) -> ProviderError:
    """500 in the provider's shape."""
    if provider == "graph":
        return graph_error(500, "generalException", "An unspecified error has occurred.")
    if provider == "google":
        return google_error(
            500,
            "Internal error encountered.",
            reason="backendError",
            status_text="INTERNAL",
        )
    if provider == "microsoft-login":
        return microsoft_login_error("server_error", 90033, "A transient error has occurred.", 500)
    return oauth_error("server_error", "The server encountered an unexpected error.", 500)
