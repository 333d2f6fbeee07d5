"""Slowing down secret guessing: too many failed authentications from one client is a 429.

Counted in memory per process (``limits``' moving window); with several API processes each
counts its own, which still bounds guessing to a few attempts per second overall.
"""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from pollhub.errors import PollhubError


class TooManyFailedAttempts(PollhubError):
    """The client failed to authenticate too often; it must wait."""

    status = 429


class FailedAuthThrottle:
    """Counts failed authentications per client address."""

    def __init__(self, per_minute: int) -> None:
        self._limit = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, client: str) -> None:
        """Refuse a client that has used up its failures for the last minute."""
        if not self._limiter.test(self._limit, client):
            raise TooManyFailedAttempts(
                "Too many failed authentication attempts; try again in a minute"
            )

    def failed(self, client: str) -> None:
        """Count one failed attempt."""
        self._limiter.hit(self._limit, client)
