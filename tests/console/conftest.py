"""Fixtures of the console tests: an in-process client that keeps cookies, and signing in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.app import create_app
from pollhub.settings import get_settings
from tests.conftest import Tenant

# HTTPS, as in production: the session cookie is Secure and a client only sends it there.
CONSOLE_URL = "https://pollhub.test"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def console(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the console (cookies kept, redirects not followed), served
    at its public URL."""
    monkeypatch.setenv("POLLHUB_PUBLIC_URL", CONSOLE_URL)
    get_settings.cache_clear()
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=CONSOLE_URL) as http:
            yield http


def csrf_token(page: httpx.Response) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(console: httpx.AsyncClient, tenant: Tenant) -> str:
    """Sign in as ``tenant``'s user; returns the session's CSRF token."""
    page = await console.get("/sign-in")
    answer = await console.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(page),
            "organization_secret": tenant.organization_secret,
            "user_secret": tenant.user_secret,
        },
    )
    assert answer.status_code == 303, answer.text
    return csrf_token(await console.get("/instances"))
