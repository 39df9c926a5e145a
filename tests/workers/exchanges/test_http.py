from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchanges.errors import ExchangeError, ThrottledError, UnavailableError
from exchanges.http import RateLimiter, RetryPolicy, parse_retry_after
from tests.exchanges_support import replay_client


def _sequence(*responses: httpx.Response | Exception) -> tuple[Any, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


async def test_json_numbers_are_parsed_as_decimal_not_float() -> None:
    handler, _ = _sequence(httpx.Response(200, content=b'{"v": 0.1, "big": 12345678901234567890.123456789}'))
    body = await replay_client("x", handler).get("/p")
    assert body == {"v": Decimal("0.1"), "big": Decimal("12345678901234567890.123456789")}


async def test_retries_5xx_and_timeouts_then_succeeds() -> None:
    handler, seen = _sequence(
        httpx.Response(503, text="busy"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"ok": 1}),
    )
    assert await replay_client("x", handler).get("/p") == {"ok": 1}
    assert len(seen) == 3


async def test_gives_up_with_one_typed_error_naming_venue_and_endpoint() -> None:
    handler, seen = _sequence(*[httpx.Response(502, text="bad gateway")] * 4)
    with pytest.raises(UnavailableError) as info:
        await replay_client("bybit", handler).get("/v5/market/tickers")
    assert len(seen) == 4
    assert info.value.venue == "bybit"
    assert "GET /v5/market/tickers" in str(info.value) and "HTTP 502" in str(info.value)


async def test_truncated_body_is_retried() -> None:
    handler, seen = _sequence(httpx.Response(200, content=b'{"a": [1, 2'), httpx.Response(200, json=[1]))
    assert await replay_client("x", handler).get("/p") == [1]
    assert len(seen) == 2


async def test_client_error_with_html_body_is_not_retried() -> None:
    handler, seen = _sequence(httpx.Response(403, text="<html>CloudFront</html>"))
    with pytest.raises(ExchangeError, match="HTTP 403"):
        await replay_client("bybit", handler).get("/p")
    assert len(seen) == 1


async def test_retry_after_is_honoured() -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    handler, _ = _sequence(
        httpx.Response(429, headers={"Retry-After": "2"}, json=None), httpx.Response(200, json={})
    )
    client = replay_client("x", handler, policy=RetryPolicy(attempts=3, max_delay=10))
    client._sleep = record
    client.limiter = RateLimiter(rate=1e6, capacity=1e6)
    await client.get("/p")
    assert waits == [2.0]


async def test_body_check_can_turn_a_200_into_a_throttle_that_is_retried() -> None:
    handler, seen = _sequence(
        httpx.Response(200, json={"retCode": 10006}), httpx.Response(200, json={"retCode": 0})
    )

    def check(body: Any, response: httpx.Response) -> None:
        if body["retCode"] == 10006:
            raise ThrottledError("bybit", "GET /p", "Too many visits!")

    assert await replay_client("bybit", handler).get("/p", check=check) == {"retCode": 0}
    assert len(seen) == 2


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    for attempt in range(10):
        delay = policy.delay(attempt, None)
        assert 0 <= delay <= min(8.0, 2**attempt)
    assert policy.delay(3, 5.0) == 5.0


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


async def test_rate_limiter_keeps_under_its_rate() -> None:
    limiter = RateLimiter(rate=200, capacity=10)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(60)))
    # 10 at once from the bucket, then 50 more at 200/s: at least 0.25 s.
    assert time.monotonic() - started >= 0.24


async def test_rate_limiter_pause_blocks_new_requests() -> None:
    limiter = RateLimiter(rate=100, capacity=100)
    limiter.pause(0.2)
    started = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - started >= 0.19
