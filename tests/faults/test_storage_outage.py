"""Issue 15, also observed: PostgreSQL refusing connections answers 503 with Retry-After (never 500), and
the health probes never hang on a frozen Redis (/healthz touches no storage; /readyz checks it in time)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from core.settings import Settings
from tests.conftest import make_settings
from tests.faults.support import TcpProxy, refusing_postgres, served


@pytest.mark.parametrize("path", ["/readyz", "/api/exchanges", "/api/volume/historical"])
@pytest.mark.parametrize("sqlstate", ["57P03", "53300"])  # not accepting connections; too many clients
async def test_postgresql_refusing_connections_answers_503_with_retry_after(
    path: str, sqlstate: str, settings: Settings
) -> None:
    async with refusing_postgres(sqlstate) as dsn:
        down = make_settings(
            DATABASE_URL=dsn, REDIS_URL=settings.redis_url, PERPVOL_REDIS_PREFIX=settings.redis_prefix
        )
        async with served(down) as client:
            response = await client.get(path)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] in ("unavailable", "not_ready")


async def test_health_probes_answer_in_time_while_redis_is_frozen(settings: Settings) -> None:
    target = urlsplit(settings.redis_url or "")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    port = await proxy.start()
    through = make_settings(
        DATABASE_URL=settings.database_url,
        REDIS_URL=f"redis://127.0.0.1:{port}{target.path}",
        PERPVOL_REDIS_PREFIX=settings.redis_prefix,
    )
    try:
        async with served(through) as client:
            assert (await client.get("/readyz")).status_code == 200
            proxy.freeze()
            started = time.monotonic()
            ready = await client.get("/readyz")
            live = await client.get("/healthz")
            elapsed = time.monotonic() - started
            proxy.restore()
    finally:
        await proxy.close()
    assert ready.status_code == 503 and ready.json()["detail"].startswith("Redis: no answer within")
    assert live.status_code == 200
    assert elapsed < 5
