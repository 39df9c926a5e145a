"""When no exchange can be reached, in a real Chromium: the dashboard says so (banner, reason, a red
live dot, an em dash instead of $0.00, no donut) and the widget shows "no data" with the reason.

Starts `perpvol up` (real mode) with every venue URL pointing at a closed port, so every poll fails
exactly as it does without network."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import CHROMIUM, ROOT, SCREENSHOTS, ConsoleErrors, embedded_data_dir, free_port

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)"
)
pytest.importorskip("playwright", reason="needs the playwright package (pip; never `playwright install`)")


@pytest.fixture(scope="module")
def unreachable_app() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(embedded_data_dir())
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "DATABASE_URL", "REDIS_URL"))}
        env.update(PERPVOL_DATA_DIR=str(data_dir), PERPVOL_POLL_SECONDS="5", PERPVOL_HTTP_TIMEOUT="2")
        for venue in ("BYBIT", "WOOX", "HYPERLIQUID", "PARADEX"):
            env[f"PERPVOL_{venue}_URL"] = "http://127.0.0.1:1"  # nothing listens: refused, as offline
        log = data_dir / "up.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "perpvol"), "up", "--port", str(port)],
                cwd=data_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        origin = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    pytest.fail(f"perpvol up exited with {process.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    doc = httpx.get(f"{origin}/api/volume/current", timeout=5).json()
                    if doc.get("no_data_reason") == "cannot reach any exchange":
                        break
                except (httpx.TransportError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the venues never all failed:\n{log.read_text()[-3000:]}")
                time.sleep(1)
            yield origin
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
async def chromium() -> Any:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def test_the_dashboard_says_no_exchange_is_reachable_instead_of_showing_zero(
    unreachable_app: str, chromium: Any
) -> None:
    page = await chromium.new_page()
    errors = ConsoleErrors()
    errors.watch(page)
    await page.goto(unreachable_app + "/")
    await page.wait_for_selector('#live-status[data-live="degraded"]', timeout=20000)
    assert await page.locator("#live-status [data-live-text]").text_content() == "Live feed · no venue data"
    banner = page.locator("#no-venue-banner")
    assert await banner.is_visible()
    assert "check the network or proxy, or try ./run up --simulate" in " ".join((await banner.inner_text()).split())
    assert await page.locator("#total-volume").text_content() == "—"
    assert await page.locator("#no-data-reason").text_content() == "No data: cannot reach any exchange"
    assert await page.locator("#share-chart").count() == 0
    assert "$0.00" not in await page.locator("main").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "overview-no-venue.png"), full_page=True)
    assert errors == [], errors


async def test_the_widget_shows_no_data_and_the_reason(unreachable_app: str, chromium: Any) -> None:
    page = await chromium.new_page()
    await page.set_content(
        f'<script src="{unreachable_app}/widget.js" async></script>'
        f'<script src="{unreachable_app}/widget.js" async data-layout="card" data-live="poll"></script>'
    )
    shown = """() => [...document.querySelectorAll('perpvol-volume')].map((el) => el.shadowRoot
        && el.shadowRoot.querySelector('.v') ? el.shadowRoot.querySelector('.v').textContent : null)"""
    await page.wait_for_function(
        f"({shown})().length === 2 && ({shown})().every((v) => v === 'no data')", timeout=20000
    )
    texts = await page.evaluate(
        "[...document.querySelectorAll('perpvol-volume')].map((e) => [e.dataset.layout, e.shadowRoot.innerHTML])"
    )
    card = next(html for layout, html in texts if layout == "card")
    assert '<p class="why">cannot reach any exchange</p>' in card, card
    assert all("$0" not in html for _, html in texts)
