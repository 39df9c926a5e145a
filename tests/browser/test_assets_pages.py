"""The Assets, Asset and Compare pages in a real browser against the app + simulator: the API's figures,
a live update without reload, search, charts rendered, no console errors, a phone layout that does not
widen the page, and screenshots in both themes."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import SCREENSHOTS, ConsoleErrors, get_json

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAGES = {
    "assets": "/assets",
    "asset": "/assets/BTC?range=90d",
    "compare": "/assets/compare?assets=BTC,ETH,SOL&range=90d&granularity=weekly",
}
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


async def test_assets_page_shows_the_api_assets_and_updates_live(page: Any, app_url: str) -> None:
    await page.goto("/assets")
    await page.wait_for_selector('#live-status[data-live="open"]', timeout=10_000)
    for _ in range(5):
        shown = await page.locator("#assets-total data").get_attribute("value")
        api = await asyncio.to_thread(get_json, f"{app_url}/api/assets")
        if shown == api["total_usd"]:
            break
        await asyncio.sleep(0.5)  # a poll landed between the two reads
    assert shown == api["total_usd"]
    first_rows = await page.locator("#assets-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.asset)")
    assert first_rows[:3] == [a["asset"] for a in api["assets"][:3]]
    await page.wait_for_selector("#assets-split[data-rendered] canvas", timeout=15_000)
    # A live `assets` event replaces the figures (new elements) without reloading the document.
    await page.evaluate("window.__sameDocument = true")
    await page.evaluate("document.getElementById('assets-total').dataset.old = '1'")
    await expect(page.locator("#assets-total")).not_to_have_attribute("data-old", "1", timeout=30_000)
    assert await page.evaluate("window.__sameDocument === true")


async def test_assets_search_filters_and_keeps_the_query_in_the_url(page: Any) -> None:
    await page.goto("/assets")
    await page.wait_for_selector('#live-status[data-live="open"]', timeout=10_000)
    await page.get_by_label("Search").fill("PEPE")
    await page.wait_for_url(re.compile(r"q=PEPE"))
    await expect(page.locator("#assets-table tbody tr")).to_have_count(1)
    # Live updates keep coming (a poll every few seconds): none may overwrite the search result.
    await asyncio.sleep(7)
    await expect(page.locator("#assets-table tbody tr")).to_have_count(1)
    await page.locator("#assets-table a", has_text="PEPE").click()
    await page.wait_for_url(re.compile(r"/assets/PEPE"))
    # The simulator lists PEPE in scaled units on Bybit, WOO X and Hyperliquid.
    for symbol in ("1000PEPEUSDT", "PERP_1000PEPE_USDT", "kPEPE"):
        await expect(page.locator("#asset-current")).to_contain_text(symbol)


async def test_asset_page_history_changes_with_the_granularity_and_view(page: Any) -> None:
    await page.goto("/assets/BTC?range=90d&granularity=daily")
    await page.wait_for_selector("#asset-chart[data-rendered] canvas", timeout=15_000)
    assert await page.locator("#asset-chart").get_attribute("data-periods") == "90"
    await page.get_by_text("Monthly", exact=True).click()
    await page.wait_for_url(re.compile(r"granularity=monthly"))
    await page.wait_for_selector("#asset-chart[data-rendered] canvas", timeout=15_000)
    months = int(await page.locator("#asset-chart").get_attribute("data-periods"))
    assert 3 <= months <= 4
    csv_link = await page.locator("a", has_text="CSV").get_attribute("href")
    assert csv_link.startswith("/api/assets/BTC/historical.csv?") and "granularity=monthly" in csv_link
    await page.get_by_text("Venue share", exact=True).click()
    await page.wait_for_url(re.compile(r"view=share"))
    await page.wait_for_selector("#asset-chart[data-rendered] canvas", timeout=15_000)
    assert "Share of total" in await page.locator("#asset-spec").text_content()


async def test_compare_draws_several_assets_and_switches_to_share(page: Any) -> None:
    await page.goto("/assets/compare?assets=BTC,ETH&range=90d&granularity=weekly")
    await page.wait_for_selector("#compare-chart[data-rendered] canvas", timeout=15_000)
    await page.get_by_text("Share of total", exact=True).click()
    await page.wait_for_url(re.compile(r"view=share"))
    await page.wait_for_selector("#compare-chart[data-rendered] canvas", timeout=15_000)
    spec = await page.locator("#compare-spec").text_content()
    assert "Share of all perp volume" in spec


async def test_asset_pages_fit_a_phone_and_are_screenshot_in_both_themes(browser: Any, app_url: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors = ConsoleErrors()
    for scheme in ("light", "dark"):
        for device, viewport in VIEWPORTS.items():
            context = await browser.new_context(
                base_url=app_url, viewport=viewport, color_scheme=scheme, is_mobile=device == "phone"
            )
            page = errors.watch(await context.new_page())
            for name, path in PAGES.items():
                await page.goto(path)
                await page.wait_for_selector("[data-chart][data-rendered] canvas", timeout=15_000)
                if device == "phone":
                    width = await page.evaluate("document.documentElement.scrollWidth")
                    assert width <= viewport["width"], f"{name} is {width}px wide on a phone"
                await page.screenshot(path=SCREENSHOTS / f"{name}-{scheme}-{device}.png", full_page=True)
            await context.close()
    assert errors == [], "\n".join(errors)
