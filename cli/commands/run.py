"""`perpvol migrate | web | worker | up`: prepare storage, run the parts, or run everything at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from core.settings import Settings
from core.venues import VENUES
from storage.db import create_pool, ensure_database
from storage.embedded import Services, free_port, publish_services, start_services, unpublish_services
from storage.migrate import migrate


async def prepare_database(settings: Settings) -> list[int]:
    """Create the database if needed, refuse one made for the other data mode, migrate."""
    assert settings.database_url
    await ensure_database(settings.database_url)
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        applied = await migrate(pool, data_mode=settings.data_mode)
    finally:
        await pool.close()
    return applied


def resolve(settings: Settings) -> tuple[Settings, Services]:
    """Settings with concrete database and Redis URLs (embedded servers started where needed)."""
    services = start_services(settings)
    resolved = settings.model_copy(
        update={"database_url": services.database_url, "redis_url": services.redis_url}
    )
    return resolved, services


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": settings.database_url or "",
            "REDIS_URL": settings.redis_url or "",
            "PERPVOL_DATA_MODE": settings.data_mode,
            "PERPVOL_REDIS_PREFIX": settings.redis_prefix,
            "PERPVOL_DATA_DIR": str(settings.data_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({venue.url_setting: settings.venue_url(name) for name, venue in VENUES.items()})
    return env


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.argv, env=env)
        self.started_at = time.monotonic()


@dataclass
class Supervisor:
    """Keeps the children running (a worker exits when Redis goes away) until told to stop."""

    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def add(self, name: str, argv: list[str]) -> Child:
        child = Child(name, argv)
        child.start(self.env)
        self.children.append(child)
        return child

    def watch(self) -> None:
        while not self.stopping:
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None or self.stopping:
                    continue
                # Back off when a child dies right after start, so a broken setup doesn't spin.
                delay = 5.0 if time.monotonic() - child.started_at < 10 else 0.5
                print(f"perpvol: {child.name} exited with {code}; restarting in {delay:g}s", file=sys.stderr)
                time.sleep(delay)
                child.restarts += 1
                child.start(self.env)
            time.sleep(0.3)

    def stop(self) -> None:
        self.stopping = True
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def run_up(settings: Settings, host: str, port: int, simulate: bool, seed: int) -> None:
    supervisor_env: dict[str, str] = {}
    sim: Child | None = None
    if simulate:
        sim_port = free_port()
        url = f"http://127.0.0.1:{sim_port}"
        sim = Child("simulator", cli_argv("sim", "--port", str(sim_port), "--seed", str(seed)))
        sim.start(dict(os.environ))
        settings = settings.model_copy(
            update={
                "data_mode": "simulated",
                "bybit_url": url,
                "woox_url": url,
                "hyperliquid_url": url,
                "paradex_url": url,
            }
        )
    resolved, services = resolve(settings)
    for line in services.embedded:
        print(f"perpvol: started embedded {line}")
    if services.embedded:
        publish_services(settings, services)
    try:
        applied = asyncio.run(prepare_database(resolved))
        if applied:
            print(f"perpvol: applied migrations {applied}")
        supervisor_env = child_env(resolved)
        supervisor = Supervisor(supervisor_env)
        if sim is not None:
            supervisor.children.append(sim)
        supervisor.add("web", cli_argv("web", "--host", host, "--port", str(port)))
        supervisor.add("worker", cli_argv("worker"))
        label = " with SIMULATED data" if resolved.simulated else ""
        print(f"perpvol: running{label} at http://{host}:{port}/  (Ctrl-C stops everything)", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            supervisor.watch()
        except KeyboardInterrupt:
            print("\nperpvol: stopping…", file=sys.stderr)
        finally:
            supervisor.stop()
    finally:
        if services.embedded:
            unpublish_services(settings)
        services.close()
