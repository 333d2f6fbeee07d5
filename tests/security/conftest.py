"""Fixtures of the security suite: a real callback receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.delivery.conftest import Receiver, free_port


@pytest.fixture
async def local_receiver() -> AsyncIterator[Receiver]:
    """An HTTP server on 127.0.0.1 that records every request (none must arrive when the
    address policy refuses its address)."""
    receiver = Receiver(port=free_port())
    await receiver.start()
    yield receiver
    receiver.release.set()
    await receiver.stop()
