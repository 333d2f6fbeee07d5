"""Apply Alembic migrations from code (``pollhub migrate`` and ``pollhub serve``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationInfo
from alembic.script import Script


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for the repository's ``migrations/`` folder."""
    ini = _find_alembic_ini()
    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head(database_url: str) -> list[str]:
    """``alembic upgrade head`` on ``database_url`` (safe to run every start).

    Returns the migrations it applied, oldest first, each as ``"<revision> <title>"``;
    an empty list when the database was already up to date.
    """
    applied: list[str] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        script = step.up_revision  # a Script (Revision subclass) with the docstring's title
        title = script.doc.strip() if isinstance(script, Script) else ""
        applied.append(f"{step.up_revision_id} {title}".strip())

    config = alembic_config(database_url)
    config.attributes["on_version_apply"] = record
    command.upgrade(config, "head")
    return applied


async def upgrade_to_head_async(database_url: str) -> list[str]:
    """:func:`upgrade_to_head` from inside a running event loop."""
    # Alembic's env.py starts its own event loop, so it runs in a worker thread.
    return await asyncio.to_thread(upgrade_to_head, database_url)


def _find_alembic_ini() -> Path:
    # A source checkout (editable install, Docker image) keeps alembic.ini at its root.
    for base in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (base / "alembic.ini").is_file():
            return base / "alembic.ini"
    raise FileNotFoundError("alembic.ini not found: run pollhub from its source checkout")
