"""API fuzzing with schemathesis against pollhub's own OpenAPI schema, authenticated:
no request a client can send gets a 5xx, and every response matches the schema."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import httpx
import pytest
import respx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pollhub.app import create_app
from tests import seeds
from tests.conftest import Tenant
from tests.live import LiveServer

# Examples per operation, sized for CI; POLLHUB_FUZZ_EXAMPLES=500 for a long local run.
EXAMPLES = int(os.environ.get("POLLHUB_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
NOT_JSON_API = {"/metrics"}  # Prometheus' text format


@pytest.fixture
def live_api(settings_env: str, sessionmaker: object) -> Iterator[str]:
    with LiveServer(create_app()) as server:
        yield server.url


def _fuzz(operation: schemathesis.APIOperation, base_url: str, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    run()


async def test_no_request_gets_a_server_error_and_every_response_matches_the_schema(
    live_api: str, tenant: Tenant, providers: respx.MockRouter
) -> None:
    providers.route(host="127.0.0.1").pass_through()  # only the providers are mocked
    async with httpx.AsyncClient(base_url=live_api, timeout=30) as http:
        # An instance to aim at, so that instance routes get past their 404 too.
        created = await http.post(
            "/elements/api-v2/instances", json=seeds.filled(seeds.ONEDRIVE), headers=tenant.headers
        )
        assert created.status_code == 200, created.text
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")

    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in NOT_JSON_API:
            continue
        try:
            await asyncio.to_thread(_fuzz, operation, live_api, tenant.headers)
        except Exception as exc:  # report every operation's failure at once
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")

    assert not failures, "\n\n".join(failures)
