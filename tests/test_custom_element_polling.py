"""Done when (issue 13): a custom element, registered without code, polls a real REST
server installed from npm (json-server) — creations, updates and deletions there arrive as
CREATED, UPDATED and DELETED callbacks exactly once, with paging and the date filter on
the wire (json-server's own request log)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pollhub.settings import get_settings
from tests.conftest import Tenant
from tests.jsonserver import JsonServer, json_server
from tests.live import Receiver

API = "/elements/api-v2"
DATE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"  # what JavaScript's toISOString writes


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tickets_element(base_url: str) -> dict[str, Any]:
    """The README's example (json-server's tickets), with pages of two to see paging."""
    return {
        "key": "tickets",
        "name": "Tickets",
        "hub": "general",
        "baseUrl": base_url,
        "authentication": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "configKey": "tickets.api.key",
        },
        "configuration": [
            {"key": "tickets.api.key", "label": "API key", "type": "secret", "required": True}
        ],
        "resources": {
            "tickets": {
                "path": "/tickets",
                "query": {"_page": "1", "_sort": "id"},
                "list": "",
                "idField": "id",
                "pagination": {"type": "linkHeader"},
                "pageSize": {"param": "_limit", "default": 2},
                "filters": {"updatedAt": {">=": "updatedAt_gte"}},
                "deletedWhen": "deleted = true",
                "datesConfiguration": {
                    "updatedDateField": "updatedAt",
                    "updatedDateFormat": DATE_FORMAT,
                    "createdDateField": "createdAt",
                    "createdDateFormat": DATE_FORMAT,
                },
            }
        },
    }


@pytest.fixture
def tickets_server(tmp_path: Path) -> Iterator[JsonServer]:
    old = "2020-01-01T00:00:00.000Z"
    existing = {"id": 1, "title": "old", "createdAt": old, "updatedAt": old}
    with json_server(tmp_path, {"tickets": [existing]}) as server:
        yield server


@pytest.fixture
async def http(pollhub_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pollhub_server, timeout=30) as client:
        yield client


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.2)


async def test_a_custom_element_polls_json_server_and_reports_each_change_once(
    http: httpx.AsyncClient,
    tenant: Tenant,
    receiver: tuple[Receiver, str],
    tickets_server: JsonServer,
) -> None:
    recorder, callback_url = receiver
    registered = await http.post(
        f"{API}/elements", json=tickets_element(tickets_server.url), headers=tenant.headers
    )
    assert registered.status_code == 200, registered.text
    where = f"updatedAt>='${{gmtDate:{DATE_FORMAT}}}'"
    body = {
        "element": {"key": "tickets"},
        "name": "Support tickets",
        "configuration": {
            "tickets.api.key": "tk-secret-1",
            "event.notification.enabled": True,
            "event.notification.callback.url": callback_url,
            "event.poller.refresh_interval": "0.02",  # ~1 s, floored by the settings
            # pollDelay: a ticket written while a poll runs is still in the next window.
            "event.poller.configuration": {
                "tickets": {"url": f"/hubs/general/tickets?where={where}", "pollDelay": 5}
            },
        },
    }
    created = await http.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    assert created.json()["configuration"]["tickets.api.key"] == "********"
    instance_id = created.json()["id"]

    async def baselined() -> bool:
        status = await http.get(f"{API}/instances/{instance_id}/poller", headers=tenant.headers)
        return all(s["baselined"] for s in status.json())

    await wait_for(baselined)
    tickets = httpx.AsyncClient(base_url=tickets_server.url, timeout=30)

    async def arrived(count: int) -> None:
        async def enough() -> bool:
            return len(recorder.events()) >= count

        await wait_for(enough)

    for title in ("printer", "vpn", "laptop"):  # three new tickets: two pages of two
        stamp = now()
        await tickets.post(
            "/tickets", json={"title": title, "createdAt": stamp, "updatedAt": stamp}
        )
    await arrived(3)
    await tickets.patch("/tickets/3", json={"title": "vpn (again)", "updatedAt": now()})
    await arrived(4)
    await tickets.patch("/tickets/4", json={"deleted": True, "updatedAt": now()})
    await arrived(5)
    await asyncio.sleep(3)  # a few more polls, over overlapping windows: nothing more
    await tickets.aclose()

    received = [(e["objectType"], e["objectId"], e["eventType"]) for e in recorder.events()]
    assert Counter(received) == Counter(
        [
            ("tickets", "2", "CREATED"),
            ("tickets", "3", "CREATED"),
            ("tickets", "4", "CREATED"),
            ("tickets", "3", "UPDATED"),
            ("tickets", "4", "DELETED"),
        ]
    )
    event_ids = [c.json["message"]["eventId"] for c in recorder.callbacks]
    assert len(event_ids) == len(set(event_ids)), "a notification arrived twice"
    assert {e["elementKey"] for e in recorder.events()} == {"tickets"}
    polls = [r for r in tickets_server.requests() if r.startswith("GET /tickets?")]
    assert any("_page=2" in r and "_limit=2" in r for r in polls), polls
    assert all("updatedAt_gte=" in r for r in polls), polls


async def test_the_hub_api_reads_a_custom_elements_resource_at_json_server(
    client: httpx.AsyncClient,
    tenant: Tenant,
    tickets_server: JsonServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_ADDRESSES", "true")  # json-server is local
    get_settings.cache_clear()
    await client.post(
        f"{API}/elements", json=tickets_element(tickets_server.url), headers=tenant.headers
    )
    body = {
        "element": {"key": "tickets"},
        "name": "Support tickets",
        "configuration": {"tickets.api.key": "tk-secret-1"},
    }
    created = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    headers = {
        "Authorization": f"{tenant.headers['Authorization']}, Element {created.json()['token']}"
    }
    async with httpx.AsyncClient(base_url=tickets_server.url, timeout=30) as tickets:
        for title in ("printer", "vpn", "laptop"):
            await tickets.post("/tickets", json={"title": title, "updatedAt": now()})

    where = {"where": "updatedAt>='2026-01-01T00:00:00.000Z'"}
    first = await client.get(f"{API}/hubs/general/tickets", params=where, headers=headers)
    following = await client.get(
        f"{API}/hubs/general/tickets",
        params={**where, "nextPage": first.headers["Elements-Next-Page-Token"]},
        headers=headers,
    )
    one = await client.get(f"{API}/hubs/general/tickets/1", headers=headers)

    assert first.status_code == 200, first.text
    assert [t["title"] for t in first.json() + following.json()] == ["printer", "vpn", "laptop"]
    assert one.json()["title"] == "old"
    sent = tickets_server.requests()
    assert any("updatedAt_gte=2026-01-01T00" in r and "_page=2" in r for r in sent), sent
