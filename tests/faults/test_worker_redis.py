"""Issue 15, recovery 5: a standalone worker outlives Redis going away and comes back on its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from tests.conftest import make_settings
from tests.faults.support import TcpProxy
from workers.worker import serve_worker

DEAD_VENUE = "http://127.0.0.1:9"  # refuses at once: the worker's polls fail fast, never leave the host


async def _until(check: Callable[[], Awaitable[object]], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)  # polling Redis and the log: nothing to wait on as an event


async def test_the_worker_reconnects_with_backoff_when_redis_goes_away_and_comes_back(
    db_dsn: str, redis_url: str, redis_prefix: str, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    port = await proxy.start()
    settings = make_settings(
        DATABASE_URL=db_dsn,
        REDIS_URL=f"redis://127.0.0.1:{port}{target.path}",
        PERPVOL_REDIS_PREFIX=redis_prefix,
        PERPVOL_BYBIT_URL=DEAD_VENUE,
        PERPVOL_WOOX_URL=DEAD_VENUE,
        PERPVOL_HYPERLIQUID_URL=DEAD_VENUE,
        PERPVOL_PARADEX_URL=DEAD_VENUE,
        PERPVOL_HTTP_TIMEOUT=1,
    )
    health = f"{redis_prefix}:arq:health"
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="perpvol.worker")
    worker = asyncio.create_task(serve_worker(settings, stop=stop, handle_signals=False, max_backoff=1.0))
    try:
        await _until(lambda: redis.exists(health))
        proxy.down()
        await _until(lambda: _logged(caplog, "Redis unavailable"))
        await asyncio.sleep(1.5)  # a few failed reconnects while Redis stays away
        assert not worker.done(), "the worker exited when Redis went away"
        await redis.delete(health)
        proxy.restore()
        await _until(lambda: redis.exists(health))  # a fresh arq worker runs and heart-beats again
        assert not worker.done()
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        await proxy.close()


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)
