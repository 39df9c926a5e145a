"""The public endpoint's per-IP limit holds across web processes (counted together in Redis)."""

from __future__ import annotations

import asyncpg
import httpx
import redis.asyncio as aioredis

from core.settings import Settings
from storage.embedded import free_port
from tests.webapp.test_public import store_snapshot
from webapp.app import create_asgi
from webapp.shared_counts import SharedRateCounts
from webapp.views.public import PUBLIC_PATH, PublicFeed


async def test_two_web_processes_share_one_per_ip_limit(settings: Settings, db: asyncpg.Pool) -> None:
    await store_snapshot(db, "bybit", "1")
    limited = settings.model_copy(update={"public_rate_limit": 4})
    first, second = create_asgi(limited), create_asgi(limited)
    statuses: list[int] = []
    async with first.app.test_app(), second.app.test_app():  # type: ignore[attr-defined]
        feeds: list[PublicFeed] = [first.feed, second.feed]
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("198.51.100.4", 1)), base_url="http://t")
            for app in (first, second)
        ]
        for turn in range(10):
            statuses.append((await clients[turn % 2].get(PUBLIC_PATH)).status_code)
            # One sync interval passes: each process flushes its counts, then reads the totals.
            for feed in feeds * 2:
                assert feed.shared is not None
                await feed.shared.sync()
        for client in clients:
            await client.aclose()
    # Alone, each process would let 4 through (8 in all); together they let 4 through.
    assert statuses == [200] * 4 + [429] * 6


async def test_counts_reach_redis_in_one_hash_per_window(redis: aioredis.Redis, redis_prefix: str) -> None:
    now = [120.5]
    counts = SharedRateCounts(redis, redis_prefix, limit=3, window=60, clock=lambda: now[0])
    other = SharedRateCounts(redis, redis_prefix, limit=3, window=60, clock=lambda: now[0])
    assert [counts.retry_after("a"), counts.retry_after("a")] == [None, None]
    await counts.sync()
    assert await redis.hget(f"{redis_prefix}:public-rate:2", "a") == b"2"
    assert other.retry_after("a") is None
    await other.sync()
    # The other process has learned the total (3): the next request is over the limit until 180 s.
    assert other.retry_after("a") == 60
    now[0] = 180.0
    assert other.retry_after("a") is None


async def test_redis_down_keeps_counting_in_the_process() -> None:
    unreachable = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    counts = SharedRateCounts(unreachable, "perpvol", limit=2, window=60)
    assert counts.retry_after("a") is None
    await counts.sync()
    assert counts.failures == 1
    assert counts.retry_after("a") is None
    assert counts.retry_after("a") is not None
    await unreachable.aclose()
