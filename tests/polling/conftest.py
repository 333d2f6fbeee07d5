"""Fixtures for polling: run due polls in-process against respx-mocked providers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.db.models import Notification
from pollhub.oauth.tokens import TokenKeeper
from pollhub.polling import schedule
from pollhub.polling.poller import PollContext, poll_resource

RunPolls = Callable[[], Awaitable[list[str]]]


@pytest.fixture
async def run_polls(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[RunPolls]:
    """Claim every due resource poll and run it, as a worker's tick would."""
    async with httpx.AsyncClient() as http:
        context = PollContext(sessionmaker, TokenKeeper(sessionmaker), http, "test-worker")

        async def run() -> list[str]:
            async with sessionmaker() as session:
                claims = await schedule.claim_due_polls(session, "test-worker", 1000)
                await session.commit()
            return [await poll_resource(context, claim) for claim in claims]

        yield run


async def delivered_events(session: AsyncSession) -> list[dict[str, Any]]:
    """Every event in the outbox, in order, as the callback bodies carry them."""
    session.expire_all()
    bodies = await session.scalars(select(Notification.body).order_by(Notification.id))
    return [event for body in bodies for event in json.loads(body)["message"]["events"]]


async def notification_bodies(session: AsyncSession) -> list[dict[str, Any]]:
    """The callback bodies in the outbox, in order."""
    session.expire_all()
    bodies = await session.scalars(select(Notification.body).order_by(Notification.id))
    return [json.loads(body) for body in bodies]
