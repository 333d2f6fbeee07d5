"""Callback URL safety: private, loopback, link-local and metadata targets are refused."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.delivery.dispatcher import Dispatcher
from pollhub.delivery.safety import refusal_reason
from pollhub.settings import get_settings
from tests import seeds
from tests.conftest import Tenant
from tests.delivery.conftest import Receiver, add_instance, enqueue, notifications

API = "/elements/api-v2"
KEY = "event.notification.callback.url"
FORBIDDEN_URLS = [
    "http://127.0.0.1:9000/events",
    "http://10.1.2.3/events",
    "https://192.168.0.10/events",
    "http://172.16.5.4/events",
    "http://100.64.0.7/events",  # shared address space (CGNAT)
    "http://0.0.0.0/events",
    "http://localhost:8080/events",
    "http://api.localhost/events",
    "http://vm/events",  # /etc/hosts: 127.0.0.1
    "http://[::1]/events",
    "http://[::ffff:127.0.0.1]/events",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://168.63.129.16/machine",
    "http://224.0.0.1/events",
]


def onedrive_with_callback(url: str) -> dict[str, Any]:
    body = seeds.filled(seeds.ONEDRIVE)
    body["configuration"][KEY] = url
    return body


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "fd00:ec2::254",
        "::1",
        "fe80::1",
        "100.100.100.200",
        "192.0.0.192",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
        "198.18.0.1",
        "240.0.0.1",
        "ff02::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
async def test_creating_an_instance_with_a_private_callback_url_is_a_400_naming_the_key(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, url: str
) -> None:
    response = await client.post(
        f"{API}/instances", json=onedrive_with_callback(url), headers=tenant.headers
    )

    assert response.status_code == 400, response.text
    assert KEY in response.json()["message"]
    assert "POLLHUB_ALLOW_PRIVATE_CALLBACKS" in response.json()["message"]
    assert not providers.calls  # refused before any provider was asked


async def test_a_host_that_does_not_resolve_yet_is_accepted_at_creation(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = onedrive_with_callback("https://hooks.not-yet-published.example/events")

    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)

    assert response.status_code == 200, response.text


async def test_patching_in_a_private_callback_url_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    created = await client.post(
        f"{API}/instances", json=seeds.filled(seeds.ONEDRIVE), headers=tenant.headers
    )
    instance_id = created.json()["id"]

    response = await client.patch(
        f"{API}/instances/{instance_id}",
        json={"configuration": {KEY: "http://169.254.169.254/latest/"}},
        headers=tenant.headers,
    )

    assert response.status_code == 400 and KEY in response.json()["message"]
    shown = await client.get(f"{API}/instances/{instance_id}", headers=tenant.headers)
    assert shown.json()["configuration"][KEY] == "https://client.example.com/events"


async def test_private_callback_urls_are_accepted_when_the_operator_allows_them(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_CALLBACKS", "true")
    get_settings.cache_clear()

    response = await client.post(
        f"{API}/instances",
        json=onedrive_with_callback("http://127.0.0.1:9000/events"),
        headers=tenant.headers,
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "vm", "[::ffff:127.0.0.1]"])
async def test_at_delivery_a_private_target_is_failed_without_sending_anything(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    host: str,
) -> None:
    # Stored directly, as if the name pointed elsewhere when the instance was created.
    url = f"http://{host}:{receiver.port}/events"
    instance = await add_instance(session, tenant, url)
    await enqueue(session, instance)

    async with Dispatcher(sessionmaker, worker_id="w", timeout_seconds=1) as dispatcher:
        await dispatcher.deliver_due()

    [stored] = await notifications(session)
    assert receiver.requests == []
    assert stored.status == "failed" and stored.attempts == 1
    assert "refused (SSRF protection)" in (stored.last_error or "")
    assert "loopback" in (stored.last_error or "") or "private" in (stored.last_error or "")
