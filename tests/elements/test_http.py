"""ProviderApi sends the same request on either client: httpx (every provider call) and the
bare aiohttp session of the polling hot path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from pollhub.elements.http import ProviderApi, ProviderThrottled
from pollhub.outbound.clients import fast_provider_client, provider_client
from pollhub.settings import get_settings
from tests.live import free_port


@pytest.fixture
async def provider(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, list[Any]]]:
    """A provider on 127.0.0.1 that records each request's query, Authorization and
    Cookie; ``?cookie=set`` answers with a session cookie."""
    monkeypatch.setenv("POLLHUB_ALLOW_PRIVATE_ADDRESSES", "true")
    get_settings.cache_clear()
    seen: list[Any] = []

    async def objects(request: web.Request) -> web.Response:
        seen.append(
            (
                request.query_string,
                request.headers.get("Authorization"),
                request.headers.get("Cookie"),
            )
        )
        if request.query.get("cookie") == "set":
            response = web.json_response({"value": []})
            response.set_cookie("session", "of-the-first-user")
            return response
        if request.query.get("busy") == "true":
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": "7"}
            )
        return web.json_response({"value": []}, headers={"Link": '</next?page=2>; rel="next"'})

    app = web.Application()
    app.router.add_get("/objects", objects)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()
    get_settings.cache_clear()


@pytest.mark.parametrize("make_client", [provider_client, fast_provider_client])
async def test_both_clients_send_the_same_query_and_read_the_same_answer(
    provider: tuple[str, list[Any]], make_client: Callable[..., Any]
) -> None:
    base, seen = provider
    params = {"types": ["added", "deleted"], "deleted": True, "top": 5}

    async with make_client() as http:
        api = ProviderApi(http, "the-token")
        answer = await api.get(f"{base}/objects?from=link", params)
        with pytest.raises(ProviderThrottled) as throttled:
            await api.get_json(f"{base}/objects", {"busy": True})

    # Parameters replace the URL's own query (a next link is sent without any).
    assert seen[0] == ("types=added&types=deleted&deleted=true&top=5", "Bearer the-token", None)
    assert answer.body == {"value": []}
    assert httpx.URL(answer.next_link or "").path == "/next"
    assert throttled.value.retry_after == 7


@pytest.mark.parametrize("make_client", [provider_client, fast_provider_client])
async def test_a_cookie_one_users_provider_session_set_never_goes_out_with_the_next_request(
    provider: tuple[str, list[Any]], make_client: Callable[..., Any]
) -> None:
    # One client serves every instance of a worker: a provider's cookie for one user would
    # reach the next user's requests. By name, as a jar keeps no cookie of an IP address.
    base, seen = provider
    base = base.replace("127.0.0.1", "localhost")

    async with make_client() as http:
        await ProviderApi(http, "first-users-token").get(f"{base}/objects", {"cookie": "set"})
        await ProviderApi(http, "second-users-token").get(f"{base}/objects", {})

    assert [cookie for _, _, cookie in seen] == [None, None]
