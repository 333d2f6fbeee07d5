"""Apply Alembic migrations from code (``pollhub migrate`` and ``pollhub serve``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for the repository's ``migrations/`` folder."""
    ini = _find_alembic_ini()
    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    """``alembic upgrade head`` on ``database_url`` (safe to run every start)."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head_async(database_url: str) -> None:
    """:func:`upgrade_to_head` from inside a running event loop."""
    # Alembic's env.py starts its own event loop, so it runs in a worker thread.
    await asyncio.to_thread(upgrade_to_head, database_url)


def _find_alembic_ini() -> Path:
    # A source checkout (editable install, Docker image) keeps alembic.ini at its root.
    for base in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (base / "alembic.ini").is_file():
            return base / "alembic.ini"
    raise FileNotFoundError("alembic.ini not found: run pollhub from its source checkout")
