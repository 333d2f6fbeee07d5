"""The console over HTTP, in process: sign-in, CSRF, the create flow's errors, tenant
isolation, and that no secret ever reaches a page."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import respx
from fastapi.routing import APIRoute

from pollhub.app import create_app
from pollhub.console import create, events, routes
from pollhub.console.session import COOKIE_NAME
from tests import seeds
from tests.conftest import Tenant
from tests.console.conftest import csrf_token, sign_in

API = "/elements/api-v2"


async def create_by_api(
    console: httpx.AsyncClient, tenant: Tenant, **configuration: Any
) -> dict[str, Any]:
    """A OneDrive instance made through the API (the seed's body)."""
    body = seeds.filled(seeds.ONEDRIVE)
    body["configuration"].update(configuration)
    answer = await console.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def test_the_console_starts_at_the_sign_in_page(console: httpx.AsyncClient) -> None:
    answer = await console.get("/")

    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/sign-in")
    page = await console.get("/instances")
    assert page.status_code == 303 and page.headers["location"].endswith("/sign-in")


async def test_signing_in_with_wrong_secrets_says_so_and_echoes_nothing(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = await console.get("/sign-in")

    answer = await console.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(page),
            "organization_secret": tenant.organization_secret,
            "user_secret": "not-the-user-secret",
        },
    )

    assert answer.status_code == 401
    assert "do not match an organization" in answer.text
    assert tenant.organization_secret not in answer.text
    assert "not-the-user-secret" not in answer.text


async def test_the_session_cookie_is_encrypted_secure_http_only_and_lax(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = await console.get("/sign-in")
    answer = await console.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(page),
            "organization_secret": tenant.organization_secret,
            "user_secret": tenant.user_secret,
        },
    )

    header = answer.headers["set-cookie"]
    assert header.startswith(f"{COOKIE_NAME}=")
    flags = {part.strip().lower() for part in header.split(";")}
    assert {"secure", "httponly", "samesite=lax"} <= flags
    assert tenant.user_secret not in header and tenant.organization_secret not in header


async def test_a_post_without_the_csrf_token_is_refused(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(console, tenant)

    missing = await console.post("/sign-out")
    wrong = await console.post("/sign-out", data={"csrf_token": "forged"})

    assert missing.status_code == 403 and wrong.status_code == 403
    assert "did not come from this console" in wrong.text
    still_signed_in = await console.get("/instances")
    assert still_signed_in.status_code == 200


async def test_signing_in_needs_the_csrf_token_too(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    answer = await console.post(
        "/sign-in",
        data={
            "organization_secret": tenant.organization_secret,
            "user_secret": tenant.user_secret,
        },
    )

    assert answer.status_code == 403


async def test_signing_out_forgets_the_caller(console: httpx.AsyncClient, tenant: Tenant) -> None:
    token = await sign_in(console, tenant)

    answer = await console.post("/sign-out", data={"csrf_token": token})

    assert answer.status_code == 303
    assert (await console.get("/instances")).status_code == 303


async def test_the_elements_page_lists_each_element_and_how_it_delivers(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(console, tenant)

    page = await console.get("/elements")

    assert page.status_code == 200
    for name in ("Microsoft OneDrive", "Google", "DocuShare", "Microsoft Graph"):
        assert name in page.text
    assert "polling" in page.text and "webhooks" in page.text


async def test_another_organizations_instance_is_not_found(
    console: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    providers: respx.MockRouter,
) -> None:
    theirs = await create_by_api(console, other_tenant)
    token = await sign_in(console, tenant)

    for path in (
        f"/instances/{theirs['id']}/events",
        f"/instances/{theirs['id']}/events/live",
        f"/instances/{theirs['id']}/delete",
    ):
        answer = await console.get(path)
        assert answer.status_code == 404, path
        assert theirs["name"] not in answer.text
    deleted = await console.post(f"/instances/{theirs['id']}/delete", data={"csrf_token": token})
    assert deleted.status_code == 404
    still_there = await console.get(f"{API}/instances/{theirs['id']}", headers=other_tenant.headers)
    assert still_there.status_code == 200
    assert theirs["name"] not in (await console.get("/instances")).text


async def _start_authorization(console: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Step one of the create flow; returns the authorize URL's query."""
    answer = await console.post(
        "/instances/new/onedrivev2",
        data={
            "csrf_token": token,
            "client_id": "my-client-id",
            "client_secret": "my-client-secret",
            "scope": "files.readwrite offline_access",
        },
    )
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.netloc == "login.microsoftonline.com"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def test_the_provider_redirect_must_carry_the_state_this_session_issued(
    console: httpx.AsyncClient, tenant: Tenant
) -> None:
    token = await sign_in(console, tenant)
    query = await _start_authorization(console, token)

    forged = await console.get("/oauth/callback", params={"code": "c", "state": "guessed"})
    assert forged.status_code == 303 and forged.headers["location"].endswith("/instances/new")
    replay = await console.get("/oauth/callback", params={"code": "c", "state": query["state"]})
    assert replay.status_code == 303 and replay.headers["location"].endswith("/instances/new")


async def test_creating_an_instance_shows_each_error_next_to_its_field(
    console: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    token = await sign_in(console, tenant)
    query = await _start_authorization(console, token)
    assert query["redirect_uri"] == "https://pollhub.test/oauth/callback"
    back = await console.get("/oauth/callback", params={"code": "good", "state": query["state"]})
    assert back.headers["location"].endswith("/instances/new/onedrivev2/details")
    form = await console.get("/instances/new/onedrivev2/details")
    assert "Create Instance" in form.text and "/hubs/documents/events" in form.text
    fields = {
        "csrf_token": token,
        "name": "Docs drive",
        "tags": "docs, team",
        "events_enabled": "on",
        "callback_url": "not a url",
        "signature_key": "sig-key-123",
        "refresh_interval": "15",
        "resources": "0",
        "resource-0": json.dumps({"url": "/hubs/documents/events", "idField": "id"}),
    }

    bad_url = await console.post("/instances/new/onedrivev2/details", data=fields)
    bad_json = await console.post(
        "/instances/new/onedrivev2/details",
        data={**fields, "callback_url": "https://client.example.com/events", "resource-0": "{"},
    )
    created = await console.post(
        "/instances/new/onedrivev2/details",
        data={**fields, "callback_url": "https://client.example.com/events"},
    )

    assert bad_url.status_code == 400
    assert 'id="callback_url-error"' in bad_url.text
    assert "event.notification.callback.url" in bad_url.text
    assert bad_json.status_code == 400 and 'id="resource-0-error"' in bad_json.text
    assert created.status_code == 303, created.text
    listed = (await console.get(f"{API}/instances", headers=tenant.headers)).json()
    assert [(i["name"], i["tags"], i["eventsEnabled"]) for i in listed] == [
        ("Docs drive", ["docs", "team"], True)
    ]
    poller = listed[0]["configuration"]["event.poller.configuration"]
    assert list(poller) == ["events"]
    assert "Docs drive" in (await console.get("/instances")).text


async def test_the_instances_page_warns_of_a_misspelt_configuration_key(
    console: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    await sign_in(console, tenant)
    await create_by_api(console, tenant, refresh_intervall=1)

    page = await console.get("/instances")

    assert "Check the configuration" in page.text
    assert "Did you mean &#39;event.poller.refresh_interval&#39;?" in page.text


async def test_no_secret_reaches_any_page(
    console: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    instance = await create_by_api(
        console,
        tenant,
        **{
            "oauth.api.secret": "client-secret-xyz",
            "event.notification.signature.key": "signature-key-xyz",
        },
    )
    token = await sign_in(console, tenant)
    await _start_authorization(console, token)
    pages = [
        await console.get(path)
        for path in (
            "/sign-in",
            "/instances",
            "/elements",
            "/instances/new",
            "/instances/new/onedrivev2",
            f"/instances/{instance['id']}/events",
            f"/instances/{instance['id']}/events/live",
            f"/instances/{instance['id']}/delete",
        )
    ]
    secrets = [
        tenant.organization_secret,
        tenant.user_secret,
        instance["token"],
        "client-secret-xyz",
        "signature-key-xyz",
        "my-client-secret",
        "access-",  # the provider's tokens (the mocked endpoint's are access-<code>)
        "refresh-",
    ]
    for page in pages:
        assert page.status_code in (200, 303), page.url
        for secret in secrets:
            assert secret not in page.text, (page.url, secret)
            assert secret not in page.headers.get("set-cookie", ""), (page.url, secret)


def test_every_console_route_name_leads_to_the_console_not_the_api() -> None:
    # Templates build links with url_for(name): a console handler named like an API one
    # (create_instance, poll_now …) would send its form to the API instead.
    app = create_app()
    for router in (routes.router, create.router, events.router):
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            params = {name: "1" for name in route.param_convertors}
            expected = route.path.format(**params)
            assert app.url_path_for(route.name, **params) == expected, route.name
