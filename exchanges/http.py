"""HTTP plumbing shared by the connectors: timeouts, retries with backoff and jitter, a rate limiter.

Connectors stay thin: they say which path to call and how to read the body; this module decides when
to wait, when to retry and when to give up with one typed error.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from exchanges.errors import (
    ExchangeError,
    ThrottledError,
    TransientError,
    UnavailableError,
)

# Raised by a connector's `check` when a 200 body carries an error: ThrottledError / VenueAPIError.
BodyCheck = Callable[[Any, httpx.Response], None]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """Token bucket: at most `capacity` weight at once, refilled at `rate` weight per second.

    Shared by every request of one venue client so that a backfill keeps under the venue's limit.
    """

    def __init__(self, rate: float, capacity: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self, weight: float = 1.0) -> None:
        weight = min(weight, self.capacity)
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= weight:
                    self._tokens -= weight
                    return
                await asyncio.sleep((weight - self._tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        """After a throttle answer, empty the bucket so that no request goes out for `seconds`."""
        self._tokens = min(self._tokens, 0.0) - seconds * self.rate
        self._updated = self._clock()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 15.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay * 4)
        # Full jitter (AWS architecture blog, "Exponential Backoff And Jitter").
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def decode_json(content: bytes) -> Any:
    # Numbers become Decimal at the parser so no volume ever passes through a float.
    return json.loads(content, parse_float=Decimal)


class VenueClient:
    """One venue's HTTP client: `await client.get(path, params)` returns the parsed JSON body."""

    def __init__(
        self,
        venue: str,
        base_url: str,
        limiter: RateLimiter,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.policy = policy or RetryPolicy()
        self.requests_sent = 0
        self.weight_sent = 0.0
        # The latest retryable problem, so a caller that gives up on time can still say what went wrong.
        self.last_problem: str | None = None
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.policy.timeout,
            transport=transport,
            headers={"User-Agent": "perpvol/0.1", "Accept": "application/json", **(headers or {})},
            # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY from the environment, as curl does.
            trust_env=True,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        weight: float = 1,
        check: BodyCheck | None = None,
    ) -> Any:
        return await self.request("GET", path, params=params, weight=weight, check=check)

    async def post(self, path: str, body: Any, *, weight: float = 1, check: BodyCheck | None = None) -> Any:
        return await self.request("POST", path, json_body=body, weight=weight, check=check)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        weight: float = 1,
        check: BodyCheck | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        endpoint = f"{method} {path}"
        last: TransientError | None = None
        for attempt in range(self.policy.attempts):
            if last is not None:
                await self._sleep(self.policy.delay(attempt - 1, last.retry_after))
            await self.limiter.acquire(weight)
            self.weight_sent += weight
            try:
                return await self._once(method, path, endpoint, params, json_body, check, headers)
            except ThrottledError as exc:
                if exc.retry_after:
                    self.limiter.pause(exc.retry_after)
                last = exc
                self.last_problem = str(exc)
            except TransientError as exc:
                last = exc
                self.last_problem = str(exc)
        assert last is not None
        raise UnavailableError(
            self.venue, endpoint, f"gave up after {self.policy.attempts} attempts: {last.message}"
        )

    async def _once(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: dict[str, Any] | None,
        json_body: Any,
        check: BodyCheck | None,
        headers: dict[str, str] | None,
    ) -> Any:
        self.requests_sent += 1
        try:
            response = await self._http.request(method, path, params=params, json=json_body, headers=headers)
        except httpx.TimeoutException:
            raise TransientError(self.venue, endpoint, f"timed out after {self.policy.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise TransientError(self.venue, endpoint, f"connection failed: {exc or type(exc).__name__}") from None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 429:
            raise ThrottledError(self.venue, endpoint, "HTTP 429 rate limited", retry_after)
        if response.status_code >= 500:
            raise TransientError(self.venue, endpoint, f"HTTP {response.status_code}", retry_after)
        try:
            body = decode_json(response.content)
        except ValueError:
            snippet = response.text[:80].replace("\n", " ")
            if response.status_code >= 400:
                raise ExchangeError(
                    self.venue, endpoint, f"HTTP {response.status_code}, not JSON: {snippet!r}"
                ) from None
            # A cut-off or garbled 200 body is a transport accident: ask again.
            raise TransientError(self.venue, endpoint, f"unreadable JSON body: {snippet!r}") from None
        if check is not None:
            check(body, response)
        if response.status_code >= 400:
            raise ExchangeError(self.venue, endpoint, f"HTTP {response.status_code}: {str(body)[:200]}")
        return body
