"""A custom element's requests carry the instance's credentials as its definition says."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
import respx

from pollhub.elements.credentials import MissingCredentials, configured_auth
from pollhub.elements.definition import ElementDefinition
from pollhub.elements.http import ProviderApi
from tests.elements.test_definition import tickets

URL = "https://api.example.com/v2/tickets"


def definition(authentication: dict[str, Any]) -> ElementDefinition:
    keys = [{"key": "api.key", "type": "secret"}, {"key": "api.user"}]
    return ElementDefinition.model_validate(
        tickets(authentication=authentication, configuration=keys)
    )


async def get(auth: httpx.Auth | None, url: str = URL) -> httpx.Request:
    with respx.mock() as provider:
        route = provider.get(url__startswith=URL).respond(200, json=[])
        async with httpx.AsyncClient() as client:
            await ProviderApi(client, auth=auth).get(url)
    request: httpx.Request = route.calls.last.request
    return request


async def test_an_api_key_goes_in_the_named_header_with_its_prefix() -> None:
    element = definition(
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "configKey": "api.key",
            "prefix": "Token ",
        }
    )

    request = await get(configured_auth(element, {"api.key": "k1"}))

    assert request.headers["Authorization"] == "Token k1"


async def test_an_api_key_in_the_query_keeps_a_next_links_own_parameters() -> None:
    element = definition({"type": "apiKey", "in": "query", "name": "key", "configKey": "api.key"})

    request = await get(configured_auth(element, {"api.key": "k1"}), f"{URL}?page=2&limit=5")

    assert dict(request.url.params) == {"page": "2", "limit": "5", "key": "k1"}


async def test_basic_credentials_come_from_the_configuration() -> None:
    element = definition({"type": "basic", "usernameKey": "api.user", "passwordKey": "api.key"})

    request = await get(configured_auth(element, {"api.user": "ann", "api.key": "pw"}))

    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"ann:pw").decode()


async def test_no_authentication_sends_no_credentials() -> None:
    request = await get(configured_auth(definition({"type": "none"}), {}))

    assert "Authorization" not in request.headers


def test_a_missing_credential_names_its_configuration_key() -> None:
    element = definition({"type": "apiKey", "in": "query", "name": "key", "configKey": "api.key"})

    with pytest.raises(MissingCredentials, match=r"api\.key"):
        configured_auth(element, {})
