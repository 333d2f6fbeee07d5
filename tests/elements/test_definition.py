"""The element definition format (CONTRACT section 7) and its published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from pollhub.elements.definition import (
    ApiKeyAuthentication,
    ElementDefinition,
    definition_json_schema,
)
from tests.conftest import Tenant

API = "/elements/api-v2"
SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "element-definition.schema.json"


def tickets(**changes: Any) -> dict[str, Any]:
    """The CONTRACT's example definition, with ``changes`` applied."""
    definition: dict[str, Any] = {
        "key": "tickets",
        "name": "Tickets",
        "hub": "general",
        "baseUrl": "https://api.example.com/v2",
        "authentication": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "configKey": "api.key",
        },
        "configuration": [
            {"key": "api.key", "label": "API key", "type": "secret", "required": True}
        ],
        "resources": {},
    }
    definition.update(changes)
    return definition


def test_the_contract_example_is_a_valid_definition() -> None:
    definition = ElementDefinition.model_validate(tickets())

    assert isinstance(definition.authentication, ApiKeyAuthentication)
    assert definition.authentication.in_ == "header"
    assert definition.secret_keys() == {"api.key"}
    assert definition.eventMechanisms == ["polling"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "Tickets!"}, "key"),
        ({"baseUrl": "ftp://api.example.com"}, "baseUrl"),
        ({"authentication": {"type": "kerberos"}}, "authentication"),
        ({"authentication": {"type": "oauth2", "tokenUrl": "https://t"}}, "authorizationUrl"),
        ({"configuration": [{"key": "api.key", "type": "password"}]}, "configuration.0.type"),
        ({"pagination": {"type": "page"}}, "pagination"),
    ],
)
def test_a_malformed_definition_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        ElementDefinition.model_validate(tickets(**changes))

    assert field in str(error.value)


def test_a_configuration_key_used_but_not_declared_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"'api\.token' is not declared"):
        ElementDefinition.model_validate(
            tickets(
                authentication={
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "configKey": "api.token",
                }
            )
        )


def test_a_base_url_may_name_a_declared_configuration_key() -> None:
    definition = ElementDefinition.model_validate(
        tickets(
            baseUrl="https://{site.domain}/api",
            configuration=[
                {"key": "api.key", "type": "secret", "required": True},
                {"key": "site.domain", "type": "hostname", "required": True},
            ],
        )
    )

    assert definition.baseUrl == "https://{site.domain}/api"


def test_the_committed_json_schema_is_the_models() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())

    assert committed == definition_json_schema(), (
        "docs/element-definition.schema.json is stale; regenerate it with: python -c "
        "'import json; from pollhub.elements.definition import definition_json_schema as s; "
        "print(json.dumps(s(), indent=2))' > docs/element-definition.schema.json"
    )


async def test_the_api_publishes_the_definition_schema(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(f"{API}/elements/schema", headers=tenant.headers)

    assert response.status_code == 200
    schema = response.json()
    assert schema == definition_json_schema()
    assert set(schema["required"]) >= {"key", "name", "hub", "baseUrl", "authentication"}


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        ({"path": "/t", "body": {"path": ""}}, "'body' and 'objectBody' are sent only"),
        (
            {"path": "/t", "method": "POST", "pagination": {"type": "nextLink", "field": "n"}},
            "pagination 'nextLink' is for GET resources",
        ),
        (
            {"path": "/t", "pagination": {"type": "page", "param": "p", "more": "has_more"}},
            "'path' and 'more' are for pagination type 'cursor'",
        ),
        ({"path": "/t", "listedFields": ["threadId"]}, "'listedFields' must hold the id field"),
    ],
)
def test_a_post_resource_is_checked_when_defined(resource: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ElementDefinition.model_validate(tickets(resources={"tickets": resource}))
