"""Group commit: many small writes that end at about the same time share one transaction.

Whatever arrives while a commit runs goes into the next one, so under load each commit
carries a batch and the database sees a few transactions per second instead of one per
item; an idle system still commits each item at once.

Its checkouts skip the ping (one round trip of each commit, on the busiest paths): a batch
whose connection turns out dead runs again once, on a fresh one. So every ``write`` must
be safe to run twice — each of pollhub's is conditioned on a lease that it clears or takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.db.engine import unpinged_checkouts

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Writes items with ``write(session, batch)`` in shared transactions.

    ``write`` returns each item's result, in the batch's order (an ``UPDATE … RETURNING``
    that leases rows for each), or ``None`` when items have none. It may run twice for one
    batch (see the module's docstring).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        write: Callable[[AsyncSession, list[Item]], Awaitable[Sequence[Result] | None]],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._write = write
        self._waiting: list[tuple[Item, asyncio.Future[Result | None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result | None:
        """Return ``item``'s result once it is committed (raise what the commit raised if
        it failed)."""
        done: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await self._commit([item for item, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for index, (_, done) in enumerate(batch):
                    if not done.done():
                        done.set_result(None if results is None else results[index])

    async def _commit(self, items: list[Item]) -> Sequence[Result] | None:
        try:
            with unpinged_checkouts():
                return await self._transaction(items)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return await self._transaction(items)  # on a checked connection

    async def _transaction(self, items: list[Item]) -> Sequence[Result] | None:
        async with self._sessionmaker() as session, session.begin():
            return await self._write(session, items)
