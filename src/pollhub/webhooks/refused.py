"""Webhook notifications pollhub could not store, and the catch-up that replaces them.

While the database is away the receiver cannot store a provider's notification: it
answers 503 and notes the instance here, in memory. Whether the provider then retries
(Graph does, for about four hours) or drops the notification, nothing is lost: as soon as
the database answers again, every webhook subscription of a noted instance is marked for a
catch-up read, which a worker performs through the element's catch-up, as after Graph's
``missed`` lifecycle notice. A catch-up reports only what the remembered fingerprints do
not know yet, so a change that also arrives by a retried notification is reported once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.clock import clock
from pollhub.db.models import WebhookSubscription

log = logging.getLogger(__name__)

# Beyond this many instances (an outage under heavy webhook traffic), every subscription is
# caught up: cheaper than remembering them all, and nothing is missed.
MAX_NOTED_INSTANCES = 10_000
RETRY_SECONDS = 1.0


class RefusedNotifications:
    """Instances whose notifications were refused, until their catch-up is recorded."""

    def __init__(self) -> None:
        self._instances: set[int] = set()
        self._everything = False

    @property
    def pending(self) -> bool:
        """Whether some catch-up is still to be recorded."""
        return self._everything or bool(self._instances)

    def note(self, instance_id: int) -> None:
        """Remember that a notification for ``instance_id`` could not be stored."""
        if len(self._instances) >= MAX_NOTED_INSTANCES:
            self._everything = True
        else:
            self._instances.add(instance_id)

    async def mark_for_catch_up(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Mark the noted instances' subscriptions for a catch-up read, due now (raises
        while the database is still away; the notes are kept for the next try)."""
        instances, everything = set(self._instances), self._everything
        marking = update(WebhookSubscription).values(needs_catch_up=True, renew_at=clock.now())
        if not everything:
            marking = marking.where(WebhookSubscription.instance_id.in_(sorted(instances)))
        async with sessionmaker() as session:
            await session.execute(marking)
            await session.commit()
        self._instances -= instances
        self._everything = self._everything and not everything
        log.warning(
            "notifications were refused while the database was away; catching up %s",
            "every webhook subscription" if everything else f"{len(instances)} instance(s)",
        )

    async def run(
        self, sessionmaker: async_sessionmaker[AsyncSession], stop: asyncio.Event
    ) -> None:
        """Record the catch-ups as soon as the database answers, until ``stop`` is set."""
        while not stop.is_set():
            if self.pending:
                try:
                    await self.mark_for_catch_up(sessionmaker)
                except Exception as exc:  # still away: try again shortly
                    log.info("database still unavailable for catch-ups: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RETRY_SECONDS)
