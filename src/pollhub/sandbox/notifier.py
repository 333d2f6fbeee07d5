"""Delivery of Microsoft Graph's notifications over real HTTP, in the background.

A change made through the control API must not wait for the receiver (Graph does not
either), yet tests need to know when sending is over: every delivery is an asyncio task
kept in :class:`Notifier`, and :meth:`Notifier.drain` (``POST /control/notifications/drain``)
waits for all of them. A delivery the receiver does not accept with 2xx within 3 seconds
is retried with exponential backoff for about four hours, then dropped, as Graph documents
(https://learn.microsoft.com/graph/change-notifications-delivery-webhooks);
:class:`RetryPolicy`'s ``time_scale`` compresses those hours for tests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from pollhub.clock import clock
from pollhub.sandbox.ids import hex_id
from pollhub.sandbox.timefmt import ticks_z

DeliveryKind = Literal["notification", "lifecycle"]

# Graph expects an answer within 3 seconds; a slower receiver counts as failing.
RESPONSE_TIMEOUT_SECONDS = 3.0


@dataclass
class Delivery:
    """One notification POST and what came of it."""

    id: str
    kind: DeliveryKind
    url: str
    subscription_id: str
    payload: dict[str, Any]
    created: str
    attempts: int = 0
    status: int | None = None
    error: str | None = None
    done: bool = False

    @property
    def delivered(self) -> bool:
        """True once the receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        """The control API's view of this delivery."""
        return {
            "id": self.id,
            "kind": self.kind,
            "url": self.url,
            "subscriptionId": self.subscription_id,
            "payload": self.payload,
            "createdDateTime": self.created,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
            "delivered": self.delivered,
            "done": self.done,
        }


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed notification is tried again: after ``first_delay`` seconds, then
    twice as long each time, and a last time ``give_up_after`` seconds after the first
    attempt; every wait is multiplied by ``time_scale``."""

    first_delay: float = 60.0
    give_up_after: float = 4 * 3600.0
    time_scale: float = 1.0

    def delays(self) -> list[float]:
        """The waits before each retry, in (scaled) seconds."""
        delays: list[float] = []
        elapsed, delay = 0.0, self.first_delay
        while elapsed + delay < self.give_up_after:
            delays.append(delay)
            elapsed += delay
            delay *= 2
        if self.give_up_after > elapsed:
            delays.append(self.give_up_after - elapsed)
        return [d * self.time_scale for d in delays]


@dataclass
class Notifier:
    """Sends notifications in background tasks and remembers every delivery."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    log: list[Delivery] = field(default_factory=list, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    def send(
        self, kind: DeliveryKind, url: str, subscription_id: str, payload: dict[str, Any]
    ) -> Delivery:
        """Start delivering ``payload`` to ``url``; must be called inside the event loop."""
        delivery = Delivery(hex_id(12), kind, url, subscription_id, payload, ticks_z(clock.now()))
        self.log.append(delivery)
        task = asyncio.get_running_loop().create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    async def drain(self) -> None:
        """Wait until every delivery started so far (and any they cause) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Stop every delivery in flight (a reset: their subscriptions are gone)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def clear(self) -> None:
        """Forget the log (deliveries in flight still finish)."""
        self.log = []

    async def _deliver(self, delivery: Delivery) -> None:
        delays = (0.0, *self.retry.delays())
        async with httpx.AsyncClient(timeout=RESPONSE_TIMEOUT_SECONDS, trust_env=False) as client:
            for delay in delays:
                if delay:
                    await asyncio.sleep(delay)
                delivery.attempts += 1
                try:
                    response = await client.post(delivery.url, json=delivery.payload)
                except httpx.HTTPError as exc:
                    delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
                    continue
                delivery.status, delivery.error = response.status_code, None
                if delivery.delivered:
                    break
        delivery.done = True
