"""Delivery against a real local receiver: success, retries, timeouts, outages, ordering."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.delivery import dispatcher as dispatcher_module
from pollhub.delivery.dispatcher import CHAIN, Dispatcher
from pollhub.delivery.repository import Claimed, Outcome, claim_following, record_outcomes
from pollhub.delivery.retry import parse_retry_after, retry_delay
from tests.conftest import Tenant
from tests.delivery.conftest import (
    Receiver,
    add_instance,
    drain,
    enqueue,
    fail_times,
    free_port,
    notifications,
)


async def test_a_2xx_marks_the_notification_delivered(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    [queued] = await enqueue(session, instance)

    assert await dispatcher.deliver_due() == 1

    [stored] = await notifications(session)
    assert receiver.ids() == [queued.event_id]
    assert stored.status == "delivered"
    assert stored.attempts == 1 and stored.last_status_code == 200
    assert stored.delivered_at is not None and stored.lease_owner is None
    assert await dispatcher.deliver_due() == 0


async def test_a_receiver_failing_three_times_gets_it_on_the_fourth_try_with_the_same_id(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.answer = fail_times(3, status=503)
    instance = await add_instance(session, tenant, receiver.url)
    await enqueue(session, instance)

    waits = []
    for _ in range(3):
        await dispatcher.deliver_due()
        [stored] = await notifications(session)
        assert stored.status == "retrying"
        assert stored.last_status_code == 503 and "receiver is unwell" in (stored.last_error or "")
        assert await dispatcher.deliver_due() == 0  # not due yet
        wait = stored.next_attempt_at - clock.now()
        waits.append(wait.total_seconds())
        clock.advance(wait + timedelta(milliseconds=1))
    await dispatcher.deliver_due()

    [stored] = await notifications(session)
    assert stored.status == "delivered" and stored.attempts == 4
    assert len(receiver.requests) == 4 and len(set(receiver.ids())) == 1
    # 4^x seconds with ±20 % jitter.
    for retry, seconds in enumerate(waits, start=1):
        assert 0.8 * 4**retry - 1 <= seconds <= 1.2 * 4**retry


async def test_after_the_last_retry_the_notification_is_failed_and_kept(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
) -> None:
    receiver.answer = fail_times(100)
    instance = await add_instance(session, tenant, receiver.url)
    await enqueue(session, instance)

    async with Dispatcher(sessionmaker, worker_id="w", max_retries=2) as dispatcher:
        for _ in range(4):
            await dispatcher.deliver_due()
            clock.advance(timedelta(minutes=2))

    [stored] = await notifications(session)
    assert stored.status == "failed" and stored.attempts == 3
    assert len(receiver.requests) == 3


async def test_retry_after_is_honoured(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.answer = fail_times(1, status=429, headers={"Retry-After": "120"})
    instance = await add_instance(session, tenant, receiver.url)
    await enqueue(session, instance)

    await dispatcher.deliver_due()
    clock.advance(timedelta(seconds=60))
    assert await dispatcher.deliver_due() == 0
    clock.advance(timedelta(seconds=61))
    assert await dispatcher.deliver_due() == 1

    assert [n.status for n in await notifications(session)] == ["delivered"]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = clock.now().replace(microsecond=0)
    http_date = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    assert parse_retry_after("30", now) == 30
    assert parse_retry_after(http_date, now) == 90
    assert parse_retry_after("soon", now) is None
    assert retry_delay(1, retry_after=1000) == 1000
    assert retry_delay(1, retry_after=10**9) == 4**9  # never parked beyond the schedule


async def test_a_hanging_receiver_times_out_and_is_retried(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    async def hang(request: web.Request) -> web.StreamResponse:
        await receiver.release.wait()
        return web.Response()

    receiver.answer = hang
    instance = await add_instance(session, tenant, receiver.url)
    await enqueue(session, instance)

    started = asyncio.get_running_loop().time()
    await dispatcher.deliver_due()

    assert asyncio.get_running_loop().time() - started < 3
    [stored] = await notifications(session)
    assert stored.status == "retrying"
    assert stored.last_error == "timed out after 1 s" and stored.last_status_code is None


async def test_a_receiver_down_for_a_while_gets_everything_once_it_is_back(
    session: AsyncSession, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    receiver = Receiver(port=free_port())  # not started: connection refused
    instance = await add_instance(session, tenant, receiver.url)
    queued = await enqueue(session, instance, count=3)

    await dispatcher.deliver_due()
    clock.advance(timedelta(seconds=5))
    await dispatcher.deliver_due()
    [first, *_] = await notifications(session)
    assert first.status == "retrying" and first.attempts == 2
    assert "Cannot connect" in (first.last_error or "") or "refused" in (first.last_error or "")

    await receiver.start()
    try:
        clock.advance(timedelta(seconds=20))
        await drain(dispatcher)
    finally:
        await receiver.stop()

    assert receiver.ids() == [n.event_id for n in queued]
    assert {n.status for n in await notifications(session)} == {"delivered"}


async def test_a_later_notification_waits_while_an_earlier_one_of_its_instance_is_retried(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.answer = fail_times(2)
    instance = await add_instance(session, tenant, receiver.url)
    queued = await enqueue(session, instance, count=4)

    for _ in range(6):
        await drain(dispatcher)
        clock.advance(timedelta(minutes=5))

    ids = [n.event_id for n in queued]
    # The first is tried three times; nothing after it is sent before it is delivered.
    assert receiver.ids() == [ids[0], ids[0], ids[0], ids[1], ids[2], ids[3]]


async def test_a_failing_instance_does_not_hold_back_another(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    down = await add_instance(session, tenant, f"http://127.0.0.1:{free_port()}/dead")
    up = await add_instance(session, tenant, receiver.url)
    await enqueue(session, down, count=2)
    healthy = await enqueue(session, up, count=3)

    await drain(dispatcher)

    assert receiver.ids() == [n.event_id for n in healthy]
    statuses = [(n.instance_id, n.status) for n in await notifications(session)]
    assert statuses[:2] == [(down.id, "retrying"), (down.id, "pending")]


async def test_a_slow_receiver_does_not_delay_other_instances_in_the_worker_loop(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
) -> None:
    hang_on_slow_path(receiver)
    slow = await add_instance(session, tenant, receiver.url.replace("/events", "/slow"))
    fast = await add_instance(session, tenant, receiver.url)
    await enqueue(session, slow, count=1)
    quick = await enqueue(session, fast, count=20)
    stop = asyncio.Event()
    dispatcher = Dispatcher(sessionmaker, worker_id="loop", timeout_seconds=5)

    worker = asyncio.create_task(dispatcher.run(stop))
    try:
        # All twenty arrive while the slow instance's callback is still hanging.
        wanted = {n.event_id for n in quick}
        await receiver.wait_until(lambda r: wanted <= set(r.ids()), seconds=4)
        slow_still_hanging = not receiver.release.is_set()
    finally:
        receiver.release.set()
        stop.set()
        await worker

    assert slow_still_hanging
    assert receiver.ids()[1:] == [n.event_id for n in quick]
    assert {n.status for n in await notifications(session)} == {"delivered"}


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        if request.path == "/events":
            raise web.HTTPFound("/elsewhere")
        return web.json_response({})

    receiver.answer = redirect
    instance = await add_instance(session, tenant, receiver.url)
    await enqueue(session, instance)

    await dispatcher.deliver_due()

    [stored] = await notifications(session)
    assert [r.headers.get("Host") for r in receiver.requests] == [f"127.0.0.1:{receiver.port}"]
    assert len(receiver.requests) == 1
    assert stored.status == "retrying" and stored.last_status_code == 302
    assert "redirect to /elsewhere not followed" in (stored.last_error or "")


async def test_a_cookie_a_receiver_sets_never_goes_out_with_a_callback(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    # One session serves every client's receivers; by name, as a jar keeps no cookie of an IP.
    async def set_cookie(request: web.Request) -> web.StreamResponse:
        response = web.json_response({"ok": True})
        response.set_cookie("session", "of-whoever-answered-first")
        return response

    receiver.answer = set_cookie
    url = receiver.url.replace("127.0.0.1", "localhost")
    first = await add_instance(session, tenant, url)
    await enqueue(session, first)
    await dispatcher.deliver_due()
    second = await add_instance(session, tenant, url, name="Another user's OneDrive")
    await enqueue(session, second)
    await enqueue(session, first, start=1)
    await drain(dispatcher)

    assert len(receiver.requests) == 3
    assert [r.headers.get("Cookie") for r in receiver.requests] == [None, None, None]


async def test_a_crashed_workers_expired_lease_is_taken_over(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    await enqueue(session, instance)
    crashed = Dispatcher(sessionmaker, worker_id="crashed", lease_seconds=60)
    await crashed._claim(10)  # leased, then the worker "dies" before posting

    async with Dispatcher(sessionmaker, worker_id="survivor", timeout_seconds=1) as survivor:
        assert await survivor.deliver_due() == 0
        clock.advance(timedelta(seconds=61))
        assert await survivor.deliver_due() == 1

    [stored] = await notifications(session)
    assert stored.status == "delivered" and len(receiver.requests) == 1


async def test_a_stalled_workers_chain_is_taken_over_and_its_late_result_is_ignored(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
) -> None:
    # A chain is leased by its first and last rows. The stalled worker's chain ends before
    # the survivor's, so its lease on that row would outlive the takeover if the claim did
    # not clear it.
    instance = await add_instance(session, tenant, receiver.url)
    queued = await enqueue(session, instance, count=3)
    stalled = Dispatcher(sessionmaker, worker_id="stalled", lease_seconds=60)
    chain = await stalled._claim(10)
    assert [n.id for n in chain] == [n.id for n in queued]
    assert [n.leased for n in chain] == [True, False, True]
    queued += await enqueue(session, instance, count=2, start=3)
    clock.advance(timedelta(seconds=61))

    async with Dispatcher(sessionmaker, worker_id="survivor", timeout_seconds=1) as survivor:
        assert await survivor.deliver_due() == 5
    # The stalled worker wakes up and records its attempt of the middle one, which failed.
    failed = Outcome(chain[1].id, 1, "retrying", clock.now(), 503, "HTTP 503", None)
    async with sessionmaker() as own, own.begin():
        await record_outcomes(own, worker_id="stalled", outcomes=[failed])

    stored = await notifications(session)
    assert [n.status for n in stored] == ["delivered"] * 5
    assert {n.lease_owner for n in stored} == {None}
    assert receiver.ids() == [n.event_id for n in queued]


async def test_deliveries_run_in_parallel_across_instances(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    instances = 3

    async def slowish(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.json_response({})

    receiver.answer = slowish
    for i in range(instances):
        await enqueue(session, await add_instance(session, tenant, receiver.url, name=f"i{i}"))

    started = asyncio.get_running_loop().time()
    assert await dispatcher.deliver_due() == instances

    assert asyncio.get_running_loop().time() - started < 0.3 * instances


async def test_one_pass_delivers_an_instances_queue_in_order(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    queued = await enqueue(session, instance, count=5)

    assert await dispatcher.deliver_due() == 5

    assert receiver.ids() == [n.event_id for n in queued]
    assert {n.status for n in await notifications(session)} == {"delivered"}


async def test_a_failed_notification_holds_back_the_ones_after_it(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    receiver.answer = fail_times(1, status=503)
    instance = await add_instance(session, tenant, receiver.url)
    queued = await enqueue(session, instance, count=3)

    assert await dispatcher.deliver_due() == 1

    stored = await notifications(session)
    assert [n.status for n in stored] == ["retrying", "pending", "pending"]
    assert all(n.lease_owner is None for n in stored)  # the rest of the chain given back
    assert await dispatcher.deliver_due() == 0  # the first is not due yet, so neither are they
    clock.advance(stored[0].next_attempt_at - clock.now() + timedelta(milliseconds=1))
    assert await dispatcher.deliver_due() == 3
    assert receiver.ids() == [queued[0].event_id] + [n.event_id for n in queued]


async def test_a_redelivered_notification_goes_before_a_later_one_waiting_to_retry(
    session: AsyncSession, tenant: Tenant, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    instance = await add_instance(session, tenant, receiver.url)
    first, second, _ = await enqueue(session, instance, count=3)
    # The second waits to retry; the first, which had failed, was just redelivered.
    second.status, second.next_attempt_at = "retrying", clock.now() + timedelta(minutes=5)
    first.status, first.next_attempt_at = "pending", clock.now()
    await session.commit()

    assert await dispatcher.deliver_due() == 1

    assert receiver.ids() == [first.event_id]  # not the third before the second
    assert [n.status for n in await notifications(session)] == ["delivered", "retrying", "pending"]


async def test_a_backlog_longer_than_a_chain_goes_out_in_order_once_in_the_worker_loop(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
) -> None:
    # Each instance's next chain is leased while the one before it goes out.
    instances = [await add_instance(session, tenant, receiver.url, name=f"i{i}") for i in range(3)]
    queued = {i.id: await enqueue(session, i, count=3 * CHAIN + 5) for i in instances}
    stop = asyncio.Event()
    worker = asyncio.create_task(Dispatcher(sessionmaker, worker_id="loop").run(stop))
    try:
        await receiver.wait_until(lambda r: len(r.requests) == 3 * (3 * CHAIN + 5), seconds=20)
    finally:
        stop.set()
        await worker

    assert receiver.duplicates() == {}
    arrived = receiver.ids()
    for instance in instances:
        wanted = [n.event_id for n in queued[instance.id]]
        assert [i for i in arrived if i in set(wanted)] == wanted
    stored = await notifications(session)
    assert {n.status for n in stored} == {"delivered"}
    assert {n.lease_owner for n in stored} == {None}


async def test_a_failure_at_the_end_of_a_chain_gives_back_the_chain_leased_after_it(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
) -> None:
    seen = 0

    async def fail_the_last_of_the_first_chain(request: web.Request) -> web.StreamResponse:
        nonlocal seen
        seen += 1
        if seen == CHAIN:
            return web.Response(status=503, text="receiver is unwell")
        return web.json_response({})

    receiver.answer = fail_the_last_of_the_first_chain
    instance = await add_instance(session, tenant, receiver.url)
    queued = await enqueue(session, instance, count=2 * CHAIN)
    stop = asyncio.Event()
    dispatcher = Dispatcher(sessionmaker, worker_id="loop")
    worker = asyncio.create_task(dispatcher.run(stop))
    try:
        await receiver.wait_until(lambda r: len(r.requests) == CHAIN, seconds=10)
    finally:  # the attempt in flight ends, and its result is written, before run returns
        stop.set()
        await worker

    stored = await notifications(session)
    statuses = [n.status for n in stored]
    assert statuses == ["delivered"] * (CHAIN - 1) + ["retrying"] + ["pending"] * CHAIN
    assert {n.lease_owner for n in stored} == {None}  # nothing stays leased to the worker
    clock.advance(stored[CHAIN - 1].next_attempt_at - clock.now() + timedelta(milliseconds=1))
    async with Dispatcher(sessionmaker, worker_id="again", timeout_seconds=1.0) as again:
        assert await drain(again) == CHAIN + 1
    wanted = [n.event_id for n in queued]
    assert receiver.ids() == wanted[:CHAIN] + wanted[CHAIN - 1 :]


async def test_the_next_chain_is_leased_before_the_current_one_lets_go_of_its_instance(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first worker's lease of its next chain comes late; meanwhile a second worker looks
    # for instances to take. Once the first holds no lease of the instance, the second could
    # take its oldest notification while the first's late lease takes the ones after.
    async def late_for_the_first(session: AsyncSession, **arguments: Any) -> list[Claimed]:
        if arguments["worker_id"] == "first":
            await asyncio.sleep(0.5)
        return await claim_following(session, **arguments)

    async def in_20_ms(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.02)  # a chain takes ~0.3 s: the late lease lands mid-chain
        return web.json_response({})

    monkeypatch.setattr(dispatcher_module, "claim_following", late_for_the_first)
    receiver.answer = in_20_ms
    instance = await add_instance(session, tenant, receiver.url)
    queued = await enqueue(session, instance, count=3 * CHAIN)
    stop = asyncio.Event()
    first = asyncio.create_task(Dispatcher(sessionmaker, worker_id="first").run(stop))
    await receiver.wait_until(lambda r: len(r.requests) >= 1, seconds=5)
    second = asyncio.create_task(Dispatcher(sessionmaker, worker_id="second").run(stop))
    try:
        await receiver.wait_until(lambda r: len(r.requests) >= 3 * CHAIN, seconds=20)
    finally:
        stop.set()
        await asyncio.gather(first, second)

    assert receiver.ids() == [n.event_id for n in queued]


async def test_a_busy_worker_with_nothing_new_claims_less_often_yet_finds_a_new_instance(
    allow_private: None,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A claim over a large backlog is costly (modelled by a slow one): while every due
    instance is in flight, empty claims are spaced in proportion to their cost instead of
    repeated every idle period, and a new instance's notification still goes out soon."""
    claims = 0
    claim_due = dispatcher_module.claim_due

    async def slow_claim(*args: Any, **kwargs: Any) -> list[Claimed]:
        nonlocal claims
        claims += 1
        await asyncio.sleep(0.05)
        return await claim_due(*args, **kwargs)

    monkeypatch.setattr(dispatcher_module, "claim_due", slow_claim)

    hang_on_slow_path(receiver)
    slow = await add_instance(session, tenant, receiver.url.replace("/events", "/slow"))
    await enqueue(session, slow, count=1)
    stop = asyncio.Event()
    dispatcher = Dispatcher(sessionmaker, worker_id="paced", timeout_seconds=10)
    worker = asyncio.create_task(dispatcher.run(stop))
    try:
        await receiver.wait_until(lambda r: len(r.requests) == 1, seconds=4)
        claims = 0
        await asyncio.sleep(1.5)  # the slow callback hangs; nothing else is due
        empty_claims = claims
        late = await add_instance(session, tenant, receiver.url)
        [new] = await enqueue(session, late, count=1)
        await receiver.wait_until(lambda r: new.event_id in r.ids(), seconds=3)
    finally:
        receiver.release.set()
        stop.set()
        await worker

    # Every 0.1 s would be 10 in 1.5 s (or 15 with claims of 50 ms); paced, one each 0.55 s.
    assert empty_claims <= 4


def hang_on_slow_path(receiver: Receiver) -> None:
    """Make ``receiver`` answer requests to ``/slow`` only once released, others at once."""

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path == "/slow":
            await receiver.release.wait()
        return web.json_response({})

    receiver.answer = answer
