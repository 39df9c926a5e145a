"""Venue budgets shared through Redis: many clients (as in many worker processes) stay within one limit."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from exchanges.bybit import BAN_SECONDS, BybitConnector
from exchanges.errors import ExchangeError
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.registry import make_client
from exchanges.shared_limit import SharedRateLimiter, account_scope, limit_key
from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.sim.woox import WooxSim
from exchanges.woox import RATE_LIMIT as WOOX_LIMIT
from storage.embedded import free_port
from tests.conftest import make_settings
from tests.exchanges_support import SIM_NOW, fixture_bytes, sim_client

NO_RETRY = RetryPolicy(attempts=1, timeout=5.0)
FUTURES = "/v3/public/futures"


@pytest.fixture
async def shared_redis(each_redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    client = aioredis.Redis.from_url(each_redis_url)
    prefix = f"perpvol-test-{secrets.token_hex(6)}"
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def woox_sim() -> SimulatorApp:
    model = SimModel(seed=1, now=lambda: SIM_NOW, history_days=30)
    return SimulatorApp(model, [WooxSim(model)], enforce_limits=True)


async def _burst(clients: list[VenueClient], per_client: int) -> None:
    async def one(client: VenueClient) -> None:
        for _ in range(per_client):
            try:
                await client.get(FUTURES)
            except ExchangeError:
                pass  # a 429: counted by the simulator

    await asyncio.gather(*(one(c) for c in clients))


async def test_three_clients_sharing_redis_stay_within_the_venue_budget(
    shared_redis: tuple[aioredis.Redis, str],
) -> None:
    redis, prefix = shared_redis
    app = woox_sim()
    key = limit_key(prefix, "woox", "ip")
    clients = [sim_client("woox", app, policy=NO_RETRY, limiter=SharedRateLimiter(redis, key, *WOOX_LIMIT))]
    clients += [
        sim_client("woox", app, policy=NO_RETRY, limiter=SharedRateLimiter(redis, key, *WOOX_LIMIT)) for _ in range(2)
    ]
    started = time.monotonic()
    await _burst(clients, 5)
    elapsed = time.monotonic() - started
    assert app.requests["woox"] == 15
    assert app.throttled["woox"] == 0
    # One budget of 6/s with a burst of 6 for all three: the 9 after the burst take about 1.5 s.
    assert elapsed >= 1.3
    assert all(isinstance(c.limiter, SharedRateLimiter) and c.limiter.fallbacks == 0 for c in clients)


async def test_three_clients_with_their_own_limit_are_throttled_by_the_venue() -> None:
    app = woox_sim()
    clients = [sim_client("woox", app, policy=NO_RETRY, limiter=RateLimiter(*WOOX_LIMIT)) for _ in range(3)]
    await _burst(clients, 10)
    assert app.throttled["woox"] > 0


async def test_a_retry_after_seen_by_one_client_pauses_every_client(
    shared_redis: tuple[aioredis.Redis, str],
) -> None:
    redis, prefix = shared_redis
    app = woox_sim()
    app.faults.append(Fault(kind="throttle", venue="woox", count=1, retry_after=1))
    key = limit_key(prefix, "woox", "ip")
    throttled = asyncio.Event()

    async def backoff(seconds: float) -> None:
        throttled.set()
        await asyncio.sleep(seconds)

    first = VenueClient(
        "woox",
        "http://sim.test",
        SharedRateLimiter(redis, key, 100, 100),
        transport=httpx.ASGITransport(app=app),
        sleep=backoff,
    )
    other = sim_client("woox", app, policy=NO_RETRY, limiter=SharedRateLimiter(redis, key, 100, 100))
    throttled_at = time.monotonic()
    retrying = asyncio.create_task(first.get(FUTURES))
    await throttled.wait()
    await asyncio.sleep(0.05)  # the pause reaches Redis in the background
    await other.get(FUTURES)
    # The other client (another process in production) waited out the 1 s the venue asked for.
    assert time.monotonic() - throttled_at >= 0.9
    await retrying
    await first.aclose()
    await other.aclose()


async def test_a_bybit_ban_pauses_every_worker_for_ten_minutes(shared_redis: tuple[aioredis.Redis, str]) -> None:
    redis, prefix = shared_redis
    settings = make_settings(PERPVOL_REDIS_PREFIX=prefix)
    transport = httpx.MockTransport(
        lambda _: httpx.Response(403, content=fixture_bytes("bybit", "error_403_cloudfront.html"))
    )
    connector = BybitConnector(make_client("bybit", settings, transport=transport, redis=redis))
    with pytest.raises(ExchangeError, match="403"):
        await connector.fetch_current()
    await asyncio.sleep(0.05)
    limiter = connector.client.limiter
    assert isinstance(limiter, SharedRateLimiter)
    remaining_ms = int(await redis.pttl(limiter.pause_key))
    assert BAN_SECONDS * 1000 - 5000 < remaining_ms <= BAN_SECONDS * 1000 + 1000
    await connector.aclose()


async def test_when_redis_is_down_the_local_limit_applies() -> None:
    unreachable = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    limiter = SharedRateLimiter(unreachable, "perpvol:ratelimit:woox:ip", rate=100, capacity=5)
    started = time.monotonic()
    for _ in range(15):
        await limiter.acquire()
    # 5 from the local bucket, 10 more at 100/s; Redis is tried once, then left alone for a while.
    assert time.monotonic() - started >= 0.09
    assert limiter.fallbacks == 1
    await unreachable.aclose()


def test_per_key_budgets_do_not_put_the_key_into_redis() -> None:
    scope = account_scope("my-api-key-123")
    assert "my-api-key" not in scope and scope.startswith("key:")
    assert scope != account_scope("another-key")


async def test_the_script_runs_on_redis_clock_and_refills(shared_redis: tuple[aioredis.Redis, str]) -> None:
    redis, prefix = shared_redis
    limiter = SharedRateLimiter(redis, limit_key(prefix, "x", "ip"), rate=50, capacity=2)
    started = time.monotonic()
    for _ in range(7):
        await limiter.acquire()
    # 2 at once, 5 more at 50/s.
    assert 0.09 <= time.monotonic() - started < 1.0
