"""Security headers (issue 16, item 12): every API answer and the docs say nosniff; the
Graph validation echo is plain text that no browser will sniff into HTML."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant

API = "/elements/api-v2"


@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json", f"{API}/instances"])
async def test_api_and_docs_answers_carry_the_security_headers(
    client: httpx.AsyncClient, tenant: Tenant, path: str
) -> None:
    response = await client.get(path, headers=tenant.headers)

    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_api_answers_are_not_cached(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(f"{API}/instances", headers=tenant.headers)

    assert response.headers["Cache-Control"] == "no-store"


async def test_errors_carry_them_too(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/instances")

    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_graph_validation_echo_is_plain_text_never_sniffed(
    client: httpx.AsyncClient,
) -> None:
    token = "<script>alert(1)</script>"
    response = await client.post(
        f"{API}/events/microsoftgraph/1", params={"validationToken": token}
    )

    assert response.status_code == 200
    assert response.text == token
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
