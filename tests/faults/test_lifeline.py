"""Issue 15, also observed: `kill -9` of `perpvol web` must not leave its server workers serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cli import process_tree
from core.settings import Settings
from storage.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_server_workers_stop_when_perpvol_web_is_killed_with_sigkill(settings: Settings) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "PERPVOL_REDIS_PREFIX": settings.redis_prefix,
        "PERPVOL_DATA_DIR": str(settings.data_dir),
    }
    env.pop("PERPVOL_PARENT_PID", None)
    web = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "web", "--port", str(port), "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        children = _children(web.pid)
        assert children, "perpvol web started no server worker"
        web.send_signal(signal.SIGKILL)
        web.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(process_tree.running(c) for c in children):
            time.sleep(0.2)
        assert not [c for c in children if process_tree.running(c)], "server workers kept running without their parent"
    finally:
        if web.poll() is None:
            web.kill()
        for child in children:
            if process_tree.running(child):
                os.kill(child, signal.SIGKILL)
