"""Connection-pool lifecycle and database creation.

Simulated data lives in its own database (`<name>_sim`, see `dsn_for_mode`) so it can never mix with
real data; `ensure_database` creates that database on first start.
"""

from __future__ import annotations

import json
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ADMIN_DATABASES = ("postgres", "template1")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 5, **kw: Any) -> asyncpg.Pool:
    """A pool with JSON codecs and UTC sessions.

    Small by default: the web app, the workers and the CLI each hold a pool on the same server.
    """
    server_settings = {"application_name": "perpvol", "timezone": "UTC"}
    server_settings.update(kw.pop("server_settings", None) or {})
    kw.setdefault("command_timeout", 60)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings=server_settings,
        **kw,
    )
    return cast(asyncpg.Pool, pool)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def database_name(dsn: str) -> str:
    name = urlsplit(dsn).path.lstrip("/")
    if not name:
        raise ValueError(f"the database URL names no database: {_redact(dsn)}")
    return name


def with_database(dsn: str, name: str) -> str:
    """The same server URL pointing at database `name`."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def dsn_for_mode(dsn: str, data_mode: str) -> str:
    """Simulated data gets its own database next to the real one: `perpvol` -> `perpvol_sim`."""
    if data_mode != "simulated":
        return dsn
    name = database_name(dsn)
    return dsn if name.endswith("_sim") else with_database(dsn, name + "_sim")


async def database_exists(dsn: str) -> bool:
    conn = await _connect_admin(dsn)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database_name(dsn))
    finally:
        await conn.close()
    return found is not None


async def ensure_database(dsn: str) -> bool:
    """Create the database named in `dsn` if it is missing; True if it was created now."""
    name = database_name(dsn)
    conn = await _connect_admin(dsn)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
        except asyncpg.DuplicateDatabaseError:
            # Another process created it between our check and our CREATE.
            return False
    finally:
        await conn.close()
    return True


async def drop_database(dsn: str) -> None:
    """Drop the database named in `dsn`, disconnecting its sessions first (tests, `reset` commands)."""
    conn = await _connect_admin(dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(database_name(dsn))} WITH (FORCE)")
    finally:
        await conn.close()


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _connect_admin(dsn: str) -> asyncpg.Connection:
    """A connection to a maintenance database of the same server (CREATE DATABASE can't run inside one)."""
    last_error: Exception | None = None
    for admin in ADMIN_DATABASES:
        try:
            return cast(asyncpg.Connection, await asyncpg.connect(with_database(dsn, admin)))
        except asyncpg.InvalidCatalogNameError as exc:
            last_error = exc
    raise RuntimeError(f"no maintenance database on {_redact(dsn)}") from last_error


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
