"""Shared fixtures: a real database (SQLite always, PostgreSQL when reachable), the app,
an organization with its secrets, and mocked provider token endpoints.

Every test that takes ``client`` or ``session`` runs once per database.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import httpx
import pytest
import respx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.app import create_app
from pollhub.clock import clock
from pollhub.db.engine import create_engine, create_sessionmaker
from pollhub.db.migrate import upgrade_to_head
from pollhub.db.models import Base
from pollhub.oauth.client import close_token_transports
from pollhub.settings import get_settings
from pollhub.tenancy.service import create_organization
from tests.live import LiveServer, Receiver, free_port

POSTGRES_ADMIN_DSN = os.environ.get(
    "POLLHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# When set (CI sets it, see scripts/pgbouncer), pollhub reaches the PostgreSQL run's
# databases through PgBouncer in transaction pooling mode, as in a pooled production setup;
# databases are still created and dropped directly.
PGBOUNCER_DSN = os.environ.get("POLLHUB_TEST_PGBOUNCER")
TEST_SECRET_KEY = "test-secret-key-for-pollhub"


class ProviderTransportsMocker(respx.mocks.HTTPCoreMocker):
    """respx's default mock (httpcore's pool), also covering the httpx-aiohttp transport
    that the provider hot paths use (polling, token exchanges), which httpcore never sees."""

    name = "httpcore-and-aiohttp"
    targets: ClassVar[list[str]] = [
        *respx.mocks.HTTPCoreMocker.targets,
        "httpx_aiohttp.transport.AiohttpTransport",
    ]

    @classmethod
    async def prepare_async_request(cls, httpx_request: Any, **kwargs: Any) -> Any:
        """The aiohttp transport is handed an ``httpx.Request``: nothing to convert."""
        if isinstance(kwargs["request"], httpx.Request):
            await httpx_request.aread()
            return httpx_request, kwargs
        return await super().prepare_async_request(httpx_request, **kwargs)

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> Any:
        """As it is, from the aiohttp transport; converted, from httpcore."""
        if isinstance(kwargs["request"], httpx.Request):
            return kwargs["request"]
        return super().to_httpx_request(**kwargs)

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: Any, target: Any, **kwargs: Any
    ) -> Any:
        """As it is, to the aiohttp transport; converted, to httpcore."""
        if isinstance(kwargs["request"], httpx.Request):
            return httpx_response
        return await super().from_async_httpx_response(httpx_response, target, **kwargs)


respx.mocks.DEFAULT_MOCKER = ProviderTransportsMocker.name


def _postgres_reachable() -> bool:
    async def probe() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each kind, for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'pollhub.db'}"
        upgrade_to_head(url)
        yield url
        return
    if not _postgres_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"PostgreSQL is required in CI and is not reachable at {POSTGRES_ADMIN_DSN}"
            )
        pytest.skip("PostgreSQL not reachable; the suite ran on SQLite only")
    if os.environ.get("CI") == "true" and not PGBOUNCER_DSN:
        pytest.fail("CI runs the PostgreSQL tests through PgBouncer: POLLHUB_TEST_PGBOUNCER unset")
    name = f"pollhub_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    server = (PGBOUNCER_DSN or POSTGRES_ADMIN_DSN).rsplit("/", 1)[0]
    url = f"{server.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    if PGBOUNCER_DSN:
        url += "?pgbouncer=true"
    upgrade_to_head(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def settings_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point pollhub's settings at the test database."""
    monkeypatch.setenv("POLLHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("POLLHUB_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.delenv("POLLHUB_SANDBOX", raising=False)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()
    clock.reset()


@pytest.fixture
async def sessionmaker(settings_env: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an emptied test database."""
    engine = create_engine(settings_env)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
    yield create_sessionmaker(engine)
    await close_token_transports()  # the test's loop ends: its token connections too
    await engine.dispose()


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session for arranging and inspecting data directly."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
async def client(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (providers' HTTP stays mockable)."""
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pollhub.test") as http:
            yield http


@dataclass(frozen=True)
class Tenant:
    """An organization with one user, and the header that authenticates as them."""

    organization_id: int
    user_id: int
    organization_secret: str
    user_secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"User {self.user_secret}, Organization {self.organization_secret}"
        }


async def _tenant(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> Tenant:
    async with sessionmaker() as session:
        org, user = await create_organization(session, name, f"admin@{name.lower()}.example")
        await session.commit()
    return Tenant(org.id, user.id, org.secret, user.secret)


@pytest.fixture
async def tenant(sessionmaker: async_sessionmaker[AsyncSession]) -> Tenant:
    """An organization and its first user."""
    return await _tenant(sessionmaker, "Acme")


@pytest.fixture
async def other_tenant(sessionmaker: async_sessionmaker[AsyncSession]) -> Tenant:
    """A second, unrelated organization."""
    return await _tenant(sessionmaker, "Globex")


TOKEN_ENDPOINTS = {
    "microsoft": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    "google": "https://oauth2.googleapis.com/token",
    "docushare": "https://mysite.docushareflex.com/oauth2/token",
}


def _token_endpoint(request: httpx.Request) -> httpx.Response:
    """A provider token endpoint: every code works except ``invalid``, like the sandbox."""
    form = dict(httpx.QueryParams(request.content.decode()))
    if form.get("code") == "invalid" or form.get("refresh_token") == "revoked":
        return httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "AADSTS70000: The code is invalid.",
            },
        )
    return httpx.Response(
        200,
        json={
            "token_type": "Bearer",
            "expires_in": 3599,
            "scope": form.get("scope", ""),
            "access_token": f"access-{form.get('code', 'refreshed')}",
            "refresh_token": f"refresh-{form.get('code', 'rotated')}",
        },
    )


GRAPH_SUBSCRIPTIONS = "https://graph.microsoft.com/v1.0/subscriptions"


def _create_subscription(request: httpx.Request) -> httpx.Response:
    """Graph's POST /subscriptions, without the validation handshake."""
    body = json.loads(request.content)
    return httpx.Response(201, json={**body, "id": f"sub-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
def providers() -> Iterator[respx.MockRouter]:
    """The providers' token endpoints and Graph's subscriptions, mocked with respx."""
    with respx.mock(assert_all_called=False) as router:
        for url in TOKEN_ENDPOINTS.values():
            router.post(url).mock(side_effect=_token_endpoint)
        router.post(GRAPH_SUBSCRIPTIONS).mock(side_effect=_create_subscription)
        router.patch(url__startswith=f"{GRAPH_SUBSCRIPTIONS}/").respond(200, json={})
        router.delete(url__startswith=f"{GRAPH_SUBSCRIPTIONS}/").respond(204)
        yield router


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A client application's callback endpoint over real HTTP, and its URL."""
    recorder = Receiver()
    with LiveServer(recorder.app()) as server:
        yield recorder, f"{server.url}/events"


@pytest.fixture
def pollhub_server(
    settings_env: str, sessionmaker: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """pollhub as ``pollhub serve`` runs it (API + worker) with the sandbox providers, over
    real HTTP on its own port; polls may be as frequent as every second."""
    port = free_port()
    monkeypatch.setenv("POLLHUB_SANDBOX", "true")
    monkeypatch.setenv("POLLHUB_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("POLLHUB_MIN_REFRESH_SECONDS", "1")
    get_settings.cache_clear()
    with LiveServer(create_app(with_worker=True), port) as server:
        yield server.url
    get_settings.cache_clear()


@pytest.fixture
def repo_root() -> Path:
    """The repository's root folder."""
    return Path(__file__).resolve().parents[1]
