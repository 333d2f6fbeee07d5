"""Security properties a skeptical operator checks: isolation on every instance route,
no secret in any response or log line, and throttled secret guessing."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
import respx

from pollhub.app import create_app
from tests import seeds
from tests.conftest import Tenant

API = "/elements/api-v2"


def _instance_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the API that names an instance and needs a tenant."""
    paths = create_app().openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in sorted(paths.items())
        if path.startswith(f"{API}/instances/{{")
        for method in sorted(operations)
    ]


def test_the_route_list_covers_the_instance_api() -> None:
    paths = {path for _, path in _instance_routes()}

    assert f"{API}/instances/{{instance_id}}" in paths
    assert f"{API}/instances/{{instance_id}}/events" in paths
    assert f"{API}/instances/{{instance_id}}/events/poll" in paths


@pytest.mark.parametrize(("method", "path"), _instance_routes())
async def test_every_instance_route_hides_another_organizations_instance(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    providers: respx.MockRouter,
    method: str,
    path: str,
) -> None:
    created = await client.post(
        f"{API}/instances", json=seeds.filled(seeds.ONEDRIVE), headers=tenant.headers
    )
    instance = created.json()
    url = re.sub(r"\{instance_id\}", str(instance["id"]), path)
    url = re.sub(r"\{[a-z_]+\}", "x", url)  # any other path parameter

    response = await client.request(
        method, url, headers=other_tenant.headers, json={} if method in ("POST", "PATCH") else None
    )

    assert response.status_code in (404, 400), (method, url, response.text)
    assert response.status_code != 200
    assert instance["name"] not in response.text
    assert instance["token"] not in response.text


async def test_no_secret_appears_in_any_response_or_log_line(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = seeds.filled(seeds.GOOGLESUITE)
    body["configuration"]["event.notification.signature.key"] = "sig-key-7f3a"
    body["configuration"]["oauth.api.secret"] = "client-secret-9c1d"
    body["configuration"]["custom.password"] = "pw-5e2b"
    responses = [await client.post(f"{API}/instances", json=body, headers=tenant.headers)]
    instance_id = responses[0].json()["id"]
    for method, path in [
        ("GET", "/instances"),
        ("GET", f"/instances/{instance_id}"),
        ("PATCH", f"/instances/{instance_id}"),
        ("GET", f"/instances/{instance_id}/events"),
        ("GET", f"/instances/{instance_id}/poller"),
        ("POST", f"/instances/{instance_id}/events/poll"),
    ]:
        payload = (
            {"configuration": {"event.poller.refresh_interval": 20}} if method == "PATCH" else None
        )
        responses.append(
            await client.request(method, f"{API}{path}", headers=tenant.headers, json=payload)
        )

    seen = "\n".join(r.text for r in responses) + "\n" + caplog.text
    for secret in (
        "sig-key-7f3a",
        "client-secret-9c1d",
        "pw-5e2b",
        "access-a-good-authorization-code",
        "refresh-a-good-authorization-code",
        tenant.user_secret,
        tenant.organization_secret,
    ):
        assert secret not in seen
    assert json.loads(responses[1].text)[0]["configuration"]["custom.password"] == "********"
