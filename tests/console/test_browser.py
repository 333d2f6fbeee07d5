"""The console end to end in a real headless Chromium: pollhub (API, worker, sandbox) over
real HTTP, a client's callback receiver, and a person clicking through the console.

Screenshots of each page go to a temporary folder, and to ``docs/screenshots/`` when
``POLLHUB_SCREENSHOTS=1`` (how the README's pictures are refreshed).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, FloatRect, Page, async_playwright, expect

from tests.conftest import Tenant
from tests.live import Receiver

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
API = "/elements/api-v2"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium); required in CI",
)


@pytest.fixture
def pollhub_url(settings_env: str, request: pytest.FixtureRequest) -> str:
    """pollhub as ``pollhub serve`` runs it, with the sandbox providers."""
    if not settings_env.startswith("sqlite"):
        # One real-browser run is enough: the pages call the same services, which the rest
        # of the suite (and test_pages.py) exercises on PostgreSQL.
        pytest.skip("the browser test runs on SQLite only, to keep the suite quick")
    url: str = request.getfixturevalue("pollhub_server")
    return url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless (never a browser downloaded by ``playwright install``)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
def screenshots(tmp_path: Path, repo_root: Path) -> Callable[[Page, str], Awaitable[None]]:
    """Saves a full-page screenshot under a name."""
    folders = [tmp_path]
    if os.environ.get("POLLHUB_SCREENSHOTS") == "1":
        folders.append(repo_root / "docs" / "screenshots")

    async def take(page: Page, name: str) -> None:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


async def _eventually(condition: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.2)


def _overlap(a: FloatRect, b: FloatRect) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


async def _scrolls_sideways(page: Page) -> bool:
    scrolls: bool = await page.evaluate(
        "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    return scrolls


async def _text_height(page: Page, selector: str) -> float:
    box = await page.locator(selector).first.bounding_box()
    assert box, selector
    return float(box["height"])


async def test_a_person_creates_an_instance_watches_an_event_arrive_and_redelivers_it(
    pollhub_url: str,
    tenant: Tenant,
    receiver: tuple[Receiver, str],
    browser: Browser,
    screenshots: Callable[[Page, str], Awaitable[None]],
) -> None:
    recorder, callback_url = receiver
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    api = httpx.AsyncClient(base_url=pollhub_url, headers=tenant.headers, timeout=30)

    # Sign in.
    await page.goto(pollhub_url)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await screenshots(page, "sign-in")
    await page.get_by_label("Organization secret").fill(tenant.organization_secret)
    await page.get_by_label("User secret").fill(tenant.user_secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Instances")).to_be_visible()

    # The elements and how they deliver events.
    await page.get_by_role("link", name="Elements").click()
    await expect(page.get_by_role("heading", name="Microsoft Graph")).to_be_visible()
    await screenshots(page, "elements")

    # Create a OneDrive instance: the OAuth app, the sandbox's authorize page, the details.
    await page.get_by_role("link", name="New instance").first.click()
    await page.get_by_role("link", name="Connect Microsoft OneDrive").click()
    await page.get_by_label("OAuth client id").fill("console-client-id")
    await page.get_by_label("OAuth client secret").fill("console-client-secret")
    await page.get_by_role("button", name="Continue to Microsoft OneDrive").click()
    await page.wait_for_url("**/instances/new/onedrivev2/details")
    await page.get_by_label("Name", exact=True).fill("Team drive")
    await page.get_by_label("Tags").fill("console, e2e")
    await expect(page.get_by_label("Turn on events")).to_be_checked()
    # A long callback URL, as real ones with their query strings are.
    long_callback_url = f"{callback_url}?client=console-e2e&route={'long-segment-' * 12}end"
    await page.get_by_label("Callback URL").fill(long_callback_url)
    await page.get_by_label("Signature key").fill("console-signature-key")
    await page.get_by_label("Refresh interval").fill("0.02")
    await expect(page.get_by_label("Poll events")).to_be_checked()
    await expect(page.get_by_label("Configuration of events")).to_contain_text(
        "/hubs/documents/events"
    )
    await screenshots(page, "create-instance")
    await page.get_by_role("button", name="Create Instance").click()
    await expect(page.get_by_text("Created Team drive.")).to_be_visible()
    (instance,) = (await api.get(f"{API}/instances")).json()

    async def baselined() -> bool:
        states = (await api.get(f"{API}/instances/{instance['id']}/poller")).json()
        return bool(states) and all(state["baselined"] for state in states)

    await _eventually(baselined)

    # A change at the provider appears on the events page, delivered, without a reload.
    await page.get_by_role("link", name="Team drive", exact=True).click()
    await expect(page.get_by_role("heading", name="Events of Team drive")).to_be_visible()
    created = await api.post("/sandbox/control/onedrivev2/files", json={"name": "report.txt"})
    assert created.status_code < 300, created.text
    delivered = page.locator("#event-rows tr[data-status='delivered']")
    await expect(delivered).to_have_count(1, timeout=30_000)
    await expect(delivered).to_contain_text("CREATED")
    await expect(page.locator("#live-chart")).to_contain_text("CREATED 1", timeout=10_000)
    # The day's chart spans the page and is labelled: hours below, counts on the left.
    chart = await page.locator("#live-chart svg").bounding_box()
    assert chart and chart["width"] >= 900 and chart["height"] >= 200, chart
    await expect(page.locator("#live-chart svg text.level").last).to_have_text("1")
    await expect(page.locator("#live-chart")).to_contain_text("Events per hour (UTC)")
    assert await _text_height(page, "#live-chart svg text.tick") >= 11
    await screenshots(page, "events")
    event_id = await delivered.get_attribute("data-event-id")
    assert event_id and [c.json["message"]["eventId"] for c in recorder.callbacks] == [event_id]
    first_delivery = await delivered.locator("td.delivered time").get_attribute("datetime")
    assert first_delivery

    # Its exact payload, on demand; the long callback URL wraps inside the page and its
    # box, clear of the date beside it.
    await page.get_by_role("link", name=f"Payload of {event_id}").click()
    await expect(page.locator("pre.payload")).to_contain_text(event_id)
    url_box = await page.locator("dd", has_text=long_callback_url).bounding_box()
    created_box = await page.locator("dt:text-is('Created') + dd").bounding_box()
    assert url_box and created_box
    assert url_box["x"] + url_box["width"] <= 1280 - 16, url_box
    assert not _overlap(url_box, created_box), (url_box, created_box)
    assert not await _scrolls_sideways(page)
    await screenshots(page, "event")
    await page.go_back()

    # Redeliver it: the receiver gets the same event again, and its row shows it went
    # out again (queued, then delivered at a new time), not only the message above.
    await page.get_by_role("button", name=f"Redeliver {event_id}").click()
    await expect(page.get_by_text("is queued for delivery again")).to_be_visible()
    assert page.url.endswith(f"#event-{event_id}")
    row = page.locator(f"#event-rows tr[data-event-id='{event_id}']")

    async def arrived_twice() -> bool:
        return [c.json["message"]["eventId"] for c in recorder.callbacks] == [event_id] * 2

    await _eventually(arrived_twice)
    await expect(row).to_have_attribute("data-status", "delivered", timeout=15_000)
    await expect(row.locator("td.delivered time")).not_to_have_attribute(
        "datetime", first_delivery, timeout=15_000
    )
    await expect(page.locator("#event-rows tr[data-status='delivered']")).to_have_count(1)

    # On a phone the events table becomes cards: nothing scrolls sideways.
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await phone.context.add_cookies(await page.context.cookies())
    await phone.goto(page.url.split("#")[0])
    await expect(phone.locator("#event-rows tr[data-status='delivered']")).to_have_count(1)
    assert not await _scrolls_sideways(phone)
    wrap = phone.locator(".table-wrap")
    assert await wrap.evaluate("e => e.scrollWidth <= e.clientWidth")
    await screenshots(phone, "events-phone")
    await phone.close()

    # The simulated providers' control API is one link away.
    await expect(page.get_by_role("link", name="sandbox control API")).to_have_attribute(
        "href", "/sandbox/docs"
    )

    # The instances page: status and the day's chart.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Instances").click()
    await expect(page.get_by_text("CREATED 1", exact=True)).to_be_visible()
    await screenshots(page, "instances")

    # Delete it, once confirmed.
    await page.get_by_role("link", name="Delete… Team drive").click()
    await expect(page.get_by_role("heading", name="Delete Team drive?")).to_be_visible()
    await page.get_by_role("button", name="Delete instance").click()
    await expect(page.get_by_text("Deleted Team drive.")).to_be_visible()
    assert (await api.get(f"{API}/instances")).json() == []
    await api.aclose()
