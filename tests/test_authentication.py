"""The Authorization header: User and Organization secrets, errors as {requestId, message}."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.tenancy.service import rotate_user_secret
from tests.conftest import Tenant

INSTANCES = "/elements/api-v2/instances"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "User only-a-user",
        "User a, Organization b, Element",
        "User a, User b, Organization c",
    ],
)
async def test_a_missing_or_malformed_header_is_a_401(
    client: httpx.AsyncClient, tenant: Tenant, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}

    response = await client.get(INSTANCES, headers=headers)

    assert response.status_code == 401
    assert set(response.json()) == {"requestId", "message"}


async def test_wrong_secrets_are_a_401(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    wrong_user = f"User nope, Organization {tenant.organization_secret}"
    wrong_org = f"User {tenant.user_secret}, Organization nope"
    mixed = f"User {tenant.user_secret}, Organization {other_tenant.organization_secret}"

    for header in (wrong_user, wrong_org, mixed):
        response = await client.get(INSTANCES, headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_the_right_secrets_in_any_order_and_case_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    header = f"organization {tenant.organization_secret},user {tenant.user_secret}"

    response = await client.get(INSTANCES, headers={"Authorization": header})

    assert response.status_code == 200


async def test_errors_carry_a_request_id_that_matches_the_response_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(INSTANCES)

    assert response.json()["requestId"] == response.headers["X-Request-Id"]


async def test_an_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/elements/api-v2/nothing-here")

    assert response.status_code == 404
    assert set(response.json()) == {"requestId", "message"}


async def test_a_body_that_is_not_json_is_a_400(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        INSTANCES,
        content=b"{not json",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


async def test_a_non_numeric_instance_id_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(f"{INSTANCES}/abc", headers=tenant.headers)

    assert response.status_code == 400
    assert "instance_id" in response.json()["message"]


async def test_health_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = await client.get("/openapi.json")
    docs = await client.get("/docs")

    assert "/elements/api-v2/instances" in schema.json()["paths"]
    assert docs.status_code == 200


async def test_requests_sent_at_once_are_each_authenticated_or_refused_by_their_own_secrets(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    wrong = {"Authorization": f"User nope, Organization {tenant.organization_secret}"}
    sent = [tenant.headers, other_tenant.headers, wrong] * 10

    answers = await asyncio.gather(*(client.get(INSTANCES, headers=h) for h in sent))

    assert [a.status_code for a in answers] == [200, 200, 401] * 10


async def test_wrong_secrets_sent_at_once_each_count_as_a_failed_attempt(
    client: httpx.AsyncClient,
) -> None:
    wrong = {"Authorization": "User guess, Organization guess"}

    at_once = await asyncio.gather(*(client.get(INSTANCES, headers=wrong) for _ in range(30)))
    after = await client.get(INSTANCES, headers=wrong)

    assert {a.status_code for a in at_once} == {401}
    assert after.status_code == 429  # 30 failures counted, as if sent one by one


async def test_a_rotated_user_secret_is_refused_by_the_very_next_request(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    assert (await client.get(INSTANCES, headers=tenant.headers)).status_code == 200

    rotated = await rotate_user_secret(session, tenant.user_id)
    await session.commit()

    old = await client.get(INSTANCES, headers=tenant.headers)
    new = await client.get(
        INSTANCES,
        headers={
            "Authorization": f"User {rotated.secret}, Organization {tenant.organization_secret}"
        },
    )
    assert old.status_code == 401
    assert new.status_code == 200
