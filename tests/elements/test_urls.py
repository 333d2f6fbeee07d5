"""Where a provider lives with the sandbox on: HTTPS providers are simulated, local
servers (what a custom element is tried against) are called as they are."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pollhub.elements.urls import provider_url
from pollhub.settings import get_settings


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POLLHUB_SANDBOX", "true")
    monkeypatch.setenv("POLLHUB_PUBLIC_URL", "http://127.0.0.1:8000")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("sandbox")
def test_an_https_provider_is_served_by_the_sandbox() -> None:
    assert (
        provider_url("https://graph.microsoft.com/v1.0/me/drive?x=1")
        == "http://127.0.0.1:8000/sandbox/graph.microsoft.com/v1.0/me/drive?x=1"
    )


@pytest.mark.usefixtures("sandbox")
def test_a_local_http_server_is_called_as_it_is() -> None:
    assert provider_url("http://127.0.0.1:3000/tickets?_page=2") == (
        "http://127.0.0.1:3000/tickets?_page=2"
    )
