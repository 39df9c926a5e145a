"""Browser tests: Playwright (async API) driving Debian's Chromium against `perpvol up --simulate`.

The app runs as a subprocess on a free port with its own PERPVOL_DATA_DIR (embedded PostgreSQL and
Redis, the exchange simulator, the web app and a worker polling every few seconds). Needs
`apt-get install chromium` and the `playwright` package; never `playwright install`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

CHROMIUM = os.environ.get("PERPVOL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
READY_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _wait_for_data(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until a venue has a fresh figure and some daily history is stored."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"perpvol up exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            current = get_json(f"{base}/api/volume/current")
            health = get_json(f"{base}/api/exchanges")
            if current["total_usd"] is not None and any(v["history_last_day"] for v in health["exchanges"]):
                return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"no data after {READY_SECONDS}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def embedded_data_dir() -> Iterator[Path]:
    """A data dir for `perpvol up`'s embedded PostgreSQL, outside pytest's private (0700) temp tree:
    as root, pgserver runs PostgreSQL as its own user, which must be able to reach the directory, and
    a concurrent pytest session may tighten pytest's tree again while the app runs."""
    path = Path(tempfile.mkdtemp(prefix="perpvol-browser-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    with embedded_data_dir() as data_dir:
        yield from _app_url(data_dir)


def _app_url(data_dir: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    pytest.importorskip("playwright", reason="pip install playwright (the browser comes from Debian)")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERPVOL_", "DATABASE_URL", "REDIS_URL"))}
    env.update(PERPVOL_DATA_DIR=str(data_dir), PERPVOL_POLL_SECONDS="3", PYTHONUNBUFFERED="1")
    log = data_dir / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up", "--simulate", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_data(base, process, log)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(app_url: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


class ConsoleErrors(list[str]):
    """Console errors and uncaught exceptions of a page (CSP violations are console errors)."""

    def watch(self, page: Any) -> Any:
        page.on("console", lambda msg: self.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.append(f"pageerror: {exc}"))
        return page


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, app_url: str) -> AsyncIterator[Any]:
    """A desktop page in the light scheme; fails the test on any console error."""
    context = await browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 900}, color_scheme="light")
    errors = ConsoleErrors()
    tab = errors.watch(await context.new_page())
    try:
        yield tab
    finally:
        await context.close()
    assert errors == [], "\n".join(errors)
