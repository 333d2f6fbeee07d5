"""Prometheus metrics of a process: the API serves them at ``/metrics``, a worker at
``/metrics`` on its ``--metrics-port`` (``pollhub worker --metrics-port 9100``).

Each process is its own scrape target rather than sharing Prometheus' multiprocess files:
API and worker processes run in separate containers or hosts, where no directory is shared,
and one target per worker shows which worker is behind.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pollhub.delivery.metrics import refresh_backlog

log = logging.getLogger(__name__)


async def exposition(sessionmaker: async_sessionmaker[AsyncSession]) -> bytes:
    """Every metric of this process, in Prometheus' text format, with the delivery
    backlog read from the outbox now (left as it was when the database is away)."""
    try:
        async with sessionmaker() as session:
            await refresh_backlog(session)
    except Exception as exc:  # a scrape must answer even while the database is down
        log.warning("metrics: could not read the delivery backlog: %s", type(exc).__name__)
    return generate_latest()


@asynccontextmanager
async def serve_metrics(
    sessionmaker: async_sessionmaker[AsyncSession], host: str, port: int
) -> AsyncIterator[None]:
    """Serve :func:`exposition` at ``http://host:port/metrics`` while inside the block."""
    # Imported here: aiohttp's server adds a second to every pollhub command's start.
    from aiohttp import web

    async def metrics(_request: web.Request) -> web.Response:
        body = await exposition(sessionmaker)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    application = web.Application()
    application.router.add_get("/metrics", metrics)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("worker metrics at http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        await runner.cleanup()
