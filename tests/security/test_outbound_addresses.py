"""The outbound address policy (issue 16, items 1 and 3): callbacks and every provider host
that comes from configuration are refused on loopback, private, link-local and metadata
addresses — however the host is spelled, and on the socket actually connected."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.delivery.dispatcher import Dispatcher
from pollhub.elements import get_element
from pollhub.elements.http import ProviderApi, ProviderError
from pollhub.errors import BadRequest
from pollhub.oauth.client import ClientApp, exchange_code
from pollhub.outbound.clients import fast_provider_client, provider_client
from pollhub.outbound.connectors import guarded_connector
from pollhub.outbound.policy import AddressRefused, connect_host, refusal_in, refusal_reason
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
    assert "POLLHUB_ALLOW_PRIVATE_ADDRESSES" in response.json()["message"]
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
    local_receiver: Receiver,
    host: str,
) -> None:
    # Stored directly, as if the name pointed elsewhere when the instance was created.
    url = f"http://{host}:{local_receiver.port}/events"
    instance = await add_instance(session, tenant, url)
    await enqueue(session, instance)

    async with Dispatcher(sessionmaker, worker_id="w", timeout_seconds=1) as dispatcher:
        await dispatcher.deliver_due()

    [stored] = await notifications(session)
    assert local_receiver.requests == []
    assert stored.status == "failed" and stored.attempts == 1
    assert "refused (SSRF protection" in (stored.last_error or "")
    assert "loopback" in (stored.last_error or "") or "private" in (stored.last_error or "")


# Item 1: hosts spelled with Unicode digits (U+1FBF0..9, SEGMENTED DIGIT n), which yarl and
# aiohttp normalise (IDNA UTS-46) into the IP literal they then connect to.
UNICODE_DIGIT_HOSTS = {
    "12\U0001fbf7.0.0.1": "127.0.0.1",
    "\U0001fbf1\U0001fbf6\U0001fbf9.254.169.254": "169.254.169.254",
    "\U0001fbf1\U0001fbf0.0.0.1": "10.0.0.1",
}


@pytest.mark.parametrize(("host", "literal"), UNICODE_DIGIT_HOSTS.items())
def test_a_host_is_read_exactly_as_the_http_client_will_connect_to_it(
    host: str, literal: str
) -> None:
    assert connect_host(f"http://{host}:9101/x") == literal


@pytest.mark.parametrize(
    "url",
    [
        "http://xn--12-kf23a.0.0.1/x",  # the IDNA codec's spelling of the first host above
        "http://2130706433/x",  # 127.0.0.1 as one number
        "http://xn--a.example/x",  # not valid punycode
        "http://exa_mple-.example/x",  # a label ending in a hyphen
    ],
)
def test_a_host_that_is_no_valid_dns_name_is_refused_whatever_the_policy(url: str) -> None:
    with pytest.raises(AddressRefused):
        connect_host(url)


@pytest.mark.parametrize("host", UNICODE_DIGIT_HOSTS)
async def test_a_callback_host_spelled_with_unicode_digits_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, host: str
) -> None:
    response = await client.post(
        f"{API}/instances",
        json=onedrive_with_callback(f"http://{host}:9101/x"),
        headers=tenant.headers,
    )

    assert response.status_code == 400, response.text
    assert KEY in response.json()["message"]
    assert not providers.calls


async def test_at_delivery_a_unicode_digit_host_is_refused_before_connecting(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    local_receiver: Receiver,
) -> None:
    # Stored directly, as the instance API stored it before this was fixed.
    url = f"http://12\U0001fbf7.0.0.1:{local_receiver.port}/x"
    instance = await add_instance(session, tenant, url)
    await enqueue(session, instance)

    async with Dispatcher(sessionmaker, worker_id="w", timeout_seconds=1) as dispatcher:
        await dispatcher.deliver_due()

    [stored] = await notifications(session)
    assert local_receiver.requests == []
    assert stored.status == "failed" and stored.last_status_code is None
    assert "127.0.0.1 is a loopback address" in (stored.last_error or "")


async def test_every_socket_is_checked_before_it_connects_ip_literals_included(
    local_receiver: Receiver,
) -> None:
    async with aiohttp.ClientSession(connector=guarded_connector(allow_private=False)) as http:
        with pytest.raises(aiohttp.ClientError) as caught:
            await http.get(f"http://127.0.0.1:{local_receiver.port}/x")

    assert refusal_in(caught.value) is not None
    assert local_receiver.requests == []


# Item 3: provider hosts that come from configuration keep to the same policy.
def docushare_with_domain(domain: str) -> dict[str, Any]:
    body = seeds.filled(seeds.DOCUSHAREFLEX)
    body["configuration"]["docushare.domain"] = domain
    return body


async def test_a_provider_host_from_configuration_on_a_private_address_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    response = await client.post(
        f"{API}/instances", json=docushare_with_domain("metadata.localhost"), headers=tenant.headers
    )

    assert response.status_code == 400, response.text
    assert "docushare.domain" in response.json()["message"]
    assert "POLLHUB_ALLOW_PRIVATE_ADDRESSES" in response.json()["message"]
    assert not providers.calls


async def test_the_token_exchange_never_connects_to_a_private_address(
    settings_env: str, local_receiver: Receiver
) -> None:
    element = get_element("docushareflex")
    assert element is not None
    private = replace(element, token_url=f"http://localhost:{local_receiver.port}/oauth2/token")
    app = ClientApp("client", "secret", None, "read")

    with pytest.raises(BadRequest, match="loopback address; refused"):
        await exchange_code(private, {}, app, "a-code")

    assert local_receiver.requests == []


@pytest.mark.parametrize("make_client", [provider_client, fast_provider_client])
async def test_provider_requests_and_their_next_links_never_reach_a_private_address(
    settings_env: str,
    local_receiver: Receiver,
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    next_link = f"http://127.0.0.1:{local_receiver.port}/api/v1/objects?page=2"

    async with make_client() as http:
        with pytest.raises(ProviderError, match="loopback address; refused"):
            await ProviderApi(http, "token").get_json(next_link)

    assert local_receiver.requests == []


@pytest.mark.parametrize(
    "variable", ["POLLHUB_ALLOW_PRIVATE_ADDRESSES", "POLLHUB_ALLOW_PRIVATE_CALLBACKS"]
)
async def test_the_operator_may_allow_private_addresses_under_either_name(
    settings_env: str,
    local_receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, "true")
    get_settings.cache_clear()

    async with provider_client() as http:
        await ProviderApi(http, "token").get_json(f"http://127.0.0.1:{local_receiver.port}/x")

    assert len(local_receiver.requests) == 1
