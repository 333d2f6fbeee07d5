"""The web console, served by pollhub itself at ``/``: server-rendered pages over the same
services as the API, with a little plain JavaScript and CSS shipped in the package."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from .routes import router
from .web import PACKAGE_DIR

STATIC_PATH = "/static"
FAVICON = PACKAGE_DIR / "static" / "favicon.svg"


def mount_console(app: FastAPI) -> None:
    """Add the console's pages, its static files and the site's icon to ``app``."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=PACKAGE_DIR / "static"), name="console_static")
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)


async def favicon() -> FileResponse:
    """The icon browsers ask for at ``/favicon.ico`` (an SVG: every current browser takes it)."""
    return FileResponse(FAVICON, media_type="image/svg+xml")


__all__ = ["mount_console"]
