"""Failed authentication (issue 16, item 4): throttled per presented credential, per
address only as a high ceiling, never refusing a request that authenticates, counted in
the database so every API process sees the same counts; the console's sign-in too."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant
from tests.console.conftest import csrf_token
from tests.security.processes import ApiProcess

API = "/elements/api-v2"


def bad(n: int | str) -> dict[str, str]:
    return {"Authorization": f"User bad{n}, Organization bad{n}"}


async def test_a_flood_of_wrong_secrets_does_not_lock_out_anybody_else_on_that_address(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    guesses = [await client.get(f"{API}/instances", headers=bad(i)) for i in range(40)]
    rightful = await client.get(f"{API}/instances", headers=tenant.headers)

    assert {r.status_code for r in guesses} == {401}
    assert rightful.status_code == 200


async def test_retrying_one_wrong_credential_is_throttled(client: httpx.AsyncClient) -> None:
    answers = [await client.get(f"{API}/instances", headers=bad("same")) for _ in range(31)]

    assert [r.status_code for r in answers[:30]] == [401] * 30
    assert answers[30].status_code == 429
    assert set(answers[30].json()) == {"requestId", "message"}


async def test_the_console_sign_in_is_throttled_the_same_way(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = await console.get("/sign-in")
    form = {
        "csrf_token": csrf_token(page),
        "organization_secret": tenant.organization_secret,
        "user_secret": "not-the-user-secret",
    }
    answers = [await console.post("/sign-in", data=form) for _ in range(31)]
    rightful = await console.post("/sign-in", data={**form, "user_secret": tenant.user_secret})

    assert [r.status_code for r in answers[:30]] == [401] * 30
    assert answers[30].status_code == 429
    assert rightful.status_code == 303


async def test_counts_are_shared_by_api_processes_and_never_block_the_rightful(
    settings_env: str, sessionmaker: object, tenant: Tenant
) -> None:
    limits = {
        "POLLHUB_AUTH_FAILURES_PER_MINUTE": "4",
        "POLLHUB_AUTH_FAILURES_PER_ADDRESS_PER_MINUTE": "10",
    }
    with ApiProcess(limits) as first, ApiProcess(limits) as second:
        async with httpx.AsyncClient(timeout=30) as http:
            apis = [first.url, second.url]
            # One wrong credential, alternately at each process: the fifth failure is over
            # the shared per-credential limit, whichever process sees it.
            retries = [
                (await http.get(f"{apis[i % 2]}{API}/instances", headers=bad("x"))).status_code
                for i in range(6)
            ]
            # Distinct wrong credentials from the same address: over its ceiling (10).
            flood = [
                (await http.get(f"{apis[i % 2]}{API}/instances", headers=bad(i))).status_code
                for i in range(6)
            ]
            rightful = [
                (await http.get(f"{api}{API}/instances", headers=tenant.headers)).status_code
                for api in apis
            ]

    assert retries == [401, 401, 401, 401, 429, 429]
    assert flood == [401, 401, 401, 401, 429, 429]  # the address's 7th to 12th failures
    assert rightful == [200, 200]
