"""Managed PostgreSQL and Redis over TLS, against local servers with TLS on: `rediss://` with the CA in
`PERPVOL_REDIS_CA`, and `sslmode=verify-full` with `sslrootcert` in DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest
import redis.asyncio as aioredis
from arq.connections import create_pool as arq_pool
from redis.exceptions import ConnectionError as RedisConnectionError

from core.settings import SettingsError, load_settings
from storage.db import create_pool
from storage.redis_tls import arq_redis_settings
from tests.conftest import make_settings
from tests.tls_support import (
    Certs,
    make_certs,
    postgres_tls_available,
    redis_tls_available,
    start_postgres_tls,
    start_redis_tls,
    stop_postgres,
)
from webapp.app import create_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def rediss_url(certs: Certs) -> Iterator[str]:
    if reason := redis_tls_available():
        pytest.skip(reason)
    password = secrets.token_urlsafe(16)
    proc, port = start_redis_tls(certs, password)
    try:
        yield f"rediss://:{password}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def pg_tls_port(certs: Certs) -> Iterator[int]:
    if reason := postgres_tls_available():
        pytest.skip(reason)
    data, port = start_postgres_tls(certs)
    try:
        yield port
    finally:
        stop_postgres(data)


@pytest.fixture
async def tls_database_url(pg_tls_port: int, certs: Certs) -> AsyncIterator[str]:
    base = f"postgresql://postgres@127.0.0.1:{pg_tls_port}"
    query = f"sslmode=verify-full&sslrootcert={quote(str(certs.ca))}"
    name = f"perpvol_tls_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{base}/postgres?{query}")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{base}/{name}?{query}"
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


async def test_redis_ca_setting_makes_every_redis_client_verify_the_server(rediss_url: str, certs: Certs) -> None:
    settings = make_settings(REDIS_URL=rediss_url, PERPVOL_REDIS_CA=str(certs.ca))
    assert settings.redis_url and "ssl_check_hostname=true" in settings.redis_url
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        assert await client.ping() is True
    finally:
        await client.aclose()
    # The workers' arq pool reads the same options from the URL.
    pool = await arq_pool(arq_redis_settings(settings.redis_url))
    try:
        assert await pool.ping() is True
    finally:
        await pool.aclose()


async def test_a_server_signed_by_another_ca_is_refused(rediss_url: str, tmp_path: Path) -> None:
    other = make_certs(tmp_path / "other", "someone else's CA")
    settings = make_settings(REDIS_URL=rediss_url, PERPVOL_REDIS_CA=str(other.ca))
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        with pytest.raises(RedisConnectionError, match="certificate verify failed"):
            await client.ping()
    finally:
        await client.aclose()


def test_redis_ca_without_a_tls_url_is_a_clear_setting_error(certs: Certs) -> None:
    with pytest.raises(SettingsError, match="PERPVOL_REDIS_CA needs a rediss:// REDIS_URL"):
        load_settings(redis_url="redis://127.0.0.1:6379/0", redis_ca=certs.ca)


async def test_postgres_verify_full_with_a_configured_ca_uses_tls(tls_database_url: str) -> None:
    pool = await create_pool(tls_database_url, min_size=1, max_size=2)
    try:
        assert await pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
    finally:
        await pool.close()


async def test_the_app_is_ready_on_tls_postgres_and_tls_redis(
    tls_database_url: str, rediss_url: str, certs: Certs, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": tls_database_url,
        "REDIS_URL": rediss_url,
        "PERPVOL_REDIS_CA": str(certs.ca),
        "PERPVOL_DATA_DIR": str(tmp_path),
    }
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    settings = make_settings(
        DATABASE_URL=tls_database_url, REDIS_URL=rediss_url, PERPVOL_REDIS_CA=str(certs.ca), PERPVOL_DATA_DIR=tmp_path
    )
    app = create_app(settings)
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
        assert response.status_code == 200, await response.get_data(as_text=True)
        assert app.extensions["hub"].reconnects == 0  # the live feed subscribed over TLS at once
