"""Bounds on what a client sends (issue 16, items 5, 8, 9): refresh intervals, ids, tags and
configuration sizes are refused with a 400 (or a 404 page), never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from pollhub.settings import get_settings
from tests import seeds
from tests.conftest import Tenant
from tests.console.conftest import sign_in

API = "/elements/api-v2"
INTERVAL = "event.poller.refresh_interval"


def onedrive(**configuration: Any) -> dict[str, Any]:
    body = seeds.filled(seeds.ONEDRIVE)
    body["configuration"].update(configuration)
    return body


@pytest.mark.parametrize("minutes", ["Infinity", "NaN", 1e308, 43_201, True, "1e400"])
async def test_a_refresh_interval_out_of_bounds_is_a_400_naming_it(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, minutes: Any
) -> None:
    response = await client.post(
        f"{API}/instances", json=onedrive(**{INTERVAL: minutes}), headers=tenant.headers
    )

    assert response.status_code == 400, response.text
    assert INTERVAL in response.json()["message"]


async def test_a_json_number_too_large_for_a_float_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = json.dumps(onedrive(**{INTERVAL: 15})).replace('": 15', '": 1e400')

    response = await client.post(
        f"{API}/instances",
        content=body,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text


@pytest.mark.parametrize("schema", ["InstanceCreate", "InstanceUpdate"])
async def test_the_api_schema_publishes_the_refresh_interval_bounds(
    client: httpx.AsyncClient, schema: str
) -> None:
    # What the schemathesis run (tests/test_fuzz.py) generates from: the bounds must be in
    # the schema for it to try values at and beyond them.
    document = (await client.get("/openapi.json")).json()

    configuration = document["components"]["schemas"][schema]["properties"]["configuration"]
    forms = configuration["properties"][INTERVAL]["anyOf"]
    [number] = [form for form in forms if form["type"] == "number"]
    assert number["maximum"] == 43_200
    assert number["exclusiveMinimum"] == 0


async def test_patching_a_huge_refresh_interval_is_a_400_and_the_longest_is_kept(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    created = await client.post(
        f"{API}/instances", json=onedrive(**{INTERVAL: 43_200}), headers=tenant.headers
    )
    url = f"{API}/instances/{created.json()['id']}"

    refused = await client.patch(
        url, json={"configuration": {INTERVAL: 1e10}}, headers=tenant.headers
    )

    assert created.status_code == 200
    assert refused.status_code == 400 and INTERVAL in refused.json()["message"]


@pytest.mark.parametrize(
    "path", ["/instances/2147483648/events", "/instances/99999999999999999999/delete"]
)
async def test_console_ids_beyond_32_bits_are_a_404_page(
    console: httpx.AsyncClient, tenant: Tenant, path: str
) -> None:
    await sign_in(console, tenant)

    page = await console.get(path)

    assert page.status_code == 404


async def test_a_console_event_id_with_a_nul_is_a_404_page(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(console, tenant)

    page = await console.get("/instances/1/events/bad%00id")

    assert page.status_code == 404


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"tags": ["x" * 201]}, "tags"),
        ({"configuration": {f"custom.k{i}": "v" for i in range(101)}}, "configuration"),
        ({"configuration": {"custom.big": "x" * 70_000}}, "configuration"),
    ],
)
async def test_tags_and_configuration_over_the_limits_are_a_400(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    change: dict[str, Any],
    named: str,
) -> None:
    body = onedrive()
    body["tags"] = change.get("tags", [])
    body["configuration"].update(change.get("configuration", {}))
    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    fine = await client.post(f"{API}/instances", json=onedrive(), headers=tenant.headers)
    patched = await client.patch(
        f"{API}/instances/{fine.json()['id']}", json=change, headers=tenant.headers
    )

    assert created.status_code == 400 and named in created.json()["message"]
    assert patched.status_code == 400 and named in patched.json()["message"]


async def test_the_limits_are_settings(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLLHUB_MAX_TAGS", "2")
    get_settings.cache_clear()
    body = onedrive()
    body["tags"] = ["a", "b", "c"]

    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)

    assert response.status_code == 400 and "at most 2 tags" in response.json()["message"]
