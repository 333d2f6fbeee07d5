"""Fixtures for the sandbox suite: the sandbox and a webhook receiver, each served by
uvicorn over real HTTP on 127.0.0.1, plus helpers to obtain tokens."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pollhub.clock import clock
from pollhub.sandbox import SandboxState, create_sandbox_app
from pollhub.sandbox.notifier import RetryPolicy


@dataclass
class Served:
    """An ASGI app running under uvicorn in a background thread."""

    base_url: str
    server: uvicorn.Server
    thread: threading.Thread


def serve(app: Any) -> Served:
    """Run ``app`` on a free port of 127.0.0.1 and wait until it accepts requests."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return Served(f"http://127.0.0.1:{port}", server, thread)


def stop(served: Served) -> None:
    """Stop a server started by :func:`serve`."""
    served.server.should_exit = True
    served.thread.join(timeout=10)


@dataclass
class Sandbox:
    """The running sandbox: its base URL and its in-memory state."""

    url: str
    state: SandboxState

    def control(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """Call the control API."""
        return httpx.request(method, f"{self.url}/control/{path}", json=json, timeout=30)

    def drain(self) -> list[dict[str, Any]]:
        """Wait for Graph's pending notifications; every delivery so far."""
        response = self.control("POST", "notifications/drain")
        response.raise_for_status()
        deliveries: list[dict[str, Any]] = response.json()["deliveries"]
        return deliveries


@dataclass
class ReceivedRequest:
    """One request the webhook receiver got."""

    path: str
    query: dict[str, str]
    content_type: str
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint. Paths choose its behaviour on Graph's validation request:
    ``/echo/...`` answers correctly; ``/wrong/...`` answers 200 with another body;
    ``/json/...`` echoes the token as JSON; ``/refuse/...`` answers 500. Notifications
    (POSTs without ``validationToken``) get 202 (``/refuse/...``: 500)."""

    url: str
    received: list[ReceivedRequest] = field(default_factory=list)

    def notifications(self, path_prefix: str = "") -> list[ReceivedRequest]:
        """Received POSTs that were not validation requests."""
        return [
            r
            for r in self.received
            if "validationToken" not in r.query and r.path.startswith(path_prefix)
        ]


def _receiver_app(log: list[ReceivedRequest]) -> Starlette:
    async def endpoint(request: Request) -> Response:
        path = request.url.path
        log.append(
            ReceivedRequest(
                path,
                dict(request.query_params),
                request.headers.get("content-type", ""),
                await request.body(),
            )
        )
        token = request.query_params.get("validationToken")
        if path.startswith("/refuse"):
            return Response(status_code=500)
        if token is None:
            return Response(status_code=202)
        if path.startswith("/wrong"):
            return PlainTextResponse("not the token")
        if path.startswith("/json"):
            return Response(f'"{token}"', media_type="application/json")
        return PlainTextResponse(token)

    return Starlette(routes=[Route("/{rest:path}", endpoint, methods=["POST"])])


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    app = create_sandbox_app()
    served = serve(app)
    yield Sandbox(served.base_url, app.state.sandbox)
    stop(served)


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[Receiver]:
    log: list[ReceivedRequest] = []
    served = serve(_receiver_app(log))
    yield Receiver(served.base_url, log)
    stop(served)


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The sandbox, emptied before each test; the clock is put back afterwards."""
    sandbox_server.control("POST", "reset").raise_for_status()
    sandbox_server.state.notifier.retry = RetryPolicy(first_delay=0.05, give_up_after=0.05)
    yield sandbox_server
    clock.reset()


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    """The webhook receiver, with nothing received yet."""
    receiver_server.received.clear()
    return receiver_server


# Tokens ------------------------------------------------------------------------------

MICROSOFT_TOKEN = "login.microsoftonline.com/common/oauth2/v2.0/token"
GOOGLE_TOKEN = "oauth2.googleapis.com/token"
CLIENT = {"client_id": "pollhub-test-client", "client_secret": "s3cret"}


def microsoft_tokens(sandbox: Sandbox, scope: str = "Files.Read offline_access") -> dict[str, Any]:
    """Tokens from Microsoft's token endpoint for any code."""
    form = {**CLIENT, "grant_type": "authorization_code", "code": "any", "scope": scope}
    form["redirect_uri"] = "http://localhost/callback"
    response = httpx.post(f"{sandbox.url}/{MICROSOFT_TOKEN}", data=form, timeout=30)
    response.raise_for_status()
    tokens: dict[str, Any] = response.json()
    return tokens


def google_tokens(sandbox: Sandbox) -> dict[str, Any]:
    """Tokens from Google's token endpoint for any code."""
    form = {**CLIENT, "grant_type": "authorization_code", "code": "any"}
    form["redirect_uri"] = "http://localhost/callback"
    response = httpx.post(f"{sandbox.url}/{GOOGLE_TOKEN}", data=form, timeout=30)
    response.raise_for_status()
    tokens: dict[str, Any] = response.json()
    return tokens


def docushare_tokens(sandbox: Sandbox, domain: str = "demo.docushareflex.com") -> dict[str, Any]:
    """Tokens from a DocuShare Flex site's token endpoint for any code."""
    form = {**CLIENT, "grant_type": "authorization_code", "code": "any"}
    response = httpx.post(f"{sandbox.url}/{domain}/oauth2/token", data=form, timeout=30)
    response.raise_for_status()
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    """The Authorization header for these tokens."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}
