"""Delivery metrics: what the API's ``/metrics`` and a separate worker process report."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from pollhub.clock import clock
from tests.conftest import TEST_SECRET_KEY, Tenant
from tests.delivery.conftest import Receiver, add_instance, enqueue, fail_times, free_port

BIN = Path(sys.executable).parent


def samples(text: str) -> dict[str, float]:
    """Every sample as ``name{label="value"}`` (labels sorted) → value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def test_metrics_show_the_backlog_and_the_age_of_its_oldest_callback(
    client: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://client.example/events")
    clock.advance(timedelta(minutes=-5))
    await enqueue(session, instance, count=2)
    clock.reset()
    await enqueue(session, instance, count=1, start=2)

    found = samples((await client.get("/metrics")).text)

    assert found["pollhub_delivery_backlog"] == 3
    assert 299 < found["pollhub_delivery_oldest_pending_seconds"] < 330


async def test_every_attempt_outcome_is_exported_before_the_first_attempt(
    client: httpx.AsyncClient,
) -> None:
    # So an alert on the rate of failed callbacks has a series to watch from the start.
    found = samples((await client.get("/metrics")).text)

    for outcome in ("delivered", "retrying", "failed", "queued"):
        assert f'pollhub_delivery_attempts_total{{outcome="{outcome}"}}' in found
    assert 'pollhub_delivery_attempts_total{outcome="pending"}' not in found  # never an outcome


async def test_a_separate_worker_process_serves_its_delivery_metrics(
    settings_env: str,
    session: AsyncSession,
    tenant: Tenant,
    receiver: Receiver,
) -> None:
    receiver.answer = fail_times(1)  # one retry, then delivered
    instance = await add_instance(session, tenant, receiver.url)
    await enqueue(session, instance, count=3)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLLHUB_")}
    env.update(
        POLLHUB_DATABASE_URL=settings_env,
        POLLHUB_SECRET_KEY=TEST_SECRET_KEY,
        POLLHUB_ALLOW_PRIVATE_CALLBACKS="true",
    )
    worker = await asyncio.create_subprocess_exec(
        str(BIN / "pollhub"),
        "worker",
        "--metrics-port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # The first attempt fails; its retry comes 4 s later (the delivery schedule).
        await receiver.wait_until(lambda r: len(r.requests) >= 4, seconds=30)
        found = await _scrape_until(
            f"http://127.0.0.1:{port}/metrics",
            lambda s: s.get('pollhub_delivery_attempts_total{outcome="delivered"}') == 3,
        )
    finally:
        worker.terminate()
        _, stderr = await asyncio.wait_for(worker.communicate(), timeout=30)

    assert worker.returncode == 0, stderr.decode()
    assert found['pollhub_delivery_attempts_total{outcome="retrying"}'] == 1
    assert found["pollhub_delivery_attempt_seconds_count"] == 4
    assert found["pollhub_delivery_backlog"] == 0
    assert found["pollhub_delivery_oldest_pending_seconds"] == 0
    assert "pollhub_poll_seconds_count" in found, "the poll path's metrics are there too"


async def _scrape_until(
    url: str, condition: Callable[[dict[str, float]], bool], seconds: float = 30
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    found: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        while loop.time() < deadline:
            try:
                response = await http.get(url)
                found = samples(response.text)
                if condition(found):
                    return found
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never showed the expected metrics: {found}")
