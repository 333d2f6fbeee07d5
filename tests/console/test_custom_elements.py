"""The console shows an organization's own elements and creates instances of them."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Tenant
from tests.console.conftest import sign_in
from tests.elements.test_definition import tickets

API = "/elements/api-v2"
TICKETS = tickets(
    resources={
        "tickets": {
            "path": "/tickets",
            "list": "",
            "idField": "id",
            "datesConfiguration": {"updatedDateField": "updatedAt"},
        }
    }
)


async def test_the_elements_page_shows_the_organizations_own_elements_only_to_it(
    console: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    registered = await console.post(f"{API}/elements", json=TICKETS, headers=tenant.headers)
    assert registered.status_code == 200, registered.text

    token = await sign_in(console, tenant)
    mine = await console.get("/elements")
    await console.post("/sign-out", data={"csrf_token": token})
    await sign_in(console, other_tenant)
    theirs = await console.get("/elements")
    connect = await console.get("/instances/new/tickets")

    assert "Tickets" in mine.text and "your own element" in mine.text
    assert "Tickets" not in theirs.text
    assert connect.status_code == 404


async def test_an_api_key_element_is_created_without_oauth_and_its_key_never_shown(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    await console.post(f"{API}/elements", json=TICKETS, headers=tenant.headers)
    token = await sign_in(console, tenant)

    choose = await console.get("/instances/new")
    connect = await console.get("/instances/new/tickets")
    missing = await console.post("/instances/new/tickets", data={"csrf_token": token})
    given = await console.post(
        "/instances/new/tickets",
        data={"csrf_token": token, "config-api-key": "k-987-very-secret"},
    )
    details = await console.get("/instances/new/tickets/details")
    created = await console.post(
        "/instances/new/tickets/details",
        data={
            "csrf_token": token,
            "name": "Support desk",
            "events_enabled": "on",
            "callback_url": "https://client.example.com/events",
            "refresh_interval": "15",
            "resources": "0",
            "resource-0": json.dumps({"url": "/hubs/general/tickets", "idField": "id"}),
        },
    )

    assert "Tickets" in choose.text
    assert 'type="password"' in connect.text and "OAuth client id" not in connect.text
    assert missing.status_code == 400 and "api.key" in missing.text
    assert given.status_code == 303
    assert given.headers["location"].endswith("/instances/new/tickets/details")
    assert "/hubs/general/tickets" in details.text
    assert created.status_code == 303, created.text
    listed = (await console.get(f"{API}/instances", headers=tenant.headers)).json()
    assert [(i["element"]["key"], i["configuration"]["api.key"]) for i in listed] == [
        ("tickets", "********")
    ]
    for page in ("/instances", "/instances/new/tickets", "/elements"):
        assert "k-987-very-secret" not in (await console.get(page)).text
