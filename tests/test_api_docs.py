"""``/docs`` (and the sandbox's) work offline: Swagger UI comes from pollhub itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from pollhub.app import create_app
from pollhub.settings import get_settings

_REFERENCES = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")


@pytest.fixture
async def http(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """pollhub with the sandbox, in process (the docs need no database)."""
    monkeypatch.setenv("POLLHUB_SANDBOX", "true")
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://pollhub.test") as client:
        yield client
    get_settings.cache_clear()


@pytest.mark.parametrize("docs", ["/docs", "/sandbox/docs"])
async def test_the_api_docs_load_everything_from_pollhub_itself(
    http: httpx.AsyncClient, docs: str
) -> None:
    page = await http.get(docs)

    assert page.status_code == 200
    references = _REFERENCES.findall(page.text)
    assert references, page.text
    assert not [r for r in references if r.startswith(("http:", "https:", "//"))], references
    sizes = {}
    for reference in references:
        asset = await http.get(reference)
        assert asset.status_code == 200, reference
        sizes[reference] = len(asset.content)
    scripts = [r for r in references if r.endswith("swagger-ui-bundle.js")]
    assert scripts and sizes[scripts[0]] > 100_000, "Swagger UI's own script"
    assert any(r.endswith("openapi.json") for r in references)


async def test_the_sandbox_docs_describe_the_control_apis_collections(
    http: httpx.AsyncClient,
) -> None:
    schema = (await http.get("/sandbox/openapi.json")).json()

    guide = schema["info"]["description"]
    for collection in ("files", "calendar-events", "contact-groups", "messages", "documents"):
        assert f"| {collection} |" in guide
    assert "/control/{element_key}/{collection}" in schema["paths"]


async def test_there_is_a_favicon(http: httpx.AsyncClient) -> None:
    icon = await http.get("/favicon.ico")

    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
