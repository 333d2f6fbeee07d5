"""What every request passes through before a route: a request id, body caps,
authentication before a body is read, and security headers on every response.

Pure ASGI middleware (Starlette's ``BaseHTTPMiddleware`` runs each request in an extra task
and stream, a measured share of a small request's cost), so a body is never buffered here:
:class:`BodyLimit` counts the bytes as they stream in (``Content-Length`` or chunked) and
stops the request the moment it is over its cap; :class:`AuthenticateFirst` answers 401/429
to an unauthenticated API request before one byte of its body is read, so nobody without
secrets can make pollhub hold a body.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pollhub.deps import authenticate_request
from pollhub.errors import PollhubError

# Every response: no MIME sniffing (a JSON or text answer is never run as HTML or script),
# no framing, no Referer leaking a URL. The console adds its own stricter set.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def error_response(request: Request, status: int, message: str, **extra: str) -> JSONResponse:
    """Every error's shape: ``{"requestId", "message"}`` (and the id as a header)."""
    request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
    body = {"requestId": request_id, "message": message, **extra}
    return JSONResponse(body, status_code=status, headers={"X-Request-Id": request_id})


class BodyLimit:
    """Caps each request body at ``default`` bytes, or at the cap of the first of
    ``by_prefix`` its path starts with: 413 beyond it, however the body is sent."""

    def __init__(self, app: ASGIApp, *, default: int, by_prefix: Mapping[str, int]) -> None:
        self.app = app
        self._default = default
        self._by_prefix = dict(by_prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared size over the cap at once; stop a streamed one when it gets there."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next(
            (cap for prefix, cap in self._by_prefix.items() if scope["path"].startswith(prefix)),
            self._default,
        )
        message = f"Request body over {limit} bytes"
        declared = Request(scope).headers.get("content-length", "")
        if declared.isdecimal() and int(declared) > limit:
            await error_response(Request(scope), 413, message)(scope, receive, send)
            return
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read, and answered by the app's handler.
                    raise HTTPException(413, message)
            return incoming

        await self.app(scope, capped_receive, send)


class AuthenticateFirst:
    """Authenticates every request with a body under ``prefix`` (except ``public``
    prefixes, whose requests prove themselves otherwise) before its body is read."""

    def __init__(self, app: ASGIApp, *, prefix: str, public: tuple[str, ...]) -> None:
        self.app = app
        self._prefix = prefix
        self._public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401/429 without reading the body, or remember the caller for the route."""
        if scope["type"] == "http" and self._applies(scope):
            request = Request(scope)  # no receive: the body stays unread
            try:
                async with request.app.state.sessionmaker() as session:
                    request.state.caller = await authenticate_request(
                        request, session, request.headers.get("authorization")
                    )
            except PollhubError as exc:
                await error_response(request, exc.status, exc.message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _applies(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if not path.startswith(self._prefix) or path.startswith(self._public):
            return False
        headers = Request(scope).headers
        return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response that does not set its own, and
    ``Cache-Control: no-store`` under ``no_store_prefix`` (answers that carry secrets)."""

    def __init__(self, app: ASGIApp, *, no_store_prefix: str) -> None:
        self.app = app
        self._no_store_prefix = no_store_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if scope["path"].startswith(self._no_store_prefix):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestId:
    """Gives every request an id, ``request.state.request_id`` (which every error body
    quotes), and answers it as the ``X-Request-Id`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Name the request; stamp its id on the response as it starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
