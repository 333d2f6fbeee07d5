"""Real HTTP servers for end-to-end tests: pollhub itself, and a client's callback receiver."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: ASGIApp | str, port: int | None = None, *, factory: bool = False):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", factory=factory
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


@dataclass
class Callback:
    """One callback as the receiver got it."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


@dataclass
class Receiver:
    """A client application's callback endpoint that records what arrives."""

    callbacks: list[Callback] = field(default_factory=list)
    fail_next: int = 0

    def app(self) -> Starlette:
        async def events(request: Request) -> Response:
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(status_code=503)
            self.callbacks.append(Callback(dict(request.headers), await request.body()))
            return Response(status_code=200)

        return Starlette(routes=[Route("/events", events, methods=["POST"])])

    def events(self) -> list[dict[str, Any]]:
        """Every normalized event received, in arrival order."""
        return [e for callback in self.callbacks for e in callback.json["message"]["events"]]
