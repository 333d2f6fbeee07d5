"""Simulated providers ("the sandbox") speaking the real providers' wire formats.

``create_sandbox_app()`` builds a FastAPI app that the pollhub app factory mounts at
``/sandbox`` when ``POLLHUB_SANDBOX=true``; it also runs on its own. A real provider URL
``https://HOST/PATH`` is served at ``/HOST/PATH`` inside it (CONTRACT section 6):

- Microsoft identity platform and Graph (OneDrive delta, Outlook events, subscriptions
  with the validation handshake and notifications over real HTTP);
- Google OAuth, Calendar, People (contact groups) and Gmail;
- DocuShare Flex sites (``*.docushareflex.com``);
- ``/control/...``: change the providers' data, arm faults, watch notifications
  (see :mod:`pollhub.sandbox.api.control`).

Each simulator module under :mod:`pollhub.sandbox.api` registers its hosts and the
elements it stands in for (``SIMULATORS``, see :mod:`.simulators`); a host nobody
registered is a 404, and a sandbox missing a simulator for some element does not start.

All state lives in memory in one :class:`SandboxState` on ``app.state.sandbox``; time
comes from :data:`pollhub.clock.clock`, so tests can expire tokens and subscriptions.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from pollhub import elements
from pollhub.api_docs import mount_api_docs
from pollhub.sandbox import api
from pollhub.sandbox.api import control
from pollhub.sandbox.errors import ProviderError, bad_request
from pollhub.sandbox.notifier import RetryPolicy
from pollhub.sandbox.simulators import Simulator, check_coverage, provider_for_request
from pollhub.sandbox.state import SandboxState
from pollhub.sandbox.tokens import DEFAULT_ACCESS_TOKEN_LIFETIME

__all__ = ["SandboxState", "create_sandbox_app", "simulators"]

CONTROL_API_GUIDE = """Simulated OneDrive, Google Suite, DocuShare Flex, Dropbox, Microsoft Graph.

Change their data with the control API and pollhub reports the changes:
`POST /sandbox/control/{elementKey}/{collection}` creates an object (body: its fields),
`PATCH …/{id}` changes it, `DELETE …/{id}` deletes it, `GET` lists them.

| elementKey | collection | fields |
|---|---|---|
| onedrivev2 | files | name, size, mimeType, parentId, folder |
| googlesuite | calendar-events | summary, description, location, start, end, status, calendarId |
| googlesuite | contact-groups | name, memberCount |
| googlesuite | contacts | name, email |
| googlesuite | messages | subject, from, to, body, labelIds, threadId; to update: addLabelIds |
| docushareflex | documents | title, owner, domain (any host is a site of its own) |
| microsoftgraph | events | subject, body, location, start, end |
| dropbox | files | path (or name), size, content, folder |

Faults (`/control/faults`), stale sync tokens, revoked tokens and Graph lifecycle
notifications are below; the provider endpoints themselves follow each provider's own API.
"""


def simulators() -> tuple[Simulator, ...]:
    """Every registered simulator, those with exact host names first (their routes are
    literal; a ``*.suffix`` simulator's routes take any first path segment)."""
    found: list[Simulator] = []
    for module_info in sorted(pkgutil.iter_modules(api.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{api.__name__}.{module_info.name}")
        found.extend(getattr(module, "SIMULATORS", ()))
    return tuple(sorted(found, key=lambda s: any(h.startswith("*.") for h in s.hosts)))


def create_sandbox_app(
    *,
    access_token_lifetime: int = DEFAULT_ACCESS_TOKEN_LIFETIME,
    notification_time_scale: float = 1.0,
    element_keys: Iterable[str] | None = None,
) -> FastAPI:
    """A fresh sandbox with empty providers; ``access_token_lifetime`` is the
    ``expires_in`` (seconds) of every access token it issues, ``notification_time_scale``
    compresses Graph's four hours of notification retries (0.001: 14.4 seconds).

    Refuses (:class:`~.simulators.MissingSimulator`) when one of ``element_keys`` (by
    default every built-in element) has no simulator.
    """
    registered = simulators()
    check_coverage(registered, elements.catalog() if element_keys is None else element_keys)
    app = FastAPI(
        title="pollhub sandbox providers",
        version="1",
        description=CONTROL_API_GUIDE,
        docs_url=None,  # Swagger UI from the package (offline), as pollhub's own /docs
        redoc_url=None,
    )
    mount_api_docs(app)
    app.state.sandbox = SandboxState(access_token_lifetime=access_token_lifetime)
    app.state.sandbox.notifier.retry = RetryPolicy(time_scale=notification_time_scale)
    app.state.simulators = registered
    app.add_exception_handler(ProviderError, _provider_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(control.router)
    for simulator in registered:
        for router in simulator.routers:
            app.include_router(router)
    app.add_api_route(
        "/{host}/{path:path}",
        _unknown_host,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    return app


async def _unknown_host(host: str, path: str) -> Response:
    # Never another provider's answer: a new element without a simulator fails loudly.
    return JSONResponse({"error": f"no simulated provider serves {host}/{path}"}, 404)


async def _provider_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProviderError)
    return exc.response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    # FastAPI's own 422 would betray the simulation; answer in the provider's shape.
    assert isinstance(exc, RequestValidationError)
    message = "; ".join(str(error.get("msg", "invalid")) for error in exc.errors())
    provider = provider_for_request(request.app.state.simulators, request)
    if provider is None:
        return JSONResponse({"error": message}, status_code=400)
    return bad_request(provider, message).response()
