"""Polling OneDrive's drive delta (respx-mocked Graph): baseline, changes, dedupe, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from pollhub.db.models import PollState
from tests import seeds
from tests.conftest import TOKEN_ENDPOINTS, Tenant
from tests.polling.conftest import RunPolls, delivered_events, notification_bodies

API = "/elements/api-v2"
DELTA = "https://graph.microsoft.com/v1.0/me/drive/root/delta"
INTERVAL = timedelta(minutes=15, seconds=1)


def item(item_id: str, created: str, modified: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "name": f"{item_id}.docx",
        "createdDateTime": created,
        "lastModifiedDateTime": modified,
        "file": {"mimeType": "application/msword"},
        **extra,
    }


@dataclass
class FakeDrive:
    """Graph's delta feed: a full enumeration without a token, then what changed since."""

    items: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    generation: int = 0
    gone: bool = False
    requests: list[httpx.Request] = field(default_factory=list)

    def change(self, *changed: dict[str, Any]) -> None:
        self.pending.extend(changed)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if "token=" in url or "(token=" in url:
            if self.gone:
                return httpx.Response(
                    410, json={"error": {"code": "resyncRequired", "message": "Resync required"}}
                )
            value, self.pending = self.pending, []
        else:
            value = [{"id": "root", "root": {}, "name": "root"}, *self.items]
        self.generation += 1
        link = f"{DELTA}(token='t{self.generation}')"
        return httpx.Response(200, json={"value": value, "@odata.deltaLink": link})


@pytest.fixture
def drive(providers: respx.MockRouter) -> FakeDrive:
    fake = FakeDrive(items=[item("A", "2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z")])
    providers.get(url__startswith=DELTA).mock(side_effect=fake.handler)
    return fake


async def create_instance(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    response = await client.post(
        f"{API}/instances", json=seeds.filled(seeds.ONEDRIVE), headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    instance: dict[str, Any] = response.json()
    return instance


async def test_first_poll_records_baseline_and_sends_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    session: AsyncSession,
) -> None:
    await create_instance(client, tenant)

    outcomes = await run_polls()

    assert outcomes == ["baseline"]
    assert await delivered_events(session) == []
    state = await session.scalar(select(PollState))
    assert state is not None and state.cursor["feed"] == {"deltaLink": f"{DELTA}(token='t1')"}
    assert drive.requests[0].headers["Authorization"] == "Bearer access-Code on Return the URL"


async def test_changes_after_the_baseline_are_reported_with_their_types(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    session: AsyncSession,
) -> None:
    instance = await create_instance(client, tenant)
    await run_polls()
    drive.change(
        item("B", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z"),
        item("A", "2026-11-01T10:00:00Z", "2026-11-25T10:05:00Z"),
        {"id": "C", "deleted": {"state": "deleted"}},
    )
    clock.advance(INTERVAL)

    outcomes = await run_polls()

    assert outcomes == ["ok: 3 changes"]
    events = await delivered_events(session)
    assert [(e["objectId"], e["eventType"]) for e in events] == [
        ("B", "CREATED"),
        ("A", "UPDATED"),
        ("C", "DELETED"),
    ]
    assert {e["objectType"] for e in events} == {"events"}
    assert {e["elementKey"] for e in events} == {"onedrivev2"}
    assert {e["hubKey"] for e in events} == {"documents"}
    body = (await notification_bodies(session))[0]
    assert body["message"]["instanceId"] == instance["id"]
    assert [o["id"] for o in body["message"]["raw"]["events"]] == ["B", "A", "C"]


async def test_a_change_is_never_reported_twice(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    session: AsyncSession,
) -> None:
    await create_instance(client, tenant)
    await run_polls()
    changed = item("A", "2026-11-01T10:00:00Z", "2026-11-25T10:05:00Z")
    drive.change(changed)
    clock.advance(INTERVAL)
    await run_polls()

    drive.change(changed)  # the provider repeats an unchanged version
    clock.advance(INTERVAL)
    outcomes = await run_polls()

    assert outcomes == ["ok: 0 changes"]
    assert len(await delivered_events(session)) == 1


async def test_a_lost_delta_token_resynchronises_without_losing_or_inventing_changes(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    session: AsyncSession,
) -> None:
    drive.items.append(item("D", "2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z"))
    await create_instance(client, tenant)
    await run_polls()
    # While the token is lost, A changes, D is deleted and E is created.
    drive.items = [
        item("A", "2026-11-01T10:00:00Z", "2026-11-25T09:00:00Z"),
        item("E", "2026-11-25T09:30:00Z", "2026-11-25T09:30:00Z"),
    ]
    drive.gone = True
    clock.advance(INTERVAL)

    outcomes = await run_polls()

    assert outcomes == ["resynced: 3 changes"]
    events = {(e["objectId"], e["eventType"]) for e in await delivered_events(session)}
    assert events == {("A", "UPDATED"), ("E", "CREATED"), ("D", "DELETED")}


async def test_throttling_backs_off_without_moving_the_cursor(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    session: AsyncSession,
    providers: respx.MockRouter,
) -> None:
    await create_instance(client, tenant)
    await run_polls()
    state = await session.scalar(select(PollState))
    assert state is not None
    cursor = state.cursor
    providers.get(url__startswith=DELTA).mock(
        return_value=httpx.Response(
            429,
            headers={"Retry-After": "600"},
            json={"error": {"code": "TooManyRequests", "message": "Slow down"}},
        )
    )
    clock.advance(INTERVAL)

    outcomes = await run_polls()

    assert outcomes == ["throttled"]
    session.expire_all()
    state = await session.scalar(select(PollState))
    assert state is not None
    assert state.cursor == cursor
    assert state.next_poll_at >= clock.now() + timedelta(seconds=599)
    assert state.consecutive_failures == 1
    assert "429" in (state.last_error or "")
    assert await run_polls() == [], "not due again before Retry-After"


async def test_a_401_refreshes_the_token_once_and_retries(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    session: AsyncSession,
    providers: respx.MockRouter,
) -> None:
    await create_instance(client, tenant)
    expired = {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}
    calls: list[str] = []

    def unauthorized_once(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Authorization"])
        if len(calls) == 1:
            return httpx.Response(401, json=expired)
        return drive.handler(request)

    providers.get(url__startswith=DELTA).mock(side_effect=unauthorized_once)

    outcomes = await run_polls()

    assert outcomes == ["baseline"]
    assert calls == ["Bearer access-Code on Return the URL", "Bearer access-refreshed"]


async def test_a_refused_refresh_marks_the_instance_invalid_and_stops_polling(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    providers: respx.MockRouter,
) -> None:
    instance = await create_instance(client, tenant)
    providers.post(TOKEN_ENDPOINTS["microsoft"]).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "AADSTS70008: expired"}
        )
    )
    clock.advance(timedelta(hours=2))  # the access token has expired

    outcomes = await run_polls()

    assert outcomes == ["invalid"]
    shown = await client.get(f"{API}/instances/{instance['id']}", headers=tenant.headers)
    assert shown.json()["valid"] is False
    assert "AADSTS70008" in shown.json()["invalidReason"]
    clock.advance(timedelta(hours=1))
    assert await run_polls() == [], "an invalid instance is not polled"


async def test_poll_now_makes_every_resource_due(
    client: httpx.AsyncClient, tenant: Tenant, drive: FakeDrive, run_polls: RunPolls
) -> None:
    instance = await create_instance(client, tenant)
    await run_polls()
    assert await run_polls() == []

    response = await client.post(
        f"{API}/instances/{instance['id']}/events/poll", headers=tenant.headers
    )

    assert response.status_code == 202
    assert await run_polls() == ["ok: 0 changes"]


async def test_poll_status_shows_each_resource(
    client: httpx.AsyncClient, tenant: Tenant, drive: FakeDrive, run_polls: RunPolls
) -> None:
    instance = await create_instance(client, tenant)
    await run_polls()

    response = await client.get(f"{API}/instances/{instance['id']}/poller", headers=tenant.headers)

    [status] = response.json()
    assert status["resource"] == "events"
    assert status["lastResult"] == "baseline"
    assert status["baselined"] is True
    assert status["lastError"] is None


async def test_turning_events_off_stops_polling(
    client: httpx.AsyncClient, tenant: Tenant, drive: FakeDrive, run_polls: RunPolls
) -> None:
    instance = await create_instance(client, tenant)

    await client.patch(
        f"{API}/instances/{instance['id']}",
        headers=tenant.headers,
        json={"configuration": {"event.notification.enabled": False}},
    )

    assert await run_polls() == []


async def test_a_poll_that_crashes_gives_its_lease_back_and_loses_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    drive: FakeDrive,
    run_polls: RunPolls,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The soak test's finding: a database connection dropped mid-poll left the lease held,
    # so the resource went silent until the lease expired.
    await create_instance(client, tenant)
    await run_polls()
    drive.change(item("B", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z"))
    clock.advance(INTERVAL)

    async def connection_dropped(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("connection was closed in the middle of operation")

    with monkeypatch.context() as patched:
        patched.setattr("pollhub.polling.poller._detect", connection_dropped)
        with pytest.raises(ConnectionResetError):
            await run_polls()

    session.expire_all()
    state = await session.scalar(select(PollState))
    assert state is not None
    assert (state.lease_owner, state.lease_expires_at) == (None, None)
    assert state.last_result == "crashed"
    assert state.cursor["feed"] == {"deltaLink": f"{DELTA}(token='t1')"}  # did not move
    wait = state.next_poll_at - clock.now()
    assert timedelta(seconds=20) <= wait <= timedelta(minutes=1)  # the backoff, not the lease

    drive.change(item("B", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z"))  # read again
    clock.advance(wait)
    assert await run_polls() == ["ok: 1 change"]
    assert [(e["objectId"], e["eventType"]) for e in await delivered_events(session)] == [
        ("B", "CREATED")
    ]
