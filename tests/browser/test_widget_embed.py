"""The widget embedded in a page of another origin under a strict CSP, in a real Chromium.

Starts `perpvol up --simulate` (embedded PostgreSQL and Redis in a temp PERPVOL_DATA_DIR) on a free
port, serves a host page from another loopback port with `script-src <app>; style-src 'self'`, and
checks that the widget shows the API's total, then the offline state once the app is stopped, with
no console errors on the host page. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS, embedded_data_dir, free_port

NETWORK_GONE = re.compile(r"net::ERR_(CONNECTION_(REFUSED|RESET)|INCOMPLETE_CHUNKED_ENCODING|EMPTY_RESPONSE)")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)"
)
pytest.importorskip("playwright", reason="needs the playwright package (pip; never `playwright install`)")


class App:
    def __init__(self, process: subprocess.Popen[bytes], origin: str, log: Path) -> None:
        self.process = process
        self.origin = origin
        self.log = log

    def stop(self) -> None:
        """Ctrl-C, as a user would: `perpvol up` stops its web app, worker and embedded services."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group this test started
                self.process.wait()


def venues_ready(doc: dict[str, Any]) -> bool:
    fresh = [v for v in doc.get("exchanges", []) if v.get("volume_usd") and not v.get("stale")]
    return len(fresh) == len(doc.get("exchanges", [])) > 0


@pytest.fixture
def widget_app(tmp_path: Path) -> Iterator[App]:
    with contextlib.ExitStack() as stack:
        yield from _widget_app(tmp_path, stack)


def _widget_app(tmp_path: Path, stack: contextlib.ExitStack) -> Iterator[App]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "DATABASE_URL", "REDIS_URL"))}
    # Embedded PostgreSQL and Redis in a temp dir; one poll a minute, so the figures hold still while
    # the test compares them.
    data_dir = stack.enter_context(embedded_data_dir())
    env.update(PERPVOL_DATA_DIR=str(data_dir), PERPVOL_POLL_SECONDS="60", PYTHONUNBUFFERED="1")
    log = tmp_path / "perpvol-up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "perpvol"), "up", "--simulate", "--port", str(port)],
            cwd=tmp_path,  # no .env from the repository
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = App(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_ready(served)
        yield served
    finally:
        served.stop()


def wait_until_ready(app: App, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=app.origin, timeout=5) as client:
        while time.monotonic() < deadline:
            if app.process.poll() is not None:
                pytest.fail(f"perpvol up exited with {app.process.returncode}:\n{app.log.read_text()}")
            try:
                if client.get("/healthz").status_code == 200:
                    latest = client.get("/public/latest-volume")
                    if latest.status_code == 200 and venues_ready(latest.json()):
                        return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    pytest.fail(f"the app did not serve figures within {timeout}s:\n{app.log.read_text()}")


def host_page(script_src: str, app_origin: str) -> tuple[bytes, str]:
    csp = (
        f"default-src 'none'; script-src {app_origin}; style-src 'self'; connect-src {app_origin}; "
        "img-src 'self'; base-uri 'none'; form-action 'none'"
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host page</title></head>
<body>
<p>A live badge (server-sent events):</p>
<p id="badge"><script src="{script_src}" async data-theme="light"></script></p>
<p>A card (polling every 5 s):</p>
<perpvol-volume id="card" data-layout="card" data-theme="dark" data-live="poll" data-refresh="5"
  data-api="{app_origin}"></perpvol-volume>
</body></html>"""
    return html.encode(), csp


@pytest.fixture
def host(widget_app: App) -> Iterator[str]:
    """Another origin (another loopback port) serving the embedding page under a strict CSP."""
    origin = widget_app.origin
    script_src = f"{origin}/widget.js"
    if httpx.get(script_src).status_code == 404:  # widget_bp not registered yet: the static copy
        script_src = f"{origin}/static/widget/widget.js"
    body, csp = host_page(script_src, origin)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/favicon.ico":  # else Chromium logs the 404 as a console error
                self.send_response(204)
                self.end_headers()
                return
            if self.path != "/":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def full_figure(total: str) -> str:
    cents = Decimal(total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${cents:,}"


def compact_figure(total: str) -> str:
    """What the widget shows compactly: two decimals in the unit of the figure's magnitude."""
    value = Decimal(total)
    units = ("", "K", "M", "B", "T")
    index = min(len(units) - 1, max(0, (len(str(int(value))) - 1) // 3))

    def scaled(i: int) -> Decimal:
        return (value / Decimal(1000) ** i).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    if scaled(index) >= 1000 and index < len(units) - 1:  # 999.995M shows as 1.00B
        index += 1
    return f"${scaled(index):,}{units[index]}"


ALL_SHOW_A_TOTAL = """() => [...document.querySelectorAll('perpvol-volume')].every(
  (el) => el.shadowRoot && el.shadowRoot.querySelector('.v'))"""
ALL_OFFLINE = """() => [...document.querySelectorAll('perpvol-volume')].every(
  (el) => [...el.shadowRoot.querySelectorAll('.tag')].some((t) => t.textContent === 'Offline'))"""
RENDER_MS = """() => {
  const started = performance.now();
  for (const el of document.querySelectorAll('perpvol-volume')) el.update(el.state);
  return performance.now() - started;
}"""
SHOWN = """() => [...document.querySelectorAll('perpvol-volume')].map((el) => {
  const root = el.shadowRoot;
  const total = root && root.querySelector('.v');
  return {
    id: el.parentElement.id || el.id,
    layout: root && root.querySelector('.card') ? 'card' : 'badge',
    compact: total ? total.textContent : null,
    label: total ? (total.getAttribute('aria-label') || total.closest('a').getAttribute('aria-label')) : null,
    tags: root ? [...root.querySelectorAll('.tag')].map((t) => t.textContent) : [],
    venues: root ? root.querySelectorAll('li').length : 0,
  };
})"""


async def test_embedded_widget_shows_the_api_total_then_the_offline_state(
    widget_app: App, host: str, chromium: Any
) -> None:
    app = widget_app
    async with httpx.AsyncClient(base_url=app.origin) as client:
        async with client.stream("GET", "/api/live/sse", headers={"Origin": "http://elsewhere"}) as sse:
            assert sse.headers.get("access-control-allow-origin") == "*", (
                "/api/live/sse must send `Access-Control-Allow-Origin: *`: "
                "browsers refuse a cross-origin EventSource without it"
            )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await chromium.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    await page.goto(host)
    await page.wait_for_function(ALL_SHOW_A_TOTAL, timeout=15000)
    assert f"{app.origin}/api/live/sse" in requested, "the badge listens to server-sent events"
    assert f"{app.origin}/public/latest-volume" in requested, "the card polls"
    render_ms = await page.evaluate(RENDER_MS)
    assert render_ms < 50, f"re-rendering every widget took {render_ms} ms"

    async with httpx.AsyncClient(base_url=app.origin) as client:
        for _ in range(40):  # the figures move when the simulator's venues are polled: find a still moment
            before = (await client.get("/public/latest-volume")).json()
            shown = await page.evaluate(SHOWN)
            after = (await client.get("/public/latest-volume")).json()
            total = before["total_usd"]
            if total == after["total_usd"] and all(w["compact"] == compact_figure(total) for w in shown):
                break
            await asyncio.sleep(0.5)
    assert [w["id"] for w in shown] == ["badge", "card"]
    for widget in shown:
        assert widget["compact"] == compact_figure(total), (widget, total)
        assert full_figure(total) in widget["label"], (widget, total)
        assert "Simulated" in widget["tags"]
        assert "Offline" not in widget["tags"] and "Stale" not in widget["tags"]
    assert shown[1]["layout"] == "card" and shown[1]["venues"] == len(before["exchanges"])
    assert await page.evaluate("document.cookie") == ""
    await page.screenshot(path=str(SCREENSHOTS / "widget-embed-live.png"))
    assert problems == [], problems

    app.stop()
    await page.wait_for_function(ALL_OFFLINE, timeout=20000)
    shown = await page.evaluate(SHOWN)
    assert all(w["compact"] == compact_figure(total) for w in shown), "the last figures stay on show"
    assert "server unreachable" in shown[0]["label"]
    await page.screenshot(path=str(SCREENSHOTS / "widget-embed-offline.png"))
    # Once the server is gone the browser itself logs the cut stream and the refused connections (no
    # page script can silence those); nothing else may appear.
    unexpected = [p for p in problems if not NETWORK_GONE.search(p)]
    assert unexpected == [], unexpected
