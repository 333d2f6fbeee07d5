"""The one source of the current time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC. Tests replace :data:`clock`'s offset to travel in time."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move this clock forward (tests only)."""
        self._offset += delta

    def reset(self) -> None:
        """Back to real time."""
        self._offset = timedelta()


clock = Clock()
