"""Real `perpvol` processes side by side on one PostgreSQL and Redis: migrate from every replica at once,
several granian workers, and the drain on SIGTERM as an orchestrator sends it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from core.settings import Settings
from storage.db import database_name, drop_database, ensure_database, with_database
from storage.embedded import free_port
from storage.migrate import load_migrations
from webapp.views.live import SSE_DRAIN_RETRY_MS

ROOT = Path(__file__).resolve().parents[1]
PERPVOL = [sys.executable, "-m", "cli.main"]


def _env(settings: Settings, database_url: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url or settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "PERPVOL_REDIS_PREFIX": settings.redis_prefix,
        "PERPVOL_DATA_DIR": str(settings.data_dir),
        "PYTHONUNBUFFERED": "1",
    }


async def test_migrate_from_four_replicas_at_once_applies_each_file_once(settings: Settings) -> None:
    assert settings.database_url
    fresh = with_database(settings.database_url, database_name(settings.database_url) + "_replicas")
    await ensure_database(fresh)
    try:
        procs = [
            await asyncio.create_subprocess_exec(
                *PERPVOL, "migrate", cwd=ROOT, env=_env(settings, fresh), stdout=asyncio.subprocess.PIPE
            )
            for _ in range(4)
        ]
        results = await asyncio.wait_for(asyncio.gather(*(proc.communicate() for proc in procs)), 120)
        outputs = [out.decode() for out, _ in results]
        assert [proc.returncode for proc in procs] == [0] * 4, outputs
        # Exactly one replica applied the files; the others waited on the lock and found nothing to do.
        assert sum(out.startswith("applied migrations") for out in outputs) == 1
        assert sum(out.startswith("database is up to date") for out in outputs) == 3
        conn = await asyncpg.connect(fresh)
        try:
            versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
        finally:
            await conn.close()
        assert versions == [m.version for m in load_migrations()]
    finally:
        await drop_database(fresh)


def _wait_ready(url: str, proc: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "perpvol web exited early"
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("perpvol web never became ready")


@pytest.fixture(params=["granian", "uvicorn"])
def web_process(
    request: pytest.FixtureRequest, settings: Settings, db: asyncpg.Pool
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    # granian with two worker processes; uvicorn has one.
    workers = ["--workers", "2"] if request.param == "granian" else []
    proc = subprocess.Popen(
        [*PERPVOL, "web", "--server", request.param, "--port", str(port), *workers, "--drain-seconds", "5"],
        cwd=ROOT,
        env=_env(settings),
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_sigterm_tells_live_clients_to_reconnect_and_stops_within_the_bound(
    web_process: tuple[str, subprocess.Popen[str]],
) -> None:
    url, proc = web_process
    if "granian" in proc.args:
        assert len(_children(proc.pid)) >= 2  # --workers 2: two granian worker processes serve the port
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{url}/api/live/sse") as stream:
        chunks = stream.iter_bytes()
        received = b""
        while b"event: volume" not in received:
            received += next(chunks)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest = b"".join(chunks)  # ends when the server closes the stream
    # Told to reconnect at once, not when the drain bound (--drain-seconds 5) ran out.
    assert rest.endswith(f"retry: {SSE_DRAIN_RETRY_MS}\n\n".encode())
    assert time.monotonic() - sent < 3
    code = proc.wait(timeout=15)
    # Then stopped cleanly within the bound (uvicorn re-raises the signal after its graceful shutdown, so
    # its exit status is "terminated by SIGTERM"); a second of slack for process teardown.
    assert code == (0 if "granian" in proc.args else -signal.SIGTERM)
    assert time.monotonic() - sent < 5 + 1
