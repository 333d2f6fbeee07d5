"""A worker process for the tests: runs one Dispatcher on POLLHUB_DATABASE_URL until SIGTERM.

``python -m tests.delivery.run_dispatcher WORKER_ID LEASE_SECONDS [CONCURRENCY]``; prints
``ready`` once running and how many attempts it made when it stops (tests also stop it
with SIGKILL, mid-delivery).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from pollhub.db.engine import create_engine, create_sessionmaker
from pollhub.delivery.dispatcher import Dispatcher
from pollhub.settings import get_settings


async def main(worker_id: str, lease_seconds: float, concurrency: int | None) -> None:
    engine = create_engine(get_settings().database_url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    dispatcher = Dispatcher(
        create_sessionmaker(engine),
        worker_id=worker_id,
        lease_seconds=lease_seconds,
        timeout_seconds=lease_seconds / 2,
        concurrency=concurrency,
    )
    print("ready", flush=True)
    try:
        await dispatcher.run(stop)
    finally:
        await engine.dispose()
    print(f"attempts {dispatcher.attempts_made}", flush=True)


if __name__ == "__main__":
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else None
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), concurrency))
