"""``/docs``: Swagger UI served from the package, so the API docs work offline.

FastAPI's default page loads Swagger UI from a CDN; this follows FastAPI's recipe for
self-hosting its assets ("Custom Docs UI Static Assets"), with the files of the
``swagger-ui-bundle-v2`` package.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs-assets"
FAVICON_PATH = "/favicon.ico"


def mount_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` with its scripts and styles from ``/docs-assets``.

    ``app`` must be created with ``docs_url=None`` and ``redoc_url=None`` (ReDoc has no
    packaged assets, so it is not offered). It works for an app mounted under a path too
    (the sandbox's at ``/sandbox/docs``): every URL is prefixed with the mount's root path.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="swagger_ui")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_PATH}/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url or '/openapi.json'}",
            title=f"{app.title} API",
            oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=FAVICON_PATH,
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(DOCS_PATH, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        oauth2_redirect_url, oauth2_redirect, methods=["GET"], include_in_schema=False
    )
