"""How an instance of an element authenticates its requests to the provider.

OAuth 2.0 elements send the instance's access token as a bearer token (refreshed by
:mod:`pollhub.oauth.tokens`); a definition may instead take an API key (in a header or a
query parameter) or a user name and password (HTTP basic) from the instance's
configuration, or send nothing at all.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import httpx

from pollhub.elements.definition import (
    ApiKeyAuthentication,
    BasicAuthentication,
    ElementDefinition,
)


class ApiKey(httpx.Auth):
    """An API key in a header, or in a query parameter merged into the URL's own query (a
    provider's next-page link keeps its parameters)."""

    def __init__(self, authentication: ApiKeyAuthentication, key: str) -> None:
        self._where = authentication.in_
        self._name = authentication.name
        self._value = f"{authentication.prefix}{key}"
        self.secret = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the key to the request."""
        if self._where == "header":
            request.headers[self._name] = self._value
        else:
            request.url = request.url.copy_merge_params({self._name: self._value})
        yield request


class Basic(httpx.BasicAuth):
    """HTTP basic authentication whose password is known to be a secret."""

    def __init__(self, username: str, password: str) -> None:
        super().__init__(username, password)
        self.secret = password


class MissingCredentials(ValueError):
    """The instance's configuration lacks a key its element authenticates with."""


def configured_auth(definition: ElementDefinition, values: Mapping[str, Any]) -> httpx.Auth | None:
    """The authentication of a non-OAuth element's requests, from an instance's
    configuration and secrets (``values``); None when the provider needs none."""
    auth = definition.authentication
    if isinstance(auth, ApiKeyAuthentication):
        return ApiKey(auth, _value(values, auth.configKey))
    if isinstance(auth, BasicAuthentication):
        return Basic(_value(values, auth.usernameKey), _value(values, auth.passwordKey))
    return None


def _value(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    if value is None or value == "":
        raise MissingCredentials(f"configuration '{key}' is missing")
    return str(value)
