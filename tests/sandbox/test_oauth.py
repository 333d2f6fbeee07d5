"""OAuth 2.0 of the simulated providers: authorize redirects, token exchange, refresh,
refused grants and expiring access tokens."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pollhub.clock import clock
from tests.sandbox.conftest import (
    CLIENT,
    GOOGLE_TOKEN,
    MICROSOFT_TOKEN,
    Sandbox,
    bearer,
    docushare_tokens,
    google_tokens,
    microsoft_tokens,
)

AUTHORIZE = {
    "microsoft": "login.microsoftonline.com/common/oauth2/v2.0/authorize",
    "google": "accounts.google.com/o/oauth2/v2/auth",
    "docushare": "acme.docushareflex.com/oauth2/authorize",
}
TOKEN = {
    "microsoft": MICROSOFT_TOKEN,
    "google": GOOGLE_TOKEN,
    "docushare": "acme.docushareflex.com/oauth2/token",
}
# providers.md: the token response fields of each provider.
MICROSOFT_TOKEN_FIELDS = {
    "token_type",
    "scope",
    "expires_in",
    "ext_expires_in",
    "access_token",
    "refresh_token",
}
GOOGLE_TOKEN_FIELDS = {"access_token", "expires_in", "refresh_token", "scope", "token_type"}


def _authorize(sandbox: Sandbox, provider: str, **extra: str) -> httpx.Response:
    params = {
        "client_id": CLIENT["client_id"],
        "response_type": "code",
        "redirect_uri": "https://app.example/callback?tenant=7",
        "scope": "Files.Read offline_access",
        "state": "xyz-123",
        **extra,
    }
    return httpx.get(f"{sandbox.url}/{AUTHORIZE[provider]}", params=params, timeout=30)


@pytest.mark.parametrize("provider", ["microsoft", "google", "docushare"])
def test_authorize_redirects_at_once_with_code_and_state(sandbox: Sandbox, provider: str) -> None:
    response = _authorize(sandbox, provider)

    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.example/callback"
    assert query["tenant"] == ["7"]
    assert query["state"] == ["xyz-123"]
    assert len(query["code"][0]) > 10


@pytest.mark.parametrize("provider", ["microsoft", "google", "docushare"])
def test_code_from_authorize_is_exchanged_once(sandbox: Sandbox, provider: str) -> None:
    extra = {"access_type": "offline"} if provider == "google" else {}
    location = _authorize(sandbox, provider, **extra).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {**CLIENT, "grant_type": "authorization_code", "code": code}

    first = httpx.post(f"{sandbox.url}/{TOKEN[provider]}", data=form, timeout=30)
    again = httpx.post(f"{sandbox.url}/{TOKEN[provider]}", data=form, timeout=30)

    assert first.status_code == 200
    assert first.json()["refresh_token"]
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_microsoft_token_response_has_the_documented_fields(sandbox: Sandbox) -> None:
    tokens = microsoft_tokens(sandbox)

    assert set(tokens) == MICROSOFT_TOKEN_FIELDS
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3599
    assert tokens["scope"] == "Files.Read offline_access"


def test_microsoft_gives_no_refresh_token_without_offline_access(sandbox: Sandbox) -> None:
    tokens = microsoft_tokens(sandbox, scope="Files.Read")

    assert "refresh_token" not in tokens


def test_microsoft_refresh_rotates_the_refresh_token(sandbox: Sandbox) -> None:
    tokens = microsoft_tokens(sandbox)
    form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    refreshed = httpx.post(f"{sandbox.url}/{MICROSOFT_TOKEN}", data=form, timeout=30).json()

    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert refreshed["access_token"] != tokens["access_token"]
    me = httpx.get(
        f"{sandbox.url}/graph.microsoft.com/v1.0/me", headers=bearer(refreshed), timeout=30
    )
    assert me.status_code == 200


def test_google_refresh_answers_without_a_new_refresh_token(sandbox: Sandbox) -> None:
    tokens = google_tokens(sandbox)
    assert set(tokens) == GOOGLE_TOKEN_FIELDS
    form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    refreshed = httpx.post(f"{sandbox.url}/{GOOGLE_TOKEN}", data=form, timeout=30)
    again = httpx.post(f"{sandbox.url}/{GOOGLE_TOKEN}", data=form, timeout=30)

    assert refreshed.status_code == 200
    assert "refresh_token" not in refreshed.json()
    assert refreshed.json()["token_type"] == "Bearer"
    assert again.status_code == 200


def test_google_issues_a_refresh_token_only_for_offline_access(sandbox: Sandbox) -> None:
    location = _authorize(sandbox, "google").headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {**CLIENT, "grant_type": "authorization_code", "code": code}

    tokens = httpx.post(f"{sandbox.url}/{GOOGLE_TOKEN}", data=form, timeout=30).json()

    assert "refresh_token" not in tokens


def test_docushare_refresh_rotates_and_revokes_the_used_token(sandbox: Sandbox) -> None:
    tokens = docushare_tokens(sandbox, "acme.docushareflex.com")
    form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    refreshed = httpx.post(f"{sandbox.url}/{TOKEN['docushare']}", data=form, timeout=30)
    reused = httpx.post(f"{sandbox.url}/{TOKEN['docushare']}", data=form, timeout=30)

    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_client_credentials_may_come_by_http_basic_auth(sandbox: Sandbox) -> None:
    form = {"grant_type": "authorization_code", "code": "any"}
    auth = (CLIENT["client_id"], CLIENT["client_secret"])

    response = httpx.post(f"{sandbox.url}/{MICROSOFT_TOKEN}", data=form, auth=auth, timeout=30)

    assert response.status_code == 200


def test_microsoft_refuses_the_invalid_code_with_aadsts_body(sandbox: Sandbox) -> None:
    form = {**CLIENT, "grant_type": "authorization_code", "code": "invalid"}

    response = httpx.post(f"{sandbox.url}/{MICROSOFT_TOKEN}", data=form, timeout=30)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS70000:")
    assert body["error_codes"] == [70000]
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def test_google_refuses_the_invalid_code_with_bad_request(sandbox: Sandbox) -> None:
    form = {**CLIENT, "grant_type": "authorization_code", "code": "invalid"}

    response = httpx.post(f"{sandbox.url}/{GOOGLE_TOKEN}", data=form, timeout=30)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Bad Request"}


@pytest.mark.parametrize("provider", ["microsoft", "google", "docushare"])
def test_unknown_refresh_token_is_an_invalid_grant(sandbox: Sandbox, provider: str) -> None:
    form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": "never-issued"}

    response = httpx.post(f"{sandbox.url}/{TOKEN[provider]}", data=form, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_revoked_tokens_are_refused_at_refresh(sandbox: Sandbox) -> None:
    tokens = google_tokens(sandbox)
    sandbox.control("POST", "tokens/revoke", {"provider": "google"}).raise_for_status()
    form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    response = httpx.post(f"{sandbox.url}/{GOOGLE_TOKEN}", data=form, timeout=30)

    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant_type_is_refused(sandbox: Sandbox) -> None:
    form = {**CLIENT, "grant_type": "password"}

    response = httpx.post(f"{sandbox.url}/{GOOGLE_TOKEN}", data=form, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_expired_graph_token_gets_401_invalid_authentication_token(sandbox: Sandbox) -> None:
    headers = bearer(microsoft_tokens(sandbox))
    url = f"{sandbox.url}/graph.microsoft.com/v1.0/me/drive/root/delta"
    assert httpx.get(url, headers=headers, timeout=30).status_code == 200

    clock.advance(timedelta(seconds=3600))
    response = httpx.get(url, headers=headers, timeout=30)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.json()["error"]["message"] == "Access token has expired or is not yet valid."


def test_expired_google_token_gets_401_unauthenticated(sandbox: Sandbox) -> None:
    headers = bearer(google_tokens(sandbox))
    url = f"{sandbox.url}/www.googleapis.com/calendar/v3/users/me/calendarList"

    clock.advance(timedelta(seconds=3600))
    response = httpx.get(url, headers=headers, timeout=30)

    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_missing_or_foreign_tokens_are_refused(sandbox: Sandbox) -> None:
    google = bearer(google_tokens(sandbox))
    drive = f"{sandbox.url}/graph.microsoft.com/v1.0/me/drive"
    other_site = f"{sandbox.url}/other.docushareflex.com/api/v1/objects"

    missing = httpx.get(drive, timeout=30)
    wrong_provider = httpx.get(drive, headers=google, timeout=30)
    wrong_site = httpx.get(other_site, headers=bearer(docushare_tokens(sandbox)), timeout=30)

    assert missing.status_code == wrong_provider.status_code == 401
    assert missing.json()["error"]["message"] == "Access token is empty."
    assert wrong_site.status_code == 401
    assert wrong_site.json()["error"] == "invalid_token"
