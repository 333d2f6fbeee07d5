"""Console URLs (issue 16, item 10): redirects and links are built on POLLHUB_PUBLIC_URL,
whatever Host header the request carries."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant
from tests.console.conftest import CONSOLE_URL, sign_in

EVIL = {"Host": "evil.example"}


async def test_a_redirect_never_follows_the_host_header(console: httpx.AsyncClient) -> None:
    answer = await console.get("/", headers=EVIL)

    assert answer.status_code == 303
    assert answer.headers["location"] == f"{CONSOLE_URL}/sign-in"


async def test_links_and_forms_never_follow_the_host_header(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(console, tenant)

    page = await console.get("/instances", headers=EVIL)

    assert page.status_code == 200
    assert "evil.example" not in page.text
    assert f'action="{CONSOLE_URL}/sign-out"' in page.text
