"""Faults on demand: 429 with Retry-After, 500, slow answers, expired tokens, counts."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox.conftest import (
    CLIENT,
    MICROSOFT_TOKEN,
    Sandbox,
    bearer,
    docushare_tokens,
    google_tokens,
    microsoft_tokens,
)


def _arm(sandbox: Sandbox, **fault: object) -> None:
    response = sandbox.control("POST", "faults", fault)
    assert response.status_code == 201, response.text


def _drive(sandbox: Sandbox, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(
        f"{sandbox.url}/graph.microsoft.com/v1.0/me/drive", headers=headers, timeout=30
    )


def _calendars(sandbox: Sandbox, headers: dict[str, str]) -> httpx.Response:
    url = f"{sandbox.url}/www.googleapis.com/calendar/v3/users/me/calendarList"
    return httpx.get(url, headers=headers, timeout=30)


def test_graph_429_carries_retry_after_and_too_many_requests(sandbox: Sandbox) -> None:
    headers = bearer(microsoft_tokens(sandbox))
    _arm(sandbox, provider="graph", kind="429", count=1, retryAfter=7)

    throttled = _drive(sandbox, headers)
    after = _drive(sandbox, headers)

    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "7"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert after.status_code == 200


def test_google_429_is_resource_exhausted(sandbox: Sandbox) -> None:
    headers = bearer(google_tokens(sandbox))
    _arm(sandbox, provider="google", kind="429", retryAfter=3)

    response = _calendars(sandbox, headers)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert response.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"


def test_500_fails_the_given_number_of_calls_then_stops(sandbox: Sandbox) -> None:
    headers = bearer(docushare_tokens(sandbox))
    _arm(sandbox, provider="docushare", kind="500", count=2)
    url = f"{sandbox.url}/demo.docushareflex.com/api/v1/objects"

    statuses = [httpx.get(url, headers=headers, timeout=30).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert sandbox.control("GET", "faults").json() == {"faults": []}


def test_slow_fault_delays_then_answers_normally(sandbox: Sandbox) -> None:
    headers = bearer(google_tokens(sandbox))
    _arm(sandbox, provider="google", kind="slow", delaySeconds=0.4)

    started = time.monotonic()
    response = _calendars(sandbox, headers)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.4


def test_expired_token_fault_answers_401_in_each_provider_shape(sandbox: Sandbox) -> None:
    graph_headers = bearer(microsoft_tokens(sandbox))
    google_headers = bearer(google_tokens(sandbox))
    _arm(sandbox, provider="graph", kind="expired_token")
    _arm(sandbox, provider="google", kind="expired_token")

    graph = _drive(sandbox, graph_headers)
    google = _calendars(sandbox, google_headers)

    assert graph.status_code == google.status_code == 401
    assert graph.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert graph.json()["error"]["message"] == "Access token has expired or is not yet valid."
    assert google.json()["error"]["status"] == "UNAUTHENTICATED"


def test_an_expired_access_token_does_not_refuse_a_refresh_at_the_same_host(
    sandbox: Sandbox,
) -> None:
    tokens = docushare_tokens(sandbox)
    _arm(sandbox, provider="docushare", kind="expired_token")
    site = f"{sandbox.url}/demo.docushareflex.com"
    form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    refreshed = httpx.post(f"{site}/oauth2/token", data=form, timeout=30)
    api = httpx.get(f"{site}/api/v1/objects", headers=bearer(tokens), timeout=30)

    assert refreshed.status_code == 200
    assert api.status_code == 401


def test_token_endpoint_faults_use_the_login_error_shape(sandbox: Sandbox) -> None:
    _arm(sandbox, provider="microsoft-login", kind="expired_token")
    _arm(sandbox, provider="microsoft-login", kind="429", retryAfter=2)
    form = {**CLIENT, "grant_type": "authorization_code", "code": "any"}

    expired = httpx.post(f"{sandbox.url}/{MICROSOFT_TOKEN}", data=form, timeout=30)
    throttled = httpx.post(f"{sandbox.url}/{MICROSOFT_TOKEN}", data=form, timeout=30)
    fine = httpx.post(f"{sandbox.url}/{MICROSOFT_TOKEN}", data=form, timeout=30)

    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    assert fine.status_code == 200


def test_wildcard_fault_hits_whichever_provider_is_called_next(sandbox: Sandbox) -> None:
    headers = bearer(google_tokens(sandbox))
    _arm(sandbox, provider="*", kind="500")

    response = _calendars(sandbox, headers)

    assert response.status_code == 500
    assert response.json()["error"]["status"] == "INTERNAL"


def test_faults_of_another_provider_do_not_apply(sandbox: Sandbox) -> None:
    headers = bearer(google_tokens(sandbox))
    _arm(sandbox, provider="graph", kind="500")

    assert _calendars(sandbox, headers).status_code == 200
    assert len(sandbox.control("GET", "faults").json()["faults"]) == 1


def test_delete_clears_armed_faults(sandbox: Sandbox) -> None:
    headers = bearer(google_tokens(sandbox))
    _arm(sandbox, provider="google", kind="500", count=5)

    cleared = sandbox.control("DELETE", "faults")

    assert cleared.status_code == 204
    assert _calendars(sandbox, headers).status_code == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"provider": "nope", "kind": "500"},
        {"provider": "graph", "kind": "418"},
        {"kind": "500", "count": 0},
    ],
)
def test_malformed_faults_are_refused(sandbox: Sandbox, fault: dict[str, object]) -> None:
    assert sandbox.control("POST", "faults", fault).status_code == 400
