"""Polling a custom element: its credentials go with every request, never into what an
operator or a client can read back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import respx
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from tests.conftest import Tenant
from tests.elements.test_definition import tickets
from tests.polling.conftest import RunPolls, delivered_events

API = "/elements/api-v2"
TICKETS = "https://api.example.com/v2/tickets"
KEY = "k-very-secret-123"


def definition() -> dict[str, Any]:
    return tickets(
        authentication={"type": "apiKey", "in": "query", "name": "key", "configKey": "api.key"},
        resources={
            "tickets": {
                "path": "/tickets",
                "list": "data",
                "pagination": {"type": "nextLink", "field": "next"},
                "datesConfiguration": {"updatedDateField": "updated"},
            }
        },
    )


async def create(client: httpx.AsyncClient, tenant: Tenant) -> int:
    registered = await client.post(f"{API}/elements", json=definition(), headers=tenant.headers)
    assert registered.status_code == 200, registered.text
    body = {
        "element": {"key": "tickets"},
        "name": "Tickets",
        "configuration": {
            "api.key": KEY,
            "event.notification.enabled": True,
            "event.notification.callback.url": "https://client.example.com/events",
        },
    }
    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    instance_id: int = created.json()["id"]
    return instance_id


async def test_every_page_carries_the_api_key_and_changes_are_reported(
    client: httpx.AsyncClient, tenant: Tenant, run_polls: RunPolls, session: AsyncSession
) -> None:
    await create(client, tenant)
    pages = {
        "1": {"data": [{"id": 1, "updated": "2001-01-01T00:00:00Z"}], "next": f"{TICKETS}?p=2"},
        "2": {"data": [{"id": 2, "updated": "2001-01-01T00:00:00Z"}], "next": None},
    }
    with respx.mock() as provider:
        route = provider.get(url__startswith=TICKETS).mock(
            side_effect=lambda r: httpx.Response(200, json=pages[r.url.params.get("p", "1")])
        )
        await run_polls()  # the baseline
        clock.advance(timedelta(minutes=1))
        pages["2"]["data"].append({"id": 3, "updated": clock.now().isoformat()})
        clock.advance(timedelta(hours=1))
        await run_polls()

    assert [dict(call.request.url.params) for call in route.calls] == [
        {"key": KEY},
        {"p": "2", "key": KEY},
    ] * 2
    events = await delivered_events(session)
    assert [(e["objectId"], e["eventType"]) for e in events] == [("3", "CREATED")]


async def test_a_failing_poll_shows_its_error_without_the_key(
    client: httpx.AsyncClient, tenant: Tenant, run_polls: RunPolls
) -> None:
    instance_id = await create(client, tenant)
    with respx.mock() as provider:
        provider.get(url__startswith=TICKETS).respond(500, text=f"boom for key={KEY}")
        await run_polls()

    status = await client.get(f"{API}/instances/{instance_id}/poller", headers=tenant.headers)

    assert status.json()[0]["lastResult"] == "provider error"
    assert KEY not in status.text


async def test_an_oauth_custom_element_refreshes_its_token_at_its_own_endpoint(
    client: httpx.AsyncClient, tenant: Tenant, run_polls: RunPolls
) -> None:
    token_url = "https://auth.example.com/token"
    oauth = {
        "type": "oauth2",
        "authorizationUrl": "https://auth.example.com/authorize",
        "tokenUrl": token_url,
    }
    element = {**definition(), "authentication": oauth, "configuration": []}
    await client.post(f"{API}/elements", json=element, headers=tenant.headers)
    body = {
        "element": {"key": "tickets"},
        "name": "Tickets",
        "providerData": {"code": "c1"},
        "configuration": {
            "oauth.api.key": "id",
            "oauth.api.secret": "secret",
            "event.notification.enabled": True,
            "event.notification.callback.url": "https://client.example.com/events",
        },
    }
    with respx.mock() as provider:
        tokens = provider.post(token_url).mock(
            side_effect=[
                httpx.Response(
                    200, json={"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 60}
                ),
                httpx.Response(200, json={"access_token": "at-2", "expires_in": 3600}),
            ]
        )
        listed = provider.get(url__startswith=TICKETS).respond(200, json={"data": []})
        created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
        assert created.status_code == 200, created.text
        await run_polls()  # the token expires within minutes: refreshed first

    assert b"grant_type=refresh_token" in tokens.calls.last.request.content
    assert b"refresh_token=rt-1" in tokens.calls.last.request.content
    assert listed.calls.last.request.headers["Authorization"] == "Bearer at-2"
