"""The /instances API: the seed bodies, CRUD, validation, isolation and secrets."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.db.models import Instance
from tests import seeds
from tests.conftest import TOKEN_ENDPOINTS, Tenant

API = "/elements/api-v2"
MASK = "********"


async def create(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{API}/instances", json=body, headers=tenant.headers)


def assert_error(response: httpx.Response, status: int, *mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"requestId", "message"}
    for mention in mentions:
        assert mention in body["message"]


@pytest.mark.parametrize("seed", sorted(seeds.ALL))
async def test_every_seed_body_creates_an_instance(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, seed: str
) -> None:
    body = seeds.filled(seeds.ALL[seed])

    response = await create(client, tenant, body)

    assert response.status_code == 200, response.text
    instance = response.json()
    assert isinstance(instance["id"], int)
    assert instance["token"]
    assert instance["name"] == body["name"]
    assert instance["element"]["key"] == body["element"]["key"]
    assert instance["tags"] == body.get("tags", [])
    assert instance["valid"] is True and instance["disabled"] is False
    assert instance["eventsEnabled"] is True
    assert instance["createdDate"]
    configuration = instance["configuration"]
    assert configuration["oauth.api.secret"] == MASK
    assert configuration["oauth.user.token"] == MASK
    assert configuration["oauth.user.refresh_token"] == MASK
    assert configuration["oauth.api.key"] == MASK  # the original masks the client id too
    # Read back exactly as sent: "true" stays a string, true a boolean.
    sent = body["configuration"]["event.notification.enabled"]
    assert configuration["event.notification.enabled"] == sent


async def test_the_authorization_code_is_exchanged_at_the_elements_token_endpoint(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    await create(client, tenant, seeds.filled(seeds.GOOGLESUITE))

    call = providers.calls.last
    assert str(call.request.url) == TOKEN_ENDPOINTS["google"]
    form = dict(httpx.QueryParams(call.request.content.decode()))
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "a-good-authorization-code"
    assert form["client_id"] == "xxxxxxxxxxxxxxxxxx"
    assert form["client_secret"] == "xxxxxxxxxxxxxxxxxxxxxxxx"
    assert form["redirect_uri"] == "https://auth.mycoolapp.com/oauth"


async def test_docushare_tokens_come_from_the_instances_own_site(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    await create(client, tenant, seeds.filled(seeds.DOCUSHAREFLEX))

    assert str(providers.calls.last.request.url) == TOKEN_ENDPOINTS["docushare"]


async def test_a_refused_code_is_a_400_with_the_providers_reason_and_stores_nothing(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = seeds.filled(seeds.ONEDRIVE)
    body["providerData"]["code"] = "invalid"

    response = await create(client, tenant, body)

    assert_error(response, 400, "invalid_grant", "AADSTS70000")
    assert response.json()["providerMessage"].startswith("invalid_grant")
    listed = await client.get(f"{API}/instances", headers=tenant.headers)
    assert listed.json() == []


async def test_an_unreachable_token_endpoint_is_a_502_naming_its_url_and_stores_nothing(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    providers.post(TOKEN_ENDPOINTS["microsoft"]).mock(side_effect=httpx.ConnectError("down"))

    response = await create(client, tenant, seeds.filled(seeds.ONEDRIVE))

    assert_error(response, 502, "could not be reached", TOKEN_ENDPOINTS["microsoft"])
    assert (await client.get(f"{API}/instances", headers=tenant.headers)).json() == []


async def test_a_token_endpoint_answering_an_error_page_is_a_502_with_its_status(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    providers.post(TOKEN_ENDPOINTS["microsoft"]).mock(
        return_value=httpx.Response(503, text="<html>Service Unavailable</html>")
    )

    response = await create(client, tenant, seeds.filled(seeds.ONEDRIVE))

    assert_error(response, 502, "answered HTTP 503", TOKEN_ENDPOINTS["microsoft"])
    assert (await client.get(f"{API}/instances", headers=tenant.headers)).json() == []


async def test_a_missing_code_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = seeds.filled(seeds.ONEDRIVE)
    del body["providerData"]

    assert_error(await create(client, tenant, body), 400, "providerData.code")


def _with_configuration(seed: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = seeds.filled(copy.deepcopy(seed))
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            body["configuration"].pop(key, None)
        else:
            body["configuration"][key] = value
    return body


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (
            _with_configuration(seeds.ONEDRIVE, event__notification__enabled="perhaps"),
            ["event.notification.enabled"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__poller__refresh_interval="often"),
            ["event.poller.refresh_interval"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__poller__refresh_interval="0"),
            ["event.poller.refresh_interval"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__poller__refresh_interval=-5),
            ["event.poller.refresh_interval"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__notification__callback__url=None),
            ["event.notification.callback.url", "required"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__notification__callback__url="not a url"),
            ["event.notification.callback.url"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__vendor__type="webhook"),
            ["event.vendor.type", "polling"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__vendor__type="carrier-pigeon"),
            ["event.vendor.type"],
        ),
        (
            _with_configuration(
                seeds.ONEDRIVE,
                event__poller__configuration={"contacts": {"url": "/hubs/crm/contacts"}},
            ),
            ["event.poller.configuration.contacts.url", "/hubs/crm/contacts"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, event__poller__configuration="{not json"),
            ["event.poller.configuration", "JSON"],
        ),
        (
            _with_configuration(
                seeds.ONEDRIVE, event__poller__configuration={"events": {"idField": "id"}}
            ),
            ["event.poller.configuration", "url"],
        ),
        (
            _with_configuration(
                seeds.ONEDRIVE,
                event__poller__configuration={
                    "events": {
                        "url": "/hubs/documents/events",
                        "datesConfiguration": {"updatedDateFormat": "yyyy-QQ-dd"},
                    }
                },
            ),
            ["event.poller.configuration", "Q"],
        ),
        (
            _with_configuration(
                seeds.ONEDRIVE,
                event__poller__configuration={
                    "events": {
                        "url": "/hubs/documents/events",
                        "datesConfiguration": {"updatedDateTimezone": "Mars/Olympus"},
                    }
                },
            ),
            ["event.poller.configuration", "Mars/Olympus"],
        ),
        (
            _with_configuration(
                seeds.ONEDRIVE,
                event__poller__configuration={
                    "events": {"url": "/hubs/documents/events?where=x>'${lastPoll}'"}
                },
            ),
            ["event.poller.configuration", "lastPoll"],
        ),
        (
            _with_configuration(
                seeds.GOOGLESUITE,
                event__poller__configuration={
                    "mail": {"url": "/hubs/general/messages?where=subject like 'Inv%'"}
                },
            ),
            ["event.poller.configuration.mail.url", "subject like 'Inv%'", "id, threadId"],
        ),
        (
            _with_configuration(seeds.MICROSOFTGRAPH, event__poller__configuration={}),
            ["event.poller.configuration"],
        ),
        (
            _with_configuration(seeds.DOCUSHAREFLEX, docushare__domain=None),
            ["docushare.domain", "required"],
        ),
        (
            _with_configuration(seeds.DOCUSHAREFLEX, docushare__domain="evil.com/path?x="),
            ["docushare.domain"],
        ),
        (
            _with_configuration(seeds.ONEDRIVE, oauth__api__key=None),
            ["oauth.api.key"],
        ),
        ({**seeds.filled(seeds.ONEDRIVE), "element": {"key": "myspace"}}, ["element", "myspace"]),
        ({**seeds.filled(seeds.ONEDRIVE), "name": ""}, ["name"]),
        ({**seeds.filled(seeds.ONEDRIVE), "tags": "not-a-list"}, ["tags"]),
        ({**seeds.filled(seeds.ONEDRIVE), "configuration": []}, ["configuration"]),
        (
            _with_configuration(seeds.ONEDRIVE, converged_app="a\x00b"),
            ["configuration.converged_app", "NUL"],
        ),
        ({**seeds.filled(seeds.ONEDRIVE), "tags": ["ok", "b\x00d"]}, ["tags[1]", "NUL"]),
    ],
)
async def test_bad_configuration_is_a_400_naming_the_key(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    body: dict[str, Any],
    mentions: list[str],
) -> None:
    response = await create(client, tenant, body)

    assert_error(response, 400, *mentions)
    assert not providers.calls, "nothing is sent to the provider for a bad configuration"


async def test_a_poller_configuration_sent_as_a_json_string_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    poller = seeds.GOOGLESUITE["configuration"]["event.poller.configuration"]
    body = _with_configuration(seeds.GOOGLESUITE, event__poller__configuration=json.dumps(poller))

    response = await create(client, tenant, body)

    assert response.status_code == 200, response.text
    shown = response.json()["configuration"]["event.poller.configuration"]
    assert (
        shown["changed-groups"]["datesConfiguration"]["updatedDateField"] == "metadata.updateTime"
    )
    assert set(shown) == set(poller)


async def test_the_elements_default_poller_configuration_is_used_when_none_is_given(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    response = await create(client, tenant, seeds.filled(seeds.ONEDRIVE))

    configuration = response.json()["configuration"]
    assert configuration["event.poller.configuration"]["events"]["url"] == "/hubs/documents/events"
    assert configuration["event.vendor.type"] == "polling"


async def test_a_copied_resource_under_another_name_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    events = {"url": "/hubs/documents/events", "idField": "id"}
    body = _with_configuration(
        seeds.ONEDRIVE, event__poller__configuration={"events": events, "files": events}
    )

    response = await create(client, tenant, body)

    assert response.status_code == 200, response.text
    assert set(response.json()["configuration"]["event.poller.configuration"]) == {
        "events",
        "files",
    }


async def test_unknown_configuration_keys_are_kept(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = _with_configuration(seeds.ONEDRIVE, converged_app=True, my__own__setting="abc")

    response = await create(client, tenant, body)

    configuration = response.json()["configuration"]
    assert configuration["converged_app"] is True
    assert configuration["my.own.setting"] == "abc"


async def test_near_misses_of_known_keys_are_kept_with_a_warning_naming_the_key_meant(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = seeds.filled(seeds.ONEDRIVE)
    body["configuration"].update(
        {
            "event.notifcation.enabled": "true",
            "refresh_intervall": 1,
            "event.notification.signature_key": "my-key",
            "event.notification.callback.headers": "X-A: 1",
        }
    )

    created = await create(client, tenant, body)

    assert created.status_code == 200, created.text
    warnings = created.json()["warnings"]
    assert len(warnings) == 3, warnings
    for typed, meant in (
        ("event.notifcation.enabled", "event.notification.enabled"),
        ("refresh_intervall", "event.poller.refresh_interval"),
        ("event.notification.signature_key", "event.notification.signature.key"),
    ):
        assert any(f"'{typed}'" in w and f"Did you mean '{meant}'?" in w for w in warnings)
    assert "my-key" not in created.text
    url = f"{API}/instances/{created.json()['id']}"
    assert (await client.get(url, headers=tenant.headers)).json()["warnings"] == warnings

    fixed = await client.patch(
        url,
        headers=tenant.headers,
        json={
            "configuration": {
                "event.notifcation.enabled": None,
                "refresh_intervall": None,
                "event.notification.signature_key": None,
            }
        },
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["warnings"] == []


async def test_a_configuration_of_known_keys_has_no_warnings(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    created = await create(client, tenant, seeds.filled(seeds.ONEDRIVE))

    assert created.json()["warnings"] == []


async def test_fractional_refresh_intervals_are_allowed(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = _with_configuration(seeds.ONEDRIVE, event__poller__refresh_interval="0.5")

    response = await create(client, tenant, body)

    assert response.status_code == 200, response.text
    assert response.json()["configuration"]["event.poller.refresh_interval"] == "0.5"


async def test_list_filters_by_every_tag_given(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    for name, tags in [("a", ["x", "y"]), ("b", ["x"]), ("c", [])]:
        await create(client, tenant, {**seeds.filled(seeds.ONEDRIVE), "name": name, "tags": tags})

    everything = await client.get(f"{API}/instances", headers=tenant.headers)
    tagged_x = await client.get(f"{API}/instances?tags[]=x", headers=tenant.headers)
    tagged_xy = await client.get(f"{API}/instances?tags[]=x&tags[]=y", headers=tenant.headers)

    assert [i["name"] for i in everything.json()] == ["a", "b", "c"]
    assert [i["name"] for i in tagged_x.json()] == ["a", "b"]
    assert [i["name"] for i in tagged_xy.json()] == ["a"]


async def test_get_returns_the_instance_with_secrets_masked(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = _with_configuration(seeds.MICROSOFTGRAPH, event__notification__signature__key="sig")
    created = (await create(client, tenant, body)).json()

    fetched = await client.get(f"{API}/instances/{created['id']}", headers=tenant.headers)

    assert fetched.status_code == 200
    assert fetched.json() == created
    shown = json.dumps(fetched.json())
    for secret in ("my-oauth-api-secret", "access-a-good", "refresh-a-good", '"sig"'):
        assert secret not in shown
    assert fetched.json()["configuration"]["event.notification.signature.key"] == MASK
    assert fetched.json()["user"]["emailAddress"] == "admin@acme.example"


async def test_patch_changes_name_tags_and_part_of_the_configuration(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    created = (await create(client, tenant, seeds.filled(seeds.GOOGLESUITE))).json()
    url = f"{API}/instances/{created['id']}"

    response = await client.patch(
        url,
        headers=tenant.headers,
        json={
            "name": "renamed",
            "tags": ["new"],
            "configuration": {
                "event.notification.callback.url": "https://client.example.com/v2/events",
                "event.poller.refresh_interval": 5,
                "oauth.api.secret": MASK,
            },
        },
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "renamed" and updated["tags"] == ["new"]
    configuration = updated["configuration"]
    assert (
        configuration["event.notification.callback.url"] == "https://client.example.com/v2/events"
    )
    assert configuration["event.poller.refresh_interval"] == 5
    assert configuration["oauth.callback.url"] == "https://auth.mycoolapp.com/oauth", (
        "untouched keys stay"
    )
    assert set(configuration["event.poller.configuration"]) == set(
        created["configuration"]["event.poller.configuration"]
    )
    assert len(providers.calls) == 1, "no re-authentication without a new code"


async def test_a_gmail_where_the_listed_messages_cannot_answer_is_refused_on_every_change(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    """Gmail lists messages as id and threadId: ``subject like`` cannot go into its search
    q, and applied to the listed messages it would match none, so PATCH and PUT refuse it
    and keep the configuration; a subject sent as q is accepted."""
    sent = {"mail": {"url": "/hubs/general/messages?where=subject = 'Invoice'", "idField": "id"}}
    body = _with_configuration(seeds.GOOGLESUITE, event__poller__configuration=sent)
    created = (await create(client, tenant, body)).json()
    assert created["configuration"]["event.poller.configuration"] == sent
    url = f"{API}/instances/{created['id']}"
    trap = {"mail": {"url": "/hubs/general/messages?where=subject like 'Inv%'"}}

    patched = await client.patch(
        url,
        headers=tenant.headers,
        json={"configuration": {"event.poller.configuration": trap}},
    )
    replaced = await client.put(
        url,
        headers=tenant.headers,
        json=_with_configuration(seeds.GOOGLESUITE, event__poller__configuration=trap),
    )

    for refused in (patched, replaced):
        assert_error(refused, 400, "event.poller.configuration.mail.url", "subject like 'Inv%'")
    kept = await client.get(url, headers=tenant.headers)
    assert kept.json()["configuration"]["event.poller.configuration"] == sent


async def test_patch_keeps_a_masked_secret_and_replaces_a_new_one(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    created = (await create(client, tenant, seeds.filled(seeds.GOOGLESUITE))).json()
    url = f"{API}/instances/{created['id']}"

    await client.patch(
        url, headers=tenant.headers, json={"configuration": {"oauth.api.secret": MASK}}
    )
    kept = await session.get(Instance, created["id"])
    assert kept is not None and kept.secrets["oauth.api.secret"] == "xxxxxxxxxxxxxxxxxxxxxxxx"

    await client.patch(
        url, headers=tenant.headers, json={"configuration": {"oauth.api.secret": "new"}}
    )
    session.expire_all()
    replaced = await session.get(Instance, created["id"])
    assert replaced is not None and replaced.secrets["oauth.api.secret"] == "new"


async def test_patch_with_null_removes_a_configuration_key(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = _with_configuration(seeds.ONEDRIVE, converged_app=True)
    created = (await create(client, tenant, body)).json()

    response = await client.patch(
        f"{API}/instances/{created['id']}",
        headers=tenant.headers,
        json={"configuration": {"converged_app": None}},
    )

    assert "converged_app" not in response.json()["configuration"]


async def test_patch_that_turns_events_on_without_a_callback_url_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = _with_configuration(
        seeds.ONEDRIVE,
        event__notification__enabled="false",
        event__notification__callback__url=None,
    )
    created = (await create(client, tenant, body)).json()
    assert created["eventsEnabled"] is False

    response = await client.patch(
        f"{API}/instances/{created['id']}",
        headers=tenant.headers,
        json={"configuration": {"event.notification.enabled": "true"}},
    )

    assert_error(response, 400, "event.notification.callback.url")
    unchanged = await client.get(f"{API}/instances/{created['id']}", headers=tenant.headers)
    assert unchanged.json()["eventsEnabled"] is False


async def test_patch_with_a_new_code_reauthenticates(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    created = (await create(client, tenant, seeds.filled(seeds.ONEDRIVE))).json()

    response = await client.patch(
        f"{API}/instances/{created['id']}",
        headers=tenant.headers,
        json={"providerData": {"code": "second-code"}},
    )

    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    instance = await session.get(Instance, created["id"])
    assert instance is not None
    assert instance.secrets["oauth.user.token"] == "access-second-code"
    assert instance.secrets["oauth.user.refresh_token"] == "refresh-second-code"


async def test_patch_with_a_refused_code_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    created = (await create(client, tenant, seeds.filled(seeds.ONEDRIVE))).json()

    response = await client.patch(
        f"{API}/instances/{created['id']}",
        headers=tenant.headers,
        json={"name": "new name", "providerData": {"code": "invalid"}},
    )

    assert_error(response, 400, "invalid_grant")
    unchanged = await client.get(f"{API}/instances/{created['id']}", headers=tenant.headers)
    assert unchanged.json()["name"] == created["name"]


async def test_delete_removes_the_instance(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    created = (await create(client, tenant, seeds.filled(seeds.ONEDRIVE))).json()
    url = f"{API}/instances/{created['id']}"

    deleted = await client.delete(url, headers=tenant.headers)

    assert deleted.status_code == 200
    assert_error(await client.get(url, headers=tenant.headers), 404, str(created["id"]))
    assert_error(await client.delete(url, headers=tenant.headers), 404)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"name": "stolen"}),
        ("DELETE", "", None),
    ],
)
async def test_another_organizations_instance_is_a_404(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    providers: respx.MockRouter,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    created = (await create(client, tenant, seeds.filled(seeds.ONEDRIVE))).json()

    response = await client.request(
        method, f"{API}/instances/{created['id']}{suffix}", headers=other_tenant.headers, json=body
    )

    assert_error(response, 404)
    assert created["name"] not in response.text
    assert (await client.get(f"{API}/instances", headers=other_tenant.headers)).json() == []
    still = await client.get(f"{API}/instances/{created['id']}", headers=tenant.headers)
    assert still.json()["name"] == created["name"]


async def test_an_element_token_scopes_calls_to_its_own_instance(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    first = (await create(client, tenant, {**seeds.filled(seeds.ONEDRIVE), "name": "one"})).json()
    second = (await create(client, tenant, {**seeds.filled(seeds.ONEDRIVE), "name": "two"})).json()
    scoped = {"Authorization": tenant.headers["Authorization"] + f", Element {first['token']}"}

    own = await client.get(f"{API}/instances/{first['id']}", headers=scoped)
    other = await client.get(f"{API}/instances/{second['id']}", headers=scoped)
    listed = await client.get(f"{API}/instances", headers=scoped)

    assert own.status_code == 200
    assert_error(other, 404)
    assert [i["id"] for i in listed.json()] == [first["id"]]


async def test_secrets_are_encrypted_at_rest(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    body = _with_configuration(seeds.GOOGLESUITE, event__notification__signature__key="sig-key-42")
    created = (await create(client, tenant, body)).json()

    dump = await _dump_database(session)

    for secret in (
        "xxxxxxxxxxxxxxxxxxxxxxxx",  # oauth.api.secret
        "sig-key-42",
        "access-a-good-authorization-code",
        "refresh-a-good-authorization-code",
        created["token"],
        tenant.user_secret,
        tenant.organization_secret,
    ):
        assert secret not in dump
    assert "auth.mycoolapp.com" in dump, "non-secret configuration is stored in clear"


async def _dump_database(session: AsyncSession) -> str:
    """Every row of every table as text, as a database dump would show them."""
    rows = []
    for table in ("organizations", "users", "instances"):
        result = await session.execute(text(f"SELECT * FROM {table}"))
        rows.extend(repr(tuple(row)) for row in result)
    return "\n".join(rows)


async def test_stored_instances_read_back_with_their_secrets(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, session: AsyncSession
) -> None:
    created = (await create(client, tenant, seeds.filled(seeds.DOCUSHAREFLEX))).json()

    instance = await session.scalar(select(Instance).where(Instance.id == created["id"]))

    assert instance is not None
    assert instance.secrets["oauth.api.secret"] == "xxxxxxxxxxxxxxxxxxxxxxxx"
    assert instance.token == created["token"]
    assert instance.access_token_expires_at is not None
    assert instance.configuration["docushare.domain"] == "mysite.docushareflex.com"
