"""A Cloud Elements customer moves over without changing a line.

Each test replays calls a customer's code makes against Cloud Elements, in Cloud Elements'
own request shapes, and checks the answers Cloud Elements gave — both taken from the
reference (``cloud_elements.md`` sections 4-5: the developer portal, Cloud Elements' own
"churros" test suite), not from what pollhub happens to answer. Runs on SQLite and
PostgreSQL (the ``client`` fixture).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.models import Instance, Notification
from pollhub.delivery.dispatcher import Dispatcher
from pollhub.delivery.outbox import enqueue_polled_changes
from pollhub.oauth.tokens import TokenKeeper
from pollhub.polling import schedule
from pollhub.polling.poller import PollContext, poll_resource
from pollhub.settings import get_settings
from tests import seeds
from tests.conftest import TOKEN_ENDPOINTS, Tenant
from tests.delivery.conftest import Receiver, changes, fail_times, free_port

API = "/elements/api-v2"
MASK = "********"
DELTA = "https://graph.microsoft.com/v1.0/me/drive/root/delta"
CLIENT_ID, CLIENT_SECRET = "my-onedrive-client-id", "my-onedrive-client-secret"


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
async def callbacks(settings_env: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    """The customer's callback endpoint, on 127.0.0.1 (allowed for the test)."""
    monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_CALLBACKS", "true")
    get_settings.cache_clear()
    receiver = Receiver(port=free_port())
    await receiver.start()
    yield receiver
    await receiver.stop()
    get_settings.cache_clear()


@pytest.fixture
def drive(providers: respx.MockRouter) -> Iterator[list[httpx.Request]]:
    """OneDrive's delta feed (empty); the requests it got."""
    requests: list[httpx.Request] = []

    def delta(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"value": [], "@odata.deltaLink": f"{DELTA}?token=t1"})

    providers.get(url__startswith=DELTA).mock(side_effect=delta)
    yield requests


async def run_polls(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """Claim and run every due poll, as a worker's tick does."""
    async with httpx.AsyncClient() as http:
        context = PollContext(sessionmaker, TokenKeeper(sessionmaker), http, "test-worker")
        async with sessionmaker() as session:
            claims = await schedule.claim_due_polls(session, "test-worker", 100)
            await session.commit()
        return [await poll_resource(context, claim) for claim in claims]


async def enqueue(session: AsyncSession, instance_id: int, count: int = 1) -> list[str]:
    """``count`` notifications for the instance, as a poll writes them; their eventIds."""
    instance = await session.get(Instance, instance_id, populate_existing=True)
    assert instance is not None
    ids = []
    for index in range(count):
        added = await enqueue_polled_changes(
            session,
            instance,
            hub_key="documents",
            object_type="files",
            events=changes(1, index),
            poll_date=clock.now(),
        )
        ids += [n.event_id for n in added]
    await session.commit()
    return ids


def onedrive(**configuration: Any) -> dict[str, Any]:
    """The seeds' OneDrive body (reference section 4.3), events to ``callback.url``."""
    body = seeds.filled(copy.deepcopy(seeds.ONEDRIVE))
    body["configuration"].update(
        {"oauth.api.key": CLIENT_ID, "oauth.api.secret": CLIENT_SECRET, **configuration}
    )
    return body


def external(refresh_token: str, **configuration: Any) -> dict[str, Any]:
    """churros ``createExternalInstance``: tokens the customer already holds, no code."""
    return {
        "element": {"key": "onedrivev2"},
        "configuration": {
            "oauth.user.refresh_token": refresh_token,
            "oauth.api.key": CLIENT_ID,
            "oauth.api.secret": CLIENT_SECRET,
            "event.notification.enabled": "true",
            "event.notification.callback.url": "https://client.example.com/events",
            **configuration,
        },
        "name": "onedrivev2 external auth churros",
        "externalAuthentication": "initial",
    }


def with_token(tenant: Tenant, token: str) -> dict[str, str]:
    """``Authorization: User …, Organization …, Element <token>``."""
    auth = tenant.headers["Authorization"]
    return {"Authorization": f"{auth}, Element {token}"}


async def created(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> Any:
    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


def refreshes(providers: respx.MockRouter) -> list[dict[str, str]]:
    return [
        dict(httpx.QueryParams(call.request.content.decode()))
        for call in providers.calls
        if str(call.request.url) == TOKEN_ENDPOINTS["microsoft"]
        and b"grant_type=refresh_token" in call.request.content
    ]


# -- token import (externalAuthentication: "initial") --------------------------------------


async def test_instances_created_from_held_tokens_are_refreshed_and_polled_at_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    drive: list[httpx.Request],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    instance = await created(client, tenant, external("refresh-held-by-the-customer"))

    assert instance["externalAuthentication"] == "initial"
    assert instance["valid"] is True
    assert instance["configuration"]["oauth.user.refresh_token"] == MASK
    assert [r["refresh_token"] for r in refreshes(providers)] == ["refresh-held-by-the-customer"]
    assert await run_polls(sessionmaker) == ["baseline"]
    assert drive[0].headers["Authorization"] == "Bearer access-refreshed"


async def test_an_imported_access_token_still_fresh_is_used_as_is(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    drive: list[httpx.Request],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The stored OAuth bookkeeping keys of reference section 4.3: seconds, epoch ms.
    now_ms = int(clock.now().timestamp() * 1000)
    body = external(
        "refresh-held",
        **{
            "oauth.user.token": "access-held-by-the-customer",
            "oauth.user.refresh_interval": "3599",
            "oauth.user.refresh_time": str(now_ms),
        },
    )

    await created(client, tenant, body)

    assert refreshes(providers) == []
    await run_polls(sessionmaker)
    assert drive[0].headers["Authorization"] == "Bearer access-held-by-the-customer"


async def test_an_imported_access_token_gone_stale_is_refreshed_before_the_first_poll(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    drive: list[httpx.Request],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    two_hours_ago = int((clock.now() - timedelta(hours=2)).timestamp() * 1000)
    body = external(
        "refresh-held",
        **{
            "oauth.user.token": "access-expired",
            "oauth.user.refresh_interval": 3599,
            "oauth.user.refresh_time": two_hours_ago,
        },
    )

    await created(client, tenant, body)
    await run_polls(sessionmaker)

    assert len(refreshes(providers)) == 1
    assert drive[0].headers["Authorization"] == "Bearer access-refreshed"


async def test_a_refresh_token_the_provider_refuses_leaves_the_instance_invalid_with_its_reason(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    instance = await created(client, tenant, external("revoked"))

    assert instance["valid"] is False
    assert "invalid_grant" in instance["invalidReason"]
    assert "AADSTS70000" in instance["invalidReason"]


async def test_token_import_without_any_token_is_a_400_naming_the_key(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    body = external("unused")
    del body["configuration"]["oauth.user.refresh_token"]

    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)

    assert response.status_code == 400
    assert "oauth.user.refresh_token" in response.json()["message"]


# -- /elements/{keyOrId}/instances, PUT, configuration read back --------------------------


@pytest.mark.parametrize("key_or_id", ["onedrivev2", "146"])
async def test_crud_by_element_key_and_by_element_id(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, key_or_id: str
) -> None:
    # churros crudsInstance(`elements/${key or id}/instances`): POST, GET one, GET all,
    # PUT, DELETE, all under the element.
    base = f"{API}/elements/{key_or_id}/instances"
    body = onedrive()

    created_ = await client.post(base, json=body, headers=tenant.headers)
    assert created_.status_code == 200, created_.text
    instance = created_.json()
    assert instance["element"]["key"] == "onedrivev2" and instance["elementId"] == 146
    one = await client.get(f"{base}/{instance['id']}", headers=tenant.headers)
    assert one.status_code == 200 and one.json()["configuration"]["oauth.api.key"] == MASK
    listed = await client.get(base, headers=tenant.headers)
    assert [i["id"] for i in listed.json()] == [instance["id"]]
    renamed = await client.put(
        f"{base}/{instance['id']}",
        json={**body, "name": "updated-instance"},
        headers=tenant.headers,
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "updated-instance"
    deleted = await client.delete(f"{base}/{instance['id']}", headers=tenant.headers)
    assert deleted.status_code == 200
    gone = await client.get(f"{API}/instances/{instance['id']}", headers=tenant.headers)
    assert gone.status_code == 404


async def test_another_elements_instance_is_not_found_under_an_element(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    instance = await created(client, tenant, onedrive())

    response = await client.get(
        f"{API}/elements/googlesuite/instances/{instance['id']}", headers=tenant.headers
    )

    assert response.status_code == 404


async def test_put_is_a_full_update_and_reprovisions_with_a_code(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    instance = await created(
        client, tenant, onedrive(**{"event.notification.signature.key": "old-key"})
    )
    body = onedrive()  # churros genInstance: name, element, the configuration, a new code
    body["name"] = "updated-instance"
    body["providerData"] = {"code": "a-second-code"}

    response = await client.put(
        f"{API}/instances/{instance['id']}", json=body, headers=tenant.headers
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert "providerData" not in updated  # reference 4.3: PUT/PATCH answers carry none
    assert updated["name"] == "updated-instance"
    assert "event.notification.signature.key" not in updated["configuration"], "full update"
    exchanged = dict(httpx.QueryParams(providers.calls.last.request.content.decode()))
    assert exchanged["code"] == "a-second-code"


async def test_configuration_values_read_back_as_sent_and_the_client_id_is_masked(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    # DocuShare Flex seed: "event.poller.refresh_interval": "15", "event.notification.enabled": true
    body = seeds.filled(seeds.DOCUSHAREFLEX)

    configuration = (await created(client, tenant, body))["configuration"]

    assert configuration["event.poller.refresh_interval"] == "15"
    assert configuration["event.notification.enabled"] is True
    assert configuration["event.vendor.type"] == "polling"
    # churros instances.js: both OAuth app keys come back masked.
    assert configuration["oauth.api.key"] == MASK
    assert configuration["oauth.api.secret"] == MASK


async def test_configuration_entries_change_the_callback_url_as_documented(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    instance = await created(client, tenant, onedrive())
    base = f"{API}/instances/{instance['id']}/configuration"

    entries = (await client.get(base, headers=tenant.headers)).json()
    by_key = {e["key"]: e for e in entries}
    assert by_key["event.notification.enabled"]["propertyValue"] == "true"
    assert by_key["oauth.api.key"]["propertyValue"] == MASK
    assert by_key["oauth.api.secret"]["propertyValue"] == MASK
    url_entry = by_key["event.notification.callback.url"]
    # churros: PATCH the entry as read, with a new propertyValue; read it back by r.body.id.
    patched = await client.patch(
        f"{base}/{url_entry['id']}",
        json={**url_entry, "propertyValue": "https://client.example.com/v2/events"},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    again = await client.get(f"{base}/{patched.json()['id']}", headers=tenant.headers)
    assert again.json()["propertyValue"] == "https://client.example.com/v2/events"
    shown = (await client.get(f"{API}/instances/{instance['id']}", headers=tenant.headers)).json()
    assert shown["configuration"]["event.notification.callback.url"].endswith("/v2/events")


async def test_a_configuration_entry_is_validated_like_any_change(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    instance = await created(client, tenant, onedrive())
    base = f"{API}/instances/{instance['id']}/configuration"
    entries = {e["key"]: e for e in (await client.get(base, headers=tenant.headers)).json()}
    entry = entries["event.poller.refresh_interval"]

    response = await client.patch(
        f"{base}/{entry['id']}", json={"propertyValue": "often"}, headers=tenant.headers
    )

    assert response.status_code == 400
    assert "event.poller.refresh_interval" in response.json()["message"]


# -- the id-less forms, for the instance of the Element token -------------------------------


async def test_token_scoped_calls_act_on_the_element_tokens_instance(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter
) -> None:
    mine = await created(client, tenant, onedrive())
    other = await created(client, tenant, onedrive())
    headers = with_token(tenant, mine["token"])

    entries = {
        e["key"]: e
        for e in (await client.get(f"{API}/instances/configuration", headers=headers)).json()
    }
    entry = entries["event.notification.enabled"]
    patched = await client.patch(
        f"{API}/instances/configuration/{entry['id']}",
        json={**entry, "propertyValue": "false"},
        headers=headers,
    )
    tagged = await client.patch(
        f"{API}/instances", json={"id": mine["id"], "tags": ["churros-testing"]}, headers=headers
    )
    replaced = await client.put(
        f"{API}/instances", json={**onedrive(), "name": "updated-instance"}, headers=headers
    )
    disabled = await client.delete(f"{API}/instances/enabled", headers=headers)

    assert patched.json()["propertyValue"] == "false"
    assert tagged.json()["tags"] == ["churros-testing"]
    assert replaced.json()["name"] == "updated-instance"
    assert disabled.json()["disabled"] is True
    assert (await client.put(f"{API}/instances/enabled", headers=headers)).json()[
        "disabled"
    ] is False
    untouched = (await client.get(f"{API}/instances/{other['id']}", headers=tenant.headers)).json()
    assert untouched["name"] != "updated-instance" and untouched["tags"] != ["churros-testing"]


async def test_token_scoped_calls_without_an_element_token_are_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(f"{API}/instances/configuration", headers=tenant.headers)

    assert response.status_code == 401
    assert "Element" in response.json()["message"]


# -- disabling an instance --------------------------------------------------------------------


async def test_a_disabled_instance_is_not_polled_and_its_notifications_wait_until_enabled(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    drive: list[httpx.Request],
    callbacks: Receiver,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    instance = await created(
        client, tenant, onedrive(**{"event.notification.callback.url": callbacks.url})
    )
    url = f"{API}/instances/{instance['id']}/enabled"
    hub = f"{API}/hubs/documents/events"
    waiting = await enqueue(session, instance["id"], count=2)

    disabled = await client.delete(url, headers=tenant.headers)
    hub_while_disabled = await client.get(hub, headers=with_token(tenant, instance["token"]))
    async with Dispatcher(sessionmaker, worker_id="w", timeout_seconds=2) as dispatcher:
        assert await dispatcher.deliver_due() == 0
        assert await run_polls(sessionmaker) == []
        enabled = await client.put(url, headers=tenant.headers)
        for _ in range(3):
            await dispatcher.deliver_due()
    hub_when_enabled = await client.get(hub, headers=with_token(tenant, instance["token"]))

    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    # churros: hub calls of a disabled instance are a 403.
    assert hub_while_disabled.status_code == 403
    assert set(hub_while_disabled.json()) >= {"requestId", "message"}
    assert enabled.json()["disabled"] is False
    assert hub_when_enabled.status_code == 200, hub_when_enabled.text
    assert callbacks.ids() == waiting, "nothing dropped, delivered in order once enabled"
    assert await run_polls(sessionmaker) == ["baseline"]


# -- organization-wide history and analytics ------------------------------------------------


async def test_the_organizations_history_lists_every_instances_events(
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
) -> None:
    first = await created(client, tenant, onedrive())
    second = await created(client, tenant, onedrive())
    theirs = await created(client, other_tenant, onedrive())
    ids = [*await enqueue(session, first["id"]), *await enqueue(session, second["id"])]
    await enqueue(session, theirs["id"])

    listed = await client.get(f"{API}/instances/events", headers=tenant.headers)
    one = await client.get(f"{API}/instances/events/{ids[0]}", headers=tenant.headers)
    hidden = await client.get(f"{API}/instances/events/{ids[0]}", headers=other_tenant.headers)

    assert listed.status_code == 200
    assert [e["eventId"] for e in listed.json()] == ids[::-1]
    assert one.status_code == 200 and one.json()["body"]["message"]["eventId"] == ids[0]
    assert hidden.status_code == 404


async def test_analytics_count_events_per_bucket_per_instance_and_per_account(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    session: AsyncSession,
) -> None:
    first = await created(client, tenant, onedrive())
    second = await created(client, tenant, onedrive())
    delivered_id, failed_id = await enqueue(session, first["id"], count=2)
    await enqueue(session, second["id"])
    await session.execute(
        text("UPDATE notifications SET status = 'delivered' WHERE event_id = :e"),
        {"e": delivered_id},
    )
    await session.execute(
        text("UPDATE notifications SET status = 'failed' WHERE event_id = :e"), {"e": failed_id}
    )
    await session.commit()
    now = clock.now()
    window = {
        "from": (now - timedelta(minutes=2)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
        "interval": "minute",
    }

    overall = await client.get(
        f"{API}/instances/events/analytics", params=window, headers=tenant.headers
    )
    per_instance = await client.get(
        f"{API}/instances/events/analytics/instances", params=window, headers=tenant.headers
    )
    per_account = await client.get(
        f"{API}/instances/events/analytics/accounts", params=window, headers=tenant.headers
    )

    assert overall.status_code == 200, overall.text
    buckets = overall.json()
    assert len(buckets) >= 3  # every minute of the window, empty ones as 0
    totals = [sum(b[key] for b in buckets) for key in ("count", "success", "delivered", "failed")]
    assert totals == [3, 1, 1, 1]
    counts = {
        b["instanceId"]: (b["count"], b["delivered"], b["failed"]) for b in per_instance.json()
    }
    assert counts == {first["id"]: (2, 1, 1), second["id"]: (1, 0, 0)}
    assert [(b["accountId"], b["count"]) for b in per_account.json()] == [
        (tenant.organization_id, 3)
    ]


async def test_analytics_refuse_what_the_original_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # churros: interval=second is a 400; accountIds[]=0 (not the caller's) is a 403.
    second = await client.get(
        f"{API}/instances/events/analytics", params={"interval": "second"}, headers=tenant.headers
    )
    foreign = await client.get(
        f"{API}/instances/events/analytics",
        params={"interval": "minute", "accountIds[]": "0"},
        headers=tenant.headers,
    )

    ancient = await client.get(
        f"{API}/instances/events/analytics",
        params={"to": "0001-01-02T00:00:00"},
        headers=tenant.headers,
    )

    assert second.status_code == 400 and "interval" in second.json()["message"]
    assert ancient.status_code == 400 and "'from' and 'to'" in ancient.json()["message"]
    assert foreign.status_code == 403 and set(foreign.json()) >= {"requestId", "message"}


# -- failure policy "queue" and the deliveries API ------------------------------------------


async def test_with_policy_queue_failed_deliveries_are_queued_pulled_and_released_in_order(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    callbacks: Receiver,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = onedrive(
        **{
            "event.notification.callback.url": callbacks.url,
            "notification.webhook.failure.policy": "queue",
        }
    )
    instance = await created(client, tenant, body)
    callbacks.answer = fail_times(1_000)
    ids = await enqueue(session, instance["id"], count=2)
    where = f"channel='webhook' and status='queued' and config.url='{callbacks.url}'"

    async with Dispatcher(sessionmaker, worker_id="w", max_retries=0, timeout_seconds=2) as d:
        await d.deliver_due()  # the only attempt of the first fails: it and the second queue
        later = await enqueue(session, instance["id"])  # queued behind them
        pulled = await client.get(
            f"{API}/notifications/subscriptions/deliveries",
            params={"where": where},
            headers=tenant.headers,
        )
        callbacks.answer = None
        released = await client.put(
            f"{API}/notifications/subscriptions/deliveries",
            params={"where": where},
            headers=tenant.headers,
        )
        for _ in range(4):
            await d.deliver_due()

    assert pulled.status_code == 200, pulled.text
    queued = pulled.json()
    assert [q["delivery"]["message"]["eventId"] for q in queued] == [*ids, *later]
    assert {q["status"] for q in queued} == {"queued"} and queued[0]["channel"] == "webhook"
    assert released.json() == {"released": 3}
    delivered = [i for i in callbacks.ids() if i]
    assert delivered[-3:] == [*ids, *later], "released in their order"
    session.expire_all()
    assert set(await session.scalars(select(Notification.status))) == {"delivered"}


async def test_without_a_policy_deliveries_still_fail_after_the_last_retry(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    callbacks: Receiver,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    instance = await created(
        client, tenant, onedrive(**{"event.notification.callback.url": callbacks.url})
    )
    callbacks.answer = fail_times(1_000)
    await enqueue(session, instance["id"])

    async with Dispatcher(sessionmaker, worker_id="w", max_retries=0, timeout_seconds=2) as d:
        await d.deliver_due()

    session.expire_all()
    assert list(await session.scalars(select(Notification.status))) == ["failed"]


async def test_a_deliveries_where_clause_it_cannot_read_is_a_400(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.get(
        f"{API}/notifications/subscriptions/deliveries",
        params={"where": "status like 'q%'"},
        headers=tenant.headers,
    )

    assert response.status_code == 400 and "where" in response.json()["message"]


# -- callback headers and HTTP Basic --------------------------------------------------------


async def test_callback_headers_and_basic_auth_go_with_every_attempt_and_stay_secret(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    callbacks: Receiver,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = onedrive(
        **{
            "event.notification.callback.url": callbacks.url,
            "event.notification.callback.headers": '{"X-Customer-Key": "abc-123"}',
            "event.notification.basic.username": "events-user",
            "event.notification.basic.password": "events-pass-9",
            "event.notification.signature.key": "sig",
        }
    )
    instance = await created(client, tenant, body)
    callbacks.answer = fail_times(1)
    await enqueue(session, instance["id"])

    async with Dispatcher(sessionmaker, worker_id="w", timeout_seconds=2) as d:
        await d.deliver_due()
        clock.advance(timedelta(minutes=1))
        await d.deliver_due()

    assert len(callbacks.requests) == 2  # a failed attempt and its retry
    expected = "Basic " + base64.b64encode(b"events-user:events-pass-9").decode()
    for request in callbacks.requests:
        assert request.headers["X-Customer-Key"] == "abc-123"
        assert request.headers["Authorization"] == expected
        assert request.headers["Elements-Webhook-Signature"].startswith("sha256=")
    configuration = instance["configuration"]
    for key in (
        "event.notification.callback.headers",
        "event.notification.basic.username",
        "event.notification.basic.password",
    ):
        assert configuration[key] == MASK
    raw = await session.execute(text("SELECT configuration, secrets FROM instances"))
    stored = " ".join(str(value) for row in raw.all() for value in row)
    for secret in ("abc-123", "events-pass-9", "events-user"):
        assert secret not in stored, "stored encrypted"


@pytest.mark.parametrize(
    "header", ["Host", "Content-Length", "Elements-Webhook-Signature", "webhook-id", "Bad Name"]
)
async def test_callback_headers_that_would_break_http_or_signing_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, providers: respx.MockRouter, header: str
) -> None:
    body = onedrive(**{"event.notification.callback.headers": {header: "x"}})

    response = await client.post(f"{API}/instances", json=body, headers=tenant.headers)

    assert response.status_code == 400, response.text
    assert "event.notification.callback.headers" in response.json()["message"]


async def test_headers_as_name_value_lines_are_accepted(
    client: httpx.AsyncClient,
    tenant: Tenant,
    providers: respx.MockRouter,
    callbacks: Receiver,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    body = onedrive(
        **{
            "event.notification.callback.url": callbacks.url,
            "event.notification.callback.headers": "X-One: 1\nX-Two: two",
        }
    )
    instance = await created(client, tenant, body)
    await enqueue(session, instance["id"])

    async with Dispatcher(sessionmaker, worker_id="w", timeout_seconds=2) as d:
        await d.deliver_due()

    assert callbacks.requests[0].headers["X-One"] == "1"
    assert callbacks.requests[0].headers["X-Two"] == "two"
