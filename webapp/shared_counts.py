"""A per-client request limit shared by every web process, cheap enough for the public fast path.

Each process counts in memory and, twice a second, adds its new counts to one Redis hash per window
(`HINCRBY`, pipelined: one round trip for all clients) and learns the totals of every process. A
request is refused when the last known total plus what this process counted since then exceeds the
limit. Between two syncs the other processes' latest requests are not yet visible, so N processes can
overshoot by what they admit in one sync interval; with one process the limit is exact.

Redis being down only means the totals stop growing with the other processes' counts: the in-process
limiter in front of this one still applies, so a client never gets more than one process's limit per
process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

SYNC_SECONDS = 0.5
MAX_TRACKED_CLIENTS = 100_000
MAX_WATCHED = 2_000


class SharedRateCounts:
    """Fixed windows of `window` seconds on the wall clock (the same windows on every machine)."""

    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.limit = limit
        self.window = window
        self.failures = 0
        self._clock = clock
        self._window_id = -1
        self._known: dict[str, int] = {}  # totals of all processes at the last sync (ours included)
        self._pending: dict[str, int] = {}  # counted here since the last sync

    def retry_after(self, client: str) -> int | None:
        """None when the request may pass (and count it); else the whole seconds until the window ends."""
        now = self._clock()
        window_id = int(now // self.window)
        if window_id != self._window_id:
            self._known.clear()
            self._pending.clear()
            self._window_id = window_id
        pending = self._pending.get(client, 0)
        if self._known.get(client, 0) + pending >= self.limit:
            return max(1, math.ceil((window_id + 1) * self.window - now))
        if pending or len(self._pending) < MAX_TRACKED_CLIENTS:
            self._pending[client] = pending + 1
        return None

    def key(self, window_id: int) -> str:
        return f"{self.key_prefix}:public-rate:{window_id}"

    async def sync(self) -> None:
        """Add this process's new counts to the shared totals and read the totals back, and those of
        the clients already past half the limit (the only ones another process can push over it)."""
        window_id, pending = self._window_id, self._pending
        watched = [c for c, n in self._known.items() if c not in pending and n * 2 >= self.limit][:MAX_WATCHED]
        if not pending and not watched:
            return
        self._pending = {}
        key = self.key(window_id)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for client, count in pending.items():
                    pipe.hincrby(key, client, count)
                pipe.expire(key, math.ceil(self.window * 2))
                if watched:
                    pipe.hmget(key, watched)
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning("public rate limit: Redis unavailable (%s); counting in this process only", exc)
            replies = None
        if window_id != self._window_id:
            return  # the window ended while we were away: the next window starts from zero
        if replies is None:
            for client, count in pending.items():
                self._known[client] = self._known.get(client, 0) + count
            return
        for client, total in zip(pending, replies, strict=False):
            self._known[client] = int(total)
        for client, total in zip(watched, replies[-1] if watched else [], strict=True):
            self._known[client] = max(self._known.get(client, 0), int(total or 0))

    async def run(self, interval: float = SYNC_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.sync()
