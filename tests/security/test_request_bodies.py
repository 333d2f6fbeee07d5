"""Request bodies (issue 16, item 2): capped as they stream, chunked or not, and never read
before the caller has authenticated — measured on a real ``pollhub api`` process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Tenant
from tests.delivery.conftest import add_instance
from tests.security.processes import ApiProcess

API = "/elements/api-v2"
MB = 1024 * 1024
UPLOAD = 80 * MB  # per request; without caps three of these grew the API by gigabytes
CEILING = 40 * MB  # what the API process may grow by while they stream


async def chunked_post(port: int, path: str, headers: dict[str, str], total: int) -> int:
    """POST ``total`` bytes with ``Transfer-Encoding: chunked``, stopping as soon as the
    server answers; returns the status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
    head += ["Content-Type: application/json", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    chunk = b"[" + b"1," * (32 * 1024)

    async def upload() -> None:
        sent = 0
        while sent < total:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    uploading = asyncio.create_task(upload())
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=120)
    finally:
        uploading.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await uploading
        writer.close()
    assert status_line, "the server closed the connection without answering"
    return int(status_line.split()[1])


async def statuses_and_growth(
    api: ApiProcess, uploads: list[Coroutine[Any, Any, int]]
) -> tuple[list[int], int]:
    """The uploads' status codes, run at once, and how far the process's memory rose
    above its start meanwhile."""
    work = asyncio.gather(*uploads)
    start = peak = api.rss_bytes()
    while not work.done():
        peak = max(peak, api.rss_bytes())
        await asyncio.sleep(0.02)
    return await work, peak - start


@pytest.fixture
def api(settings_env: str, sessionmaker: object) -> Iterator[ApiProcess]:
    with ApiProcess({}) as process:
        yield process


async def test_unauthenticated_chunked_uploads_are_refused_before_their_body_is_read(
    api: ApiProcess,
) -> None:
    statuses, growth = await statuses_and_growth(
        api, [chunked_post(api.port, f"{API}/instances", {}, UPLOAD) for _ in range(3)]
    )

    assert statuses == [401, 401, 401]
    assert growth < CEILING, f"the API grew by {growth / MB:.0f} MB"


async def test_an_authenticated_chunked_body_over_the_cap_is_a_413(
    api: ApiProcess, tenant: Tenant
) -> None:
    statuses, growth = await statuses_and_growth(
        api, [chunked_post(api.port, f"{API}/instances", tenant.headers, UPLOAD) for _ in range(3)]
    )

    assert statuses == [413, 413, 413]
    assert growth < CEILING, f"the API grew by {growth / MB:.0f} MB"


async def test_a_chunked_webhook_body_over_its_cap_is_a_413(
    api: ApiProcess, session: AsyncSession, tenant: Tenant
) -> None:
    instance = await add_instance(session, tenant, "https://client.example.com/events")
    instance.element_key = "microsoftgraph"
    await session.commit()
    path = f"{API}/events/microsoftgraph/{instance.id}"
    statuses, growth = await statuses_and_growth(
        api, [chunked_post(api.port, path, {}, UPLOAD) for _ in range(2)]
    )

    assert statuses == [413, 413]
    assert growth < CEILING, f"the API grew by {growth / MB:.0f} MB"


async def test_a_declared_size_over_the_cap_is_a_413_naming_the_cap(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        f"{API}/instances",
        content=b"{" + b" " * (2 * MB) + b"}",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert set(response.json()) == {"requestId", "message"}
    assert str(MB) in response.json()["message"]


async def test_a_body_without_valid_secrets_is_a_401_whatever_it_holds(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{API}/instances",
        content=b"not even json",
        headers={"Authorization": "User bad, Organization bad"},
    )

    assert response.status_code == 401
    assert set(response.json()) == {"requestId", "message"}
