"""Custom elements (CONTRACT section 7): an organization's own elements, without code."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance
from tests.conftest import Tenant
from tests.elements.test_definition import tickets

API = "/elements/api-v2"


def oauth_tickets() -> dict[str, Any]:
    """A custom element whose instances authorize with OAuth 2.0."""
    return tickets(
        key="helpdesk",
        name="Helpdesk",
        authentication={
            "type": "oauth2",
            "authorizationUrl": "https://auth.helpdesk.example/authorize",
            "tokenUrl": "https://auth.helpdesk.example/token",
            "scope": "tickets.read offline",
            "authorizationParameters": {"prompt": "consent"},
        },
        configuration=[],
    )


async def register(client: httpx.AsyncClient, tenant: Tenant, definition: dict[str, Any]) -> None:
    response = await client.post(f"{API}/elements", json=definition, headers=tenant.headers)
    assert response.status_code == 200, response.text


def instance_body(key: str = "tickets", **configuration: Any) -> dict[str, Any]:
    return {
        "element": {"key": key},
        "name": "Support desk",
        "configuration": {"api.key": "k-123-secret-value", **configuration},
    }


async def test_a_registered_element_is_listed_and_shown_with_its_definition(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant, tickets())

    listed = await client.get(f"{API}/elements", headers=tenant.headers)
    shown = await client.get(f"{API}/elements/tickets", headers=tenant.headers)

    assert "tickets" in [e["key"] for e in listed.json()]
    element = shown.json()
    assert element["custom"] is True
    assert element["authentication"] == {
        "type": "apiKey",
        "authorizationUrl": None,
        "tokenUrl": None,
        "defaultScope": None,
    }
    assert element["definition"]["authentication"]["in"] == "header"
    assert element["configuration"][0]["key"] == "api.key"


async def test_another_organization_neither_sees_nor_uses_a_custom_element(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await register(client, tenant, tickets())
    headers = other_tenant.headers

    listed = await client.get(f"{API}/elements", headers=headers)
    shown = await client.get(f"{API}/elements/tickets", headers=headers)
    replaced = await client.put(f"{API}/elements/tickets", json=tickets(), headers=headers)
    deleted = await client.delete(f"{API}/elements/tickets", headers=headers)
    created = await client.post(f"{API}/instances", json=instance_body(), headers=headers)

    assert "tickets" not in [e["key"] for e in listed.json()]
    assert [shown.status_code, replaced.status_code, deleted.status_code] == [404, 404, 404]
    assert created.status_code == 400
    assert "unknown element 'tickets'" in created.json()["message"]


async def test_the_same_key_in_two_organizations_is_two_elements(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    await register(client, tenant, tickets())
    await register(client, other_tenant, tickets(name="Their tickets"))

    mine = await client.get(f"{API}/elements/tickets", headers=tenant.headers)

    assert mine.json()["name"] == "Tickets"


@pytest.mark.parametrize("key", ["tickets", "onedrivev2"])
async def test_a_key_already_taken_is_a_409(
    client: httpx.AsyncClient, tenant: Tenant, key: str
) -> None:
    await register(client, tenant, tickets())

    response = await client.post(f"{API}/elements", json=tickets(key=key), headers=tenant.headers)

    assert response.status_code == 409
    assert key in response.json()["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"baseUrl": "not a url"}, "baseUrl"),
        ({"authentication": {"type": "apiKey", "in": "cookie"}}, "authentication.apiKey.in"),
        ({"configuration": [{"key": "Api Key"}]}, "configuration.0.key"),
        ({"name": ""}, "name"),
        ({"resources": {"tickets": {"list": "data"}}}, "resources.tickets.path"),
        (
            {"resources": {"tickets": {"path": "/t", "pagination": {"type": "cursor"}}}},
            "resources.tickets.pagination",
        ),
        ({"resources": {"tickets": {"path": "/t", "changeFeed": "delta"}}}, "changeFeed"),
        ({"eventMechanisms": ["webhook"]}, "eventMechanisms"),
    ],
)
async def test_a_malformed_definition_is_a_400_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{API}/elements", json=tickets(**changes), headers=tenant.headers)

    assert response.status_code == 400
    assert field in response.json()["message"]
    assert (await client.get(f"{API}/elements/tickets", headers=tenant.headers)).status_code == 404


async def test_put_replaces_the_definition_and_must_keep_the_key(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant, tickets())

    renamed = await client.put(
        f"{API}/elements/tickets", json=tickets(name="Support tickets"), headers=tenant.headers
    )
    rekeyed = await client.put(
        f"{API}/elements/tickets", json=tickets(key="issues"), headers=tenant.headers
    )
    builtin = await client.put(
        f"{API}/elements/onedrivev2", json=tickets(key="onedrivev2"), headers=tenant.headers
    )

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Support tickets"
    assert rekeyed.status_code == 400
    assert "'key'" in rekeyed.json()["message"]
    assert builtin.status_code == 409


async def test_an_element_in_use_cannot_be_deleted_until_its_instances_are(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant, tickets())
    created = await client.post(f"{API}/instances", json=instance_body(), headers=tenant.headers)
    assert created.status_code == 200, created.text

    refused = await client.delete(f"{API}/elements/tickets", headers=tenant.headers)
    await client.delete(f"{API}/instances/{created.json()['id']}", headers=tenant.headers)
    deleted = await client.delete(f"{API}/elements/tickets", headers=tenant.headers)

    assert refused.status_code == 409
    assert "used by 1 instance" in refused.json()["message"]
    assert deleted.status_code == 200
    gone = await client.get(f"{API}/elements/tickets", headers=tenant.headers)
    assert gone.status_code == 404


async def test_an_api_key_instance_needs_no_code_and_never_shows_its_key(
    client: httpx.AsyncClient, tenant: Tenant, session: AsyncSession
) -> None:
    await register(client, tenant, tickets())

    created = await client.post(f"{API}/instances", json=instance_body(), headers=tenant.headers)
    shown = await client.get(f"{API}/instances/{created.json()['id']}", headers=tenant.headers)

    assert created.status_code == 200, created.text
    assert created.json()["element"] == {"key": "tickets", "name": "Tickets", "hub": "general"}
    for body in (created.json(), shown.json()):
        assert body["configuration"]["api.key"] == "********"
        assert "k-123-secret-value" not in str(body)
    instance = await session.scalar(select(Instance))
    assert instance is not None
    assert "api.key" not in instance.configuration
    assert instance.secrets["api.key"] == "k-123-secret-value"


async def test_an_instance_is_checked_against_the_elements_configuration_keys(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    definition = tickets(
        configuration=[
            {"key": "api.key", "type": "secret", "required": True},
            {"key": "tickets.limit", "type": "integer", "validation": {"maximum": 100}},
        ]
    )
    await register(client, tenant, definition)
    missing = {"element": {"key": "tickets"}, "name": "n", "configuration": {}}

    no_key = await client.post(f"{API}/instances", json=missing, headers=tenant.headers)
    too_big = await client.post(
        f"{API}/instances", json=instance_body(**{"tickets.limit": "500"}), headers=tenant.headers
    )
    typed = await client.post(
        f"{API}/instances", json=instance_body(**{"tickets.limit": "50"}), headers=tenant.headers
    )

    assert no_key.status_code == 400
    assert "configuration 'api.key' is required" in no_key.json()["message"]
    assert too_big.status_code == 400
    assert "configuration 'tickets.limit': must be at most 100" in too_big.json()["message"]
    assert typed.json()["configuration"]["tickets.limit"] == 50


async def test_an_oauth_element_exchanges_the_code_at_its_own_token_endpoint(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant, oauth_tickets())
    body = {
        "element": {"key": "helpdesk"},
        "name": "Helpdesk",
        "providerData": {"code": "the-code"},
        "configuration": {"oauth.api.key": "client", "oauth.api.secret": "client-secret"},
    }
    with respx.mock() as provider:
        token = provider.post("https://auth.helpdesk.example/token").respond(
            200,
            json={"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600},
        )
        created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    url = await client.get(
        f"{API}/elements/helpdesk/oauth/url",
        params={"apiKey": "client", "callbackUrl": "https://app.example/cb"},
        headers=tenant.headers,
    )

    assert created.status_code == 200, created.text
    assert b"code=the-code" in token.calls.last.request.content
    assert "at-1" not in created.text and "client-secret" not in created.text
    oauth_url = url.json()["oauthUrl"]
    assert oauth_url.startswith("https://auth.helpdesk.example/authorize?")
    assert "prompt=consent" in oauth_url and "scope=tickets.read+offline" in oauth_url


async def test_the_openapi_document_describes_custom_elements(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    paths = document["paths"]
    assert {"post", "get"} <= set(paths[f"{API}/elements"])
    assert {"get", "put", "delete"} <= set(paths[f"{API}/elements/{{key}}"])
    assert "ElementDefinition" in document["components"]["schemas"]
