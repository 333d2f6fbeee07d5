"""End to end over real HTTP: pollhub with its sandbox providers and a worker, a client's
callback receiver, and random changes made at the providers. Every change must arrive at
the callback exactly once, with the right type — nothing missed, nothing extra."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests import seeds
from tests.conftest import Tenant
from tests.live import Receiver

API = "/elements/api-v2"
# (element, collection at the sandbox, resource polled, fields of an object by round)
SOURCES = [
    ("onedrivev2", "files", "events", lambda n: {"name": f"file-{n}.txt"}),
    ("docushareflex", "documents", "events", lambda n: {"title": f"doc-{n}"}),
    ("googlesuite", "contact-groups", "changed-groups", lambda n: {"name": f"group-{n}"}),
    (
        "googlesuite",
        "calendar-events",
        "calendars/primary/changed-events",
        lambda n: {"summary": f"meeting-{n}"},
    ),
    # Gmail: a message arrives, is relabelled (its only change), or is deleted.
    ("googlesuite", "messages", "changed-messages", lambda n: {"labelIds": ["INBOX", f"L{n}"]}),
]


@pytest.fixture
async def http(pollhub_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pollhub_server, timeout=30) as client:
        yield client


def _body(element: str, callback_url: str, resource: str) -> dict[str, Any]:
    seed = {
        "onedrivev2": seeds.ONEDRIVE,
        "docushareflex": seeds.DOCUSHAREFLEX,
        "googlesuite": seeds.GOOGLESUITE,
    }[element]
    body = seeds.filled(seed)
    configuration = body["configuration"]
    configuration["event.notification.callback.url"] = callback_url
    configuration["event.poller.refresh_interval"] = "0.02"  # ~1 s, floored by the settings
    if element == "docushareflex":
        configuration["docushare.domain"] = "demo.docushareflex.com"
    if element == "googlesuite":
        poller = configuration["event.poller.configuration"]
        configuration["event.poller.configuration"] = {resource: poller[resource]}
    body["name"] = f"{element}-{resource}"
    return body


async def _wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.2)


async def test_random_provider_changes_arrive_exactly_once_with_the_right_type(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    recorder, callback_url = receiver
    instances = {}
    for element, collection, resource, _ in SOURCES:
        created = await http.post(
            f"{API}/instances",
            json=_body(element, callback_url, resource),
            headers=tenant.headers,
        )
        assert created.status_code == 200, created.text
        instances[(element, collection)] = created.json()["id"]

    async def all_baselined() -> bool:
        for instance_id in instances.values():
            status = await http.get(f"{API}/instances/{instance_id}/poller", headers=tenant.headers)
            if not all(s["baselined"] for s in status.json()):
                return False
        return True

    await _wait_for(all_baselined)

    rng = random.Random(20261125)
    truth: list[tuple[str, str, str]] = []
    live: dict[tuple[str, str], list[str]] = {key: [] for key in instances}
    for round_number in range(3):
        for element, collection, resource, fields in SOURCES:
            objects = live[(element, collection)]
            action = rng.choice(["create", "create", "update", "delete"]) if objects else "create"
            control = f"/sandbox/control/{element}/{collection}"
            if action == "create":
                response = await http.post(control, json=fields(round_number))
                objects.append(response.json()["id"])
                object_id, event_type = response.json()["id"], "CREATED"
            else:
                object_id = objects.pop(rng.randrange(len(objects)))
                if action == "update":
                    objects.append(object_id)
                    response = await http.patch(
                        f"{control}/{object_id}", json=fields(round_number + 100)
                    )
                    event_type = "UPDATED"
                else:
                    response = await http.delete(f"{control}/{object_id}")
                    event_type = "DELETED"
            assert response.status_code < 300, response.text
            truth.append((resource, str(object_id), event_type))

        async def all_arrived(expected: int = len(truth)) -> bool:
            return len(recorder.events()) >= expected

        await _wait_for(all_arrived)

    await asyncio.sleep(2.5)  # a few more polls: nothing extra may arrive
    received = [(e["objectType"], e["objectId"], e["eventType"]) for e in recorder.events()]
    assert Counter(received) == Counter(_normalise(truth))
    event_ids = [c.json["message"]["eventId"] for c in recorder.callbacks]
    assert len(event_ids) == len(set(event_ids)), "a notification arrived twice"


def _normalise(truth: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Provider ids as pollhub reports them: People groups by the last path segment."""
    return [(r, o.rsplit("/", 1)[-1], t) for r, o, t in truth]


async def test_graph_calendar_changes_arrive_by_webhook(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    recorder, callback_url = receiver
    body = seeds.filled(seeds.MICROSOFTGRAPH)
    body["configuration"]["event.notification.callback.url"] = callback_url

    created = await http.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    live = (await http.get("/sandbox/control/microsoftgraph/subscriptions")).json()
    assert [s["resource"] for s in live["value"]] == ["me/events"]

    control = "/sandbox/control/microsoftgraph/events"
    drain = "/sandbox/control/notifications/drain"  # Graph sends each change in the background
    event_id = (await http.post(control, json={"subject": "Standup"})).json()["id"]
    await http.post(drain)
    await http.patch(f"{control}/{event_id}", json={"subject": "Standup (moved)"})
    await http.post(drain)
    await http.delete(f"{control}/{event_id}")
    await http.post(drain)

    async def three_arrived() -> bool:
        return len(recorder.events()) >= 3

    await _wait_for(three_arrived, seconds=15)
    await asyncio.sleep(1)
    received = [(e["objectType"], e["objectId"], e["eventType"]) for e in recorder.events()]
    assert received == [
        ("events", event_id, "CREATED"),
        ("events", event_id, "UPDATED"),
        ("events", event_id, "DELETED"),
    ]


async def test_dropbox_file_changes_arrive_once_each_from_the_list_folder_cursor(
    http: httpx.AsyncClient, tenant: Tenant, receiver: tuple[Receiver, str]
) -> None:
    recorder, callback_url = receiver
    control = "/sandbox/control/dropbox/files"
    await http.post(control, json={"path": "/Before/old.txt"})  # the baseline: not news
    body = {
        "element": {"key": "dropbox"},
        "providerData": {"code": "dropbox-code"},
        "name": "my dropbox",
        "configuration": {
            "oauth.api.key": "app-key",
            "oauth.api.secret": "app-secret",
            "oauth.callback.url": "https://www.mycoolapplication.com/auth",
            "event.notification.enabled": True,
            "event.notification.callback.url": callback_url,
            "event.poller.refresh_interval": "0.02",
        },
    }
    created = await http.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    instance_id = created.json()["id"]

    async def baselined() -> bool:
        status = await http.get(f"{API}/instances/{instance_id}/poller", headers=tenant.headers)
        return all(s["baselined"] for s in status.json())

    await _wait_for(baselined)
    report = (await http.post(control, json={"path": "/Reports/Q3.pdf", "size": 1})).json()
    await _wait_for(lambda: _arrived(recorder, 2))  # the file, and its new folder
    await http.patch(f"{control}/{report['id']}", json={"size": 2})
    await _wait_for(lambda: _arrived(recorder, 3))
    await http.delete(f"{control}/{report['id']}")
    await _wait_for(lambda: _arrived(recorder, 4))

    await asyncio.sleep(2.5)  # a few more polls: nothing extra may arrive
    received = [(e["objectType"], e["objectId"], e["eventType"]) for e in recorder.events()]
    assert received == [
        ("events", "/reports", "CREATED"),
        ("events", "/reports/q3.pdf", "CREATED"),
        ("events", "/reports/q3.pdf", "UPDATED"),
        ("events", "/reports/q3.pdf", "DELETED"),
    ]
    assert recorder.callbacks[0].json["message"]["elementKey"] == "dropbox"


async def _arrived(recorder: Receiver, count: int) -> bool:
    return len(recorder.events()) >= count
