"""Custom elements (CONTRACT section 7): an organization's own elements, without code."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from pollhub.db.models import Instance
from pollhub.oauth.tokens import TokenKeeper
from pollhub.outbound.clients import fast_provider_client
from pollhub.polling import schedule
from pollhub.polling.poller import PollContext, poll_resource
from pollhub.settings import get_settings
from tests.conftest import Tenant
from tests.elements.test_definition import tickets
from tests.live import LiveServer

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
    assert created.json()["user"] == shown.json()["user"]  # the creator, in both answers
    assert created.json()["user"]["id"] == tenant.user_id
    for body in (created.json(), shown.json()):
        assert body["configuration"]["api.key"] == "********"
        assert "k-123-secret-value" not in str(body)
    instance = await session.scalar(select(Instance))
    assert instance is not None
    assert "api.key" not in instance.configuration
    assert instance.secrets["api.key"] == "k-123-secret-value"
    # Encrypted at rest: the stored columns hold no trace of the key.
    stored = (await session.execute(text("SELECT configuration, secrets FROM instances"))).one()
    assert "k-123-secret-value" not in f"{stored[0]} {stored[1]}"


async def test_a_basic_auth_instance_sends_its_credentials_and_never_shows_its_password(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    definition = tickets(
        authentication={
            "type": "basic",
            "usernameKey": "desk.user",
            "passwordKey": "desk.password",
        },
        configuration=[
            {"key": "desk.user", "type": "string", "required": True},
            {"key": "desk.password", "type": "secret", "required": True},
        ],
        resources={"tickets": {"path": "/tickets", "list": "data"}},
    )
    await register(client, tenant, definition)
    body = {
        "element": {"key": "tickets"},
        "name": "Desk",
        "configuration": {"desk.user": "agent", "desk.password": "pw-9-secret"},
    }
    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    token = f"{tenant.headers['Authorization']}, Element {created.json()['token']}"
    with respx.mock:
        provider = respx.get("https://api.example.com/v2/tickets").respond(
            200, json={"data": [{"id": 1}]}
        )
        listed = await client.get(f"{API}/hubs/general/tickets", headers={"Authorization": token})

    assert listed.status_code == 200, listed.text
    assert listed.json() == [{"id": 1}]
    sent = provider.calls.last.request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"agent:pw-9-secret").decode()
    assert created.json()["configuration"]["desk.password"] == "********"
    assert "pw-9-secret" not in created.text


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
    assert typed.status_code == 200, typed.text
    # Validated as an integer, read back as sent (Cloud Elements' configuration is text).
    assert typed.json()["configuration"]["tickets.limit"] == "50"


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


async def test_a_resources_date_format_is_checked_when_the_element_is_registered(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    resource = {"path": "/tickets", "datesConfiguration": {"updatedDateFormat": "yyyy-QQ"}}

    response = await client.post(
        f"{API}/elements", json=tickets(resources={"tickets": resource}), headers=tenant.headers
    )

    assert response.status_code == 400
    assert "resources.tickets.datesConfiguration" in response.json()["message"]


async def test_without_a_poller_configuration_each_resource_is_polled_by_updated_date(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    dates = {"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'"}
    resources = {
        "tickets": {
            "path": "/tickets",
            "filters": {"updated_at": {">": "updated_after"}},
            "datesConfiguration": dates,
        },
        "agents": {"path": "/agents"},
    }
    await register(client, tenant, tickets(resources=resources))

    created = await client.post(f"{API}/instances", json=instance_body(), headers=tenant.headers)

    poller = created.json()["configuration"]["event.poller.configuration"]
    assert poller["tickets"]["url"] == (
        "/hubs/general/tickets?where=updated_at>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'"
    )
    assert poller["tickets"]["datesConfiguration"]["updatedDateField"] == "updated_at"
    assert poller["agents"]["url"] == "/hubs/general/agents"


async def test_a_default_poller_entry_may_name_one_object_of_a_templated_resource(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Built and custom elements come from one builder: an entry such as "folders/root/items"
    # takes its id field and description from "folders/{folderId}/items", as built-ins do.
    resources = {
        "folders/{folderId}/items": {
            "path": "/folders/{folderId}/items",
            "idField": "uid",
            "description": "Items of one folder",
        }
    }
    poller = {"folders/root/items": {"url": "/hubs/general/folders/root/items"}}
    definition = tickets(resources=resources, defaultPollerConfiguration=poller)
    await register(client, tenant, definition)

    created = await client.post(f"{API}/instances", json=instance_body(), headers=tenant.headers)

    assert created.status_code == 200, created.text
    entry = created.json()["configuration"]["event.poller.configuration"]["folders/root/items"]
    assert entry == {"url": "/hubs/general/folders/root/items", "idField": "uid"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"baseUrl": "http://127.0.0.1:8080/api"}, "baseUrl"),
        ({"baseUrl": "http://10.1.2.3"}, "baseUrl"),
        (
            {
                "authentication": {
                    "type": "oauth2",
                    "authorizationUrl": "https://auth.example.com/authorize",
                    "tokenUrl": "http://169.254.169.254/latest/token",
                },
                "configuration": [],
            },
            "authentication.tokenUrl",
        ),
        (
            {"resources": {"tickets": {"path": "/t", "base": "http://localhost:9200"}}},
            "resources.tickets.base",
        ),
    ],
)
async def test_a_private_provider_address_is_refused_at_registration(
    client: httpx.AsyncClient, tenant: Tenant, changes: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{API}/elements", json=tickets(**changes), headers=tenant.headers)

    assert response.status_code == 400
    message = response.json()["message"]
    assert f"definition '{field}'" in message and "POLLHUB_ALLOW_PRIVATE_ADDRESSES" in message


async def test_an_operator_may_allow_private_provider_addresses(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_ADDRESSES", "true")
    get_settings.cache_clear()

    response = await client.post(
        f"{API}/elements", json=tickets(baseUrl="http://127.0.0.1:8080"), headers=tenant.headers
    )

    assert response.status_code == 200, response.text


async def test_a_host_from_the_configuration_is_checked_when_the_instance_is_created(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    site = {"key": "site.host", "type": "string", "required": True}
    definition = tickets(
        baseUrl="https://{site.host}/api",
        configuration=[{"key": "api.key", "type": "secret", "required": True}, site],
    )
    await register(client, tenant, definition)

    created = await client.post(
        f"{API}/instances",
        json=instance_body(**{"site.host": "127.0.0.1"}),
        headers=tenant.headers,
    )

    assert created.status_code == 400
    assert "'site.host'" in created.json()["message"]


async def test_a_poll_never_connects_to_a_private_address_once_they_are_refused(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hits: list[str] = []

    async def provider(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hits.append(scope["path"])
            await JSONResponse([])(scope, receive, send)

    with LiveServer(provider) as server:
        monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_ADDRESSES", "true")
        get_settings.cache_clear()
        definition = tickets(baseUrl=server.url, resources={"events": {"path": "/events"}})
        await register(client, tenant, definition)
        body = instance_body(
            **{
                "event.notification.enabled": True,
                "event.notification.callback.url": "https://client.example.com/events",
            }
        )
        created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
        assert created.status_code == 200, created.text
        monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_ADDRESSES", "false")  # the operator changed it
        get_settings.cache_clear()

        async with fast_provider_client() as http:
            context = PollContext(sessionmaker, TokenKeeper(sessionmaker), http, "worker")
            async with sessionmaker() as session:
                claims = await schedule.claim_due_polls(session, "worker", 10)
                await session.commit()
            results = [await poll_resource(context, claim) for claim in claims]

    assert results == ["provider error"]
    assert hits == [], "nothing reached the private address"
    status = await client.get(
        f"{API}/instances/{created.json()['id']}/poller", headers=tenant.headers
    )
    assert "refused" in status.json()[0]["lastError"]


async def test_a_key_declared_secret_later_is_masked_from_then_on(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    api_key = {"key": "api.key", "type": "secret", "required": True}
    owner = {"key": "tickets.owner", "type": "string"}
    await register(client, tenant, tickets(configuration=[api_key, owner]))
    body = instance_body(**{"tickets.owner": "ann@example.com"})
    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert created.json()["configuration"]["tickets.owner"] == "ann@example.com"

    secret_owner = {**owner, "type": "secret"}
    await client.put(
        f"{API}/elements/tickets",
        json=tickets(configuration=[api_key, secret_owner]),
        headers=tenant.headers,
    )
    shown = await client.get(f"{API}/instances/{created.json()['id']}", headers=tenant.headers)

    assert shown.json()["configuration"]["tickets.owner"] == "********"
