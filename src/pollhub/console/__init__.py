"""The web console, served by pollhub itself at ``/``: server-rendered pages over the same
services as the API, with a little plain JavaScript and CSS shipped in the package."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .routes import router
from .web import PACKAGE_DIR

STATIC_PATH = "/static"


def mount_console(app: FastAPI) -> None:
    """Add the console's pages and its static files to ``app``."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=PACKAGE_DIR / "static"), name="console_static")


__all__ = ["mount_console"]
