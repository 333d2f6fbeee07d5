"""A webhook provider pollhub has never heard of: a definition file and a small webhook
capability (both written here, the capability in the provider's own terms) are all it
takes. Nothing in ``pollhub.webhooks`` changes: the real subscription code, receiver route,
change detection and dispatcher carry a notification to the client's callback."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.db.models import WebhookSubscription
from pollhub.delivery.dispatcher import Dispatcher
from pollhub.elements import catalog
from pollhub.elements.builtin import load_builtin
from pollhub.elements.http import ProviderApi
from pollhub.elements.reading import ChangeKind, ProviderChange
from pollhub.elements.webhooks import LifecycleSignal, WebhookCapability, WebhookChange
from pollhub.settings import get_settings
from tests.conftest import Tenant
from tests.delivery.conftest import Receiver, free_port

API = "/elements/api-v2"
KEY = "taskboard"
PROVIDER = "https://api.taskboard.example/v1"
TOKEN_URL = "https://auth.taskboard.example/token"
ACTIONS: dict[str, ChangeKind] = {"add": "created", "edit": "updated", "remove": "deleted"}

DEFINITION = {
    "key": KEY,
    "name": "Taskboard",
    "description": "Tasks of one Taskboard account, pushed as they change.",
    "hub": "general",
    "baseUrl": PROVIDER,
    "authentication": {
        "type": "oauth2",
        "authorizationUrl": "https://auth.taskboard.example/authorize",
        "tokenUrl": TOKEN_URL,
        "scope": "tasks",
    },
    "resources": {"tasks": {"path": "/tasks", "list": "tasks", "idField": "id"}},
    "eventMechanisms": ["webhook"],
    "capabilities": KEY,
}


class TaskboardHooks:
    """Taskboard's webhooks: ``POST /hooks`` subscribes, a ``challenge`` query parameter is
    the handshake, and a notification is ``{"hooks": [{"hook", "secret", "action",
    "task": {"id", "rev"}}]}``."""

    def object_types(self, scope: str, explicit: str | None) -> list[str]:
        wanted = [t for t in (explicit or "tasks").split(",") if t]
        unknown = [t for t in wanted if t not in self.known_object_types()]
        if unknown:
            raise ValueError(f"unknown object type '{unknown[0]}'")
        return wanted

    def known_object_types(self) -> list[str]:
        return ["tasks"]

    def expiry(self, object_type: str, now: datetime) -> datetime:
        return now + timedelta(days=2)

    async def subscribe(
        self,
        api: ProviderApi,
        object_type: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        expires_at: datetime,
    ) -> str:
        body = await api.send(
            "POST",
            f"{PROVIDER}/hooks",
            json={"target": notification_url, "secret": client_state, "on": object_type},
        )
        assert body is not None
        return str(body["hook"])

    async def renew(self, api: ProviderApi, subscription_id: str, expires_at: datetime) -> None:
        await api.send("PUT", f"{PROVIDER}/hooks/{subscription_id}", json={})

    async def unsubscribe(self, api: ProviderApi, subscription_id: str) -> None:
        await api.send("DELETE", f"{PROVIDER}/hooks/{subscription_id}")

    def handshake(self, query: Mapping[str, str]) -> str | None:
        return query.get("challenge")

    def parse_changes(self, body: Any) -> list[WebhookChange]:
        if not isinstance(body, dict) or not isinstance(body.get("hooks"), list):
            raise ValueError("a Taskboard notification is {'hooks': [...]}")
        return [
            WebhookChange(
                subscription_id=str(entry["hook"]),
                client_state=str(entry.get("secret", "")),
                kind=ACTIONS.get(str(entry.get("action"))),
                object_id=str(entry["task"]["id"]),
                version=str(entry["task"]["rev"]),
                raw=entry,
            )
            for entry in body["hooks"]
        ]

    def redact(self, body: Any) -> Any:
        return {"hooks": [{k: v for k, v in e.items() if k != "secret"} for e in body["hooks"]]}

    def parse_lifecycle(self, body: Any) -> list[LifecycleSignal]:
        return []

    async def read_all(self, api: ProviderApi, object_type: str) -> list[ProviderChange]:
        return []

    def version_of(self, raw: Mapping[str, Any]) -> str:
        return str(raw["rev"])

    async def fetch(
        self, api: ProviderApi, object_type: str, object_id: str
    ) -> dict[str, Any] | None:
        return None

    def attach_objects(self, body: Any, objects: Mapping[str, Any]) -> Any:
        return body


@pytest.fixture
def taskboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """The element loaded as a built-in is (its file, its capability module), in the
    catalog for this test; Taskboard's token and hooks endpoints mocked."""
    hooks: WebhookCapability = TaskboardHooks()
    module = types.ModuleType(f"pollhub.elements.{KEY}")
    module.WEBHOOKS = hooks  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    path = tmp_path / f"{KEY}.json"
    path.write_text(json.dumps(DEFINITION))
    monkeypatch.setitem(catalog(), KEY, load_builtin(path))
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL).respond(
            200,
            json={"token_type": "Bearer", "access_token": "tb-access", "expires_in": 3600},
        )
        router.post(f"{PROVIDER}/hooks").respond(201, json={"hook": "hk-1"})
        yield router


@pytest.fixture
async def callbacks(settings_env: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    """The client's callback endpoint, on 127.0.0.1 (allowed for the test)."""
    monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_CALLBACKS", "true")
    get_settings.cache_clear()
    receiver = Receiver(port=free_port())
    await receiver.start()
    yield receiver
    await receiver.stop()
    get_settings.cache_clear()


def notification(secret: str, action: str, rev: str) -> dict[str, Any]:
    return {
        "hooks": [
            {"hook": "hk-1", "secret": secret, "action": action, "task": {"id": "t-7", "rev": rev}}
        ]
    }


async def test_a_new_webhook_provider_delivers_events_through_the_unchanged_receiver(
    client: httpx.AsyncClient,
    tenant: Tenant,
    taskboard: respx.MockRouter,
    callbacks: Receiver,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await client.post(
        f"{API}/instances",
        json={
            "element": {"key": KEY},
            "name": "Team tasks",
            "providerData": {"code": "tb-code"},
            "configuration": {
                "oauth.api.key": "tb-client",
                "oauth.api.secret": "tb-secret",
                "oauth.callback.url": "https://app.example.com/oauth",
                "event.notification.enabled": True,
                "event.notification.callback.url": callbacks.url,
            },
        },
        headers=tenant.headers,
    )
    assert created.status_code == 200, created.text
    instance = created.json()
    [subscribed] = [c.request for c in taskboard.calls if c.request.url.path == "/v1/hooks"]
    asked = json.loads(subscribed.content)
    row = await session.scalar(select(WebhookSubscription))
    receiver_path = httpx.URL(asked["target"]).path
    handshake = await client.post(f"{receiver_path}?challenge=c-42")
    first = await client.post(receiver_path, json=notification(asked["secret"], "add", "1"))
    again = await client.post(receiver_path, json=notification(asked["secret"], "add", "1"))
    edited = await client.post(receiver_path, json=notification(asked["secret"], "edit", "2"))
    forged = await client.post(receiver_path, json=notification("guess", "remove", "3"))
    async with Dispatcher(sessionmaker, worker_id="w", timeout_seconds=2) as dispatcher:
        for _ in range(3):
            await dispatcher.deliver_due()

    assert subscribed.headers["Authorization"] == "Bearer tb-access"
    assert receiver_path == f"{API}/events/{KEY}/{instance['id']}"
    assert row is not None and row.subscription_id == "hk-1" and row.object_type == "tasks"
    assert row.client_state == asked["secret"]
    assert handshake.status_code == 200 and handshake.text == "c-42"
    assert [r.status_code for r in (first, again, edited, forged)] == [202, 202, 202, 403]
    delivered = [body for request in callbacks.requests for body in [request.json()]]
    events = [e for body in delivered for e in body["message"]["events"]]
    assert [(e["eventType"], e["objectId"], e["objectType"]) for e in events] == [
        ("CREATED", "t-7", "tasks"),
        ("UPDATED", "t-7", "tasks"),
    ], "the repeat of the same revision is no news; the forged removal none at all"
    assert {body["message"]["elementKey"] for body in delivered} == {KEY}
    assert asked["secret"] not in json.dumps(delivered), "the shared secret goes no further"
