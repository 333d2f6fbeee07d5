"""The FastAPI application: routers, error handling, health, and the sandbox when asked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from pollhub import __version__
from pollhub.api_docs import mount_api_docs
from pollhub.catalog.endpoints import router as catalog_router
from pollhub.console import mount_console
from pollhub.db.engine import create_engine, create_sessionmaker
from pollhub.delivery.endpoints import deliveries_router, organization_router
from pollhub.delivery.endpoints import router as delivery_router
from pollhub.errors import PollhubError
from pollhub.hubs.endpoints import router as hubs_router
from pollhub.instances.endpoints import element_router as element_instances_router
from pollhub.instances.endpoints import router as instances_router
from pollhub.metrics import exposition
from pollhub.middleware import (
    AuthenticateFirst,
    BodyLimit,
    RequestId,
    SecurityHeaders,
    error_response,
)
from pollhub.oauth.client import close_token_transports
from pollhub.polling.endpoints import router as polling_router
from pollhub.settings import Settings, get_settings
from pollhub.tenancy.throttle import FailedAuthThrottle
from pollhub.webhooks.endpoints import router as webhooks_router
from pollhub.webhooks.refused import RefusedNotifications
from pollhub.worker import run_worker

API_PREFIX = "/elements/api-v2"
# Provider webhooks: no pollhub secrets (each notification proves itself), a smaller cap.
WEBHOOKS_PREFIX = f"{API_PREFIX}{webhooks_router.prefix}/"


class ErrorOut(BaseModel):
    """Every error: what went wrong, and the id to quote when reporting it."""

    requestId: str
    message: str
    providerMessage: str | None = None


# Documented on every API route, so clients (and schema checks) know the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Bad request: the message names the field"),
        (401, "Missing or wrong secrets"),
        (403, "Refused"),
        (404, "Not found, or not the caller's"),
        (409, "Conflicts with the current state"),
        (413, "Body too large"),
        (429, "Too many failed authentication attempts"),
        (502, "The provider could not be reached"),
        (503, "The database is unavailable for a moment; try again"),
    )
}
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, with_worker: bool = False) -> FastAPI:
    """Build the API application for ``settings`` (default: the environment's);
    ``with_worker`` also runs a worker in the same process (``pollhub serve``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.resolved_secret_key()  # fail at start, not at the first write
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_worker(app.state.sessionmaker, stop)) if with_worker else None
        )
        catch_ups = asyncio.create_task(
            app.state.refused_notifications.run(app.state.sessionmaker, stop)
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await catch_ups
            await close_token_transports()
            await engine.dispose()

    app = FastAPI(
        title="pollhub",
        version=__version__,
        description="Events for SaaS connectors: polling and webhooks, delivered signed.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by mount_api_docs, not from a CDN
        redoc_url=None,
    )
    mount_api_docs(app)
    app.state.auth_throttle = FailedAuthThrottle(
        per_credential=settings.auth_failures_per_minute,
        per_address=settings.auth_failures_per_address_per_minute,
    )
    app.state.refused_notifications = RefusedNotifications()
    if settings.sandbox:
        # Imported only when asked: nothing else in pollhub knows the sandbox exists. First,
        # so that its requests (the providers' side of every token exchange and poll) do not
        # try every API route's pattern before reaching it; "/sandbox" shadows none of them.
        from pollhub.sandbox import create_sandbox_app

        sandbox = create_sandbox_app(
            notification_time_scale=settings.sandbox_notification_time_scale
        )
        app.mount("/sandbox", sandbox)
    app.include_router(catalog_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    # Before the instances router, whose "/instances/{id}" would take "/instances/events".
    app.include_router(organization_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(deliveries_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(instances_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(element_instances_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(delivery_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(polling_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(webhooks_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(hubs_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])
    app.add_api_route("/health", health, methods=["GET"], tags=["operations"])
    mount_console(app)  # the web console at "/", after the API so it never shadows it
    # Innermost first: authenticate before a body is read, cap bodies as they stream,
    # security headers on everything (API, docs, console, sandbox), then the request id.
    app.add_middleware(AuthenticateFirst, prefix=API_PREFIX, public=(WEBHOOKS_PREFIX,))
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        by_prefix={WEBHOOKS_PREFIX: settings.max_webhook_body_bytes},
    )
    app.add_middleware(SecurityHeaders, no_store_prefix=API_PREFIX)
    app.add_middleware(RequestId)
    app.add_exception_handler(PollhubError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, _client_gone)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    return app


def create_app_with_worker() -> FastAPI:
    """The API with a worker in the same process (the embedded default)."""
    return create_app(with_worker=True)


async def health(request: Request) -> JSONResponse:
    """Liveness and database reachability, for load balancers and compose health checks."""
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means "not healthy", never a 500
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "version": __version__})


async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, and the delivery backlog."""
    body = await exposition(request.app.state.sessionmaker)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def _domain_error(request: Request, exc: PollhubError) -> JSONResponse:
    extra = {"providerMessage": exc.provider_message} if exc.provider_message else {}
    return error_response(request, exc.status, exc.message, **extra)


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return error_response(request, 400, "Request body is not valid JSON")
        # Only the leading part says where (body, query, path): a field may be named "path".
        where = list(error["loc"])
        if where and where[0] in ("body", "query", "path", "header"):
            where = where[1:]
        location = ".".join(str(part) for part in where)
        problems.append(f"'{location}': {error['msg']}" if location else str(error["msg"]))
    return error_response(request, 400, "; ".join(problems) or "Invalid request")


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return error_response(request, exc.status_code, str(exc.detail))


async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
    # The caller hung up mid-request (a provider giving up on a slow answer): nobody is
    # left to answer, and it is not pollhub's error.
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "Internal error; quote the requestId when reporting it")
