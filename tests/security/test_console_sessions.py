"""Console sessions (issue 16, item 7): signing out, or rotating the user's secret, ends
every session of the user on the server; a cookie captured before is worthless."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.tenancy.service import rotate_user_secret
from tests.conftest import Tenant
from tests.console.conftest import sign_in
from tests.security.conftest import other_browser


async def test_a_cookie_captured_before_sign_out_is_refused_even_for_posts(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    token = await sign_in(console, tenant)
    captured = dict(console.cookies)

    await console.post("/sign-out", data={"csrf_token": token})
    async with other_browser(console, captured) as attacker:
        post = await attacker.post("/instances/1/poll", data={"csrf_token": token})
        page = await attacker.get("/instances")

    assert page.status_code == 303 and page.headers["location"].endswith("/sign-in")
    assert post.status_code == 303 and post.headers["location"].endswith("/sign-in")


async def test_signing_out_ends_the_users_sessions_in_every_browser(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with other_browser(console, {}) as laptop:
        await sign_in(laptop, tenant)
        token = await sign_in(console, tenant)

        await console.post("/sign-out", data={"csrf_token": token})

        assert (await laptop.get("/instances")).status_code == 303


async def test_rotating_a_users_secret_ends_its_sessions(
    console: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    await sign_in(console, tenant)
    assert (await console.get("/instances")).status_code == 200

    await rotate_user_secret(session, tenant.user_id)
    await session.commit()

    assert (await console.get("/instances")).status_code == 303
