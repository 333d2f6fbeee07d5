"""Provider rate limits on the poll path: per app and per user, and 429 ``Retry-After``.

Each element declares its provider's published limits (:class:`~pollhub.elements.base.
RateLimits`), which ``POLLHUB_PROVIDER_RATE_LIMITS`` can replace. A :class:`Pacer` keeps a
token bucket per app (element + OAuth client id) and per user (instance), and makes each
provider request wait until both have a token, so a worker never runs faster than the
provider allows — while every request within the limits goes at once. A 429 (or 503) with
``Retry-After`` pauses that user's bucket for that long. Buckets are per worker process:
with K workers, give each 1/K of an app limit through the setting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pollhub.elements.base import RateLimits
from pollhub.settings import get_settings


@dataclass(frozen=True)
class Rate:
    """``requests`` per ``seconds``."""

    requests: float
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"N/S"``: N requests per S seconds."""
        requests, _, seconds = text.partition("/")
        rate = cls(float(requests), float(seconds or 1))
        if rate.requests <= 0 or rate.seconds <= 0:
            raise ValueError(f"a rate limit must be N/S with N, S > 0, not {text!r}")
        return rate


class Bucket:
    """A token bucket: up to ``requests`` at once, refilled at ``requests / seconds``."""

    def __init__(self, rate: Rate) -> None:
        self._per_second = rate.requests / rate.seconds
        self._capacity = rate.requests
        self._tokens = rate.requests
        self._at = time.monotonic()
        self._paused_until = 0.0

    def reserve(self, now: float) -> float:
        """Take a token; returns how long to wait before using it (0: at once)."""
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._per_second)
        self._at = now
        self._tokens -= 1
        wait = 0.0 if self._tokens >= 0 else -self._tokens / self._per_second
        return max(wait, self._paused_until - now)

    def pause(self, now: float, seconds: float) -> None:
        """Hand out nothing usable for ``seconds`` (the provider said ``Retry-After``)."""
        self._paused_until = max(self._paused_until, now + seconds)


UNLIMITED = Rate(float("inf"), 1)
Key = TypeVar("Key", tuple[str, str], tuple[str, int])


class Pacer:
    """Waits out the rate limits of one app and one user before each provider request."""

    def __init__(self, overrides: Mapping[str, Mapping[str, str | None]] | None = None) -> None:
        self._overrides = get_settings().provider_rate_limits if overrides is None else overrides
        self._apps: dict[tuple[str, str], Bucket] = {}
        self._users: dict[tuple[str, int], Bucket] = {}
        self._rates: dict[str, tuple[Rate | None, Rate | None]] = {}

    async def wait(self, element_key: str, limits: RateLimits, app: str, user: int) -> None:
        """Return when one more request for ``user`` of ``app`` is within the limits."""
        app_rate, user_rate = self._limits(element_key, limits)
        now = time.monotonic()
        wait = 0.0
        if app_rate is not None:
            wait = self._bucket(self._apps, (element_key, app), app_rate).reserve(now)
        if user_rate is not None or (element_key, user) in self._users:
            bucket = self._bucket(self._users, (element_key, user), user_rate or UNLIMITED)
            wait = max(wait, bucket.reserve(now))
        if wait > 0:
            await asyncio.sleep(wait)

    def throttled(self, element_key: str, user: int, retry_after: float | None) -> None:
        """The provider answered 429 for ``user``: pause the user for ``retry_after`` s."""
        if retry_after is None or retry_after <= 0:
            return
        _, user_rate = self._rates.get(element_key, (None, None))
        bucket = self._bucket(self._users, (element_key, user), user_rate or UNLIMITED)
        bucket.pause(time.monotonic(), retry_after)

    def _limits(self, element_key: str, limits: RateLimits) -> tuple[Rate | None, Rate | None]:
        rates = self._rates.get(element_key)
        if rates is None:
            override = self._overrides.get(element_key, {})
            app, user = override.get("app", limits.app), override.get("user", limits.user)
            rates = (Rate.parse(app) if app else None, Rate.parse(user) if user else None)
            self._rates[element_key] = rates
        return rates

    @staticmethod
    def _bucket(buckets: dict[Key, Bucket], key: Key, rate: Rate) -> Bucket:
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = Bucket(rate)
        return bucket
