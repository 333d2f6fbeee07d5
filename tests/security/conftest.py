"""Fixtures of the security suite: a real receiver on 127.0.0.1, and console browsers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.console.conftest import console  # noqa: F401 - the console fixture, here too
from tests.delivery.conftest import Receiver, free_port


@asynccontextmanager
async def other_browser(
    first: httpx.AsyncClient, cookies: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same console as ``first`` (the same app), with ``cookies``."""
    async with httpx.AsyncClient(
        transport=first._transport, base_url=first.base_url, cookies=cookies
    ) as browser:
        yield browser


@pytest.fixture
async def local_receiver() -> AsyncIterator[Receiver]:
    """An HTTP server on 127.0.0.1 that records every request (none must arrive when the
    address policy refuses its address)."""
    receiver = Receiver(port=free_port())
    await receiver.start()
    yield receiver
    receiver.release.set()
    await receiver.stop()
