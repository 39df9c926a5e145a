"""Venue rate limits shared by every worker process through Redis.

A venue limits per IP (public data) or per key/account (private data), not per process: three workers
with their own token bucket send three times the budget. `SharedRateLimiter` keeps one GCRA state per
venue and scope in Redis and decides atomically in a Lua script on Redis' own clock, so any number of
processes on any machines share one budget. A throttle answer seen by one process (a `Retry-After`, a
ban) writes a pause-until that every process honours.

When Redis does not answer, the in-process `RateLimiter` takes over (one process's budget, as before),
and Redis is tried again after a short back-off.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exchanges.http import RateLimiter

log = logging.getLogger("perpvol.ratelimit")

# GCRA (generic cell rate algorithm): the bucket is one number, the theoretical arrival time (TAT).
# KEYS[1] TAT in ms, KEYS[2] pause-until in ms. ARGV: ms per unit of weight, burst tolerance in ms,
# weight. Returns 0 when granted, else the ms to wait before asking again. Redis' TIME is the one
# clock, so skewed machine clocks cannot widen the budget. Scripts that read TIME and then write are
# replicated by effect (default since Redis 5), so this runs on 6.2 and 7 alike.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return paused - now
end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = interval * tonumber(ARGV[3])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local new_tat = tat + cost
local allow_at = new_tat - tolerance
if allow_at > now then
  return math.ceil(allow_at - now)
end
redis.call('SET', KEYS[1], string.format('%d', math.ceil(new_tat)), 'PX', math.ceil(new_tat - now) + 1000)
return 0
"""

# KEYS[1] pause-until in ms; ARGV[1] pause length in ms. Only ever moves the pause later.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], string.format('%d', until_ms), 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms
"""

# How long one Redis call may take before this request falls back to the local bucket, and how long
# the limiter then stays local before trying Redis again.
REDIS_TIMEOUT = 1.0
RETRY_REDIS_AFTER = 5.0


def limit_key(prefix: str, venue: str, scope: str) -> str:
    return f"{prefix}:ratelimit:{venue}:{scope}"


def account_scope(api_key: str) -> str:
    """A per-key scope that does not put the key itself into Redis."""
    return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


class SharedRateLimiter(RateLimiter):
    """A `RateLimiter` whose bucket lives in Redis (same `acquire` / `pause` as the local one)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate, capacity, clock=clock)
        self.redis = redis
        self.key = key
        self.pause_key = f"{key}:pause"
        self.fallbacks = 0
        self._pending: asyncio.Task[int | None] | None = None
        self._local_until = 0.0
        self._acquire_script = redis.register_script(_ACQUIRE)
        self._pause_script = redis.register_script(_PAUSE)

    async def acquire(self, weight: float = 1.0) -> None:
        weight = min(weight, self.capacity)
        while True:
            wait_ms = await self._shared(
                self._acquire_script,
                [self.key, self.pause_key],
                [1000.0 / self.rate, 1000.0 * self.capacity / self.rate, weight],
            )
            if wait_ms is None:
                await super().acquire(weight)
                return
            if wait_ms <= 0:
                return
            await asyncio.sleep(wait_ms / 1000)

    def pause(self, seconds: float) -> None:
        """Pause this process at once, and every other process through Redis (in the background)."""
        super().pause(seconds)
        task = asyncio.get_running_loop().create_task(
            self._shared(self._pause_script, [self.pause_key], [int(seconds * 1000)])
        )
        # Keep a reference so the task is not collected before it ran.
        self._pending = task

    async def pause_everywhere(self, seconds: float) -> None:
        """`pause`, waiting until the other processes can see it."""
        super().pause(seconds)
        await self._shared(self._pause_script, [self.pause_key], [int(seconds * 1000)])

    async def _shared(self, script: Any, keys: list[str], args: list[float | int]) -> int | None:
        """The script's answer, or None when Redis is unavailable (then the local bucket decides)."""
        if self._clock() < self._local_until:
            return None
        try:
            result = await asyncio.wait_for(script(keys=keys, args=args), REDIS_TIMEOUT)
        except (TimeoutError, RedisError, OSError) as exc:
            self.fallbacks += 1
            self._local_until = self._clock() + RETRY_REDIS_AFTER
            log.warning(
                "rate limit %s: Redis unavailable (%s); using this process's own limit for %gs",
                self.key,
                exc or type(exc).__name__,
                RETRY_REDIS_AFTER,
            )
            return None
        return int(result)
