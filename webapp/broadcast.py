"""One Redis pub/sub subscription per web process, fanned out to every local live client.

Each client holds one slot, not a queue: every document is complete, so an update a client has not sent
yet is superseded by the next one, and a slow client catches up with the newest without holding anyone
else up (a burst of updates costs one send per client, not one per update). The hub keeps the latest
update so a new (or reconnecting) client gets the current state at once, and the public endpoint can
serve it from memory. If the Redis connection drops, the hub reconnects and re-reads the cached document
to catch up.

Heartbeats come from the hub too: when the feed has been quiet for `heartbeat_seconds`, every client is
handed a `HEARTBEAT` at once. A timer per waiting client (asyncio.timeout around each wait) cost more
than the send itself: with 5,000 clients per process, half the time of an update went to arming and
cancelling timers (bench/scale.py, py-spy).

Documents carry their build order (`seq`, then `judged_at`): one older than the latest is dropped, so
a late delivery never replaces newer figures. With a `judge`, the hub re-judges the latest document every
second and pushes it again when a venue crosses the stale limit (or anything else the judgement says
changes), so clients never keep showing a figure as live after its venue stopped answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.current_volume import is_older, judgement
from core.documents import CurrentVolumeDoc

log = logging.getLogger(__name__)

Listener = Callable[["Update"], None]
Loader = Callable[[], Awaitable[bytes | None]]
# Judges a delivered document again at this moment (stale flags, total); see live_state.rejudge.
Judge = Callable[[CurrentVolumeDoc], CurrentVolumeDoc]

MAX_BACKOFF_SECONDS = 5.0
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Update:
    """One published current-volume document, pre-encoded; derived encodings are built once per update."""

    seq: int
    payload: bytes

    @cached_property
    def doc(self) -> CurrentVolumeDoc:
        value: CurrentVolumeDoc = json.loads(self.payload)
        return value

    @cached_property
    def ws_text(self) -> str:
        return f'{{"type":"volume","seq":{self.seq},"data":{self.payload.decode()}}}'

    @cached_property
    def sse_event(self) -> bytes:
        return b"event: volume\nid: %d\ndata: %s\n\n" % (self.seq, self.payload)


class Heartbeat:
    """What a client is handed when the feed has been quiet for a while (see `Hub.heartbeat_seconds`)."""

    def __repr__(self) -> str:
        return "HEARTBEAT"


HEARTBEAT: Final = Heartbeat()


class Subscription:
    """A client's view of the feed: `next()` gives the newest update not sent yet, a `HEARTBEAT`, or
    None when the stream ends (the hub stopped or drains); `dropped` counts updates superseded unsent."""

    __slots__ = ("_ended", "_heartbeat", "_loop", "_pending", "_waiter", "dropped")

    def __init__(self) -> None:
        # Kept: on Python 3.11 asyncio.get_running_loop() makes a getpid() system call each time.
        self._loop = asyncio.get_running_loop()
        self._pending: Update | None = None
        self._heartbeat = False
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0

    def offer(self, update: Update | None) -> None:
        """Hand over an update (None ends the stream; nothing offered after that counts)."""
        if update is None:
            self._ended = True
        else:
            if self._pending is not None:
                self.dropped += 1
            self._pending = update
        self._wake()

    def beat(self) -> None:
        self._heartbeat = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> Update | Heartbeat | None:
        """The end of the stream, else the newest update waiting, else a due heartbeat; waits for one."""
        while True:
            if self._ended:
                return None
            if (update := self._pending) is not None:
                self._pending, self._heartbeat = None, False
                return update
            if self._heartbeat:
                self._heartbeat = False
                return HEARTBEAT
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class Hub:
    """Subscribes to `channel` and fans each message out to local subscribers and listeners."""

    def __init__(
        self,
        redis_url: str,
        channel: str,
        *,
        client_name: str = "perpvol-web",
        judge: Judge | None = None,
        judge_seconds: float = 1.0,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.redis_url = redis_url
        self.judge = judge
        self.judge_seconds = judge_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._heartbeats: asyncio.Task[None] | None = None
        # When clients were last handed anything (an update or a heartbeat).
        self._last_activity = time.monotonic()
        self.dropped_older = 0
        self._judging: asyncio.Task[None] | None = None
        self.channel = channel
        self.client_name = client_name
        self.latest: Update | None = None
        self.listeners: list[Listener] = []
        self.reconnects = 0
        # Set on SIGTERM: every live client is told to reconnect (elsewhere), new ones at once.
        self.draining = False
        self._subscribers: set[Subscription] = set()
        self._seq = 0
        self._task: asyncio.Task[None] | None = None
        self._loader: Loader | None = None

    async def start(self, loader: Loader, wait_seconds: float = 10.0) -> None:
        """Subscribe, then load the current document with `loader` (after subscribing, so none is missed)."""
        self._loader = loader
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(ready), name="perpvol-broadcast")
        if self.judge is not None:
            self._judging = asyncio.create_task(self._keep_judged(), name="perpvol-rejudge")
        self._heartbeats = asyncio.create_task(self._keep_beating(), name="perpvol-heartbeat")
        try:
            await asyncio.wait_for(asyncio.shield(ready), wait_seconds)
        except TimeoutError:
            # Serve without a live feed for now; the task keeps reconnecting in the background.
            log.warning("live feed: not subscribed after %.0fs; still trying", wait_seconds)

    async def stop(self) -> None:
        for task in (self._task, self._judging, self._heartbeats):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for sub in list(self._subscribers):
            sub.offer(None)

    @property
    def clients(self) -> int:
        """Live clients subscribed in this process."""
        return len(self._subscribers)

    def drain(self) -> None:
        """End every live stream of this process (its clients reconnect to another one)."""
        if not self.draining:
            log.info("live feed: draining %d live clients", len(self._subscribers))
        self.draining = True
        for sub in list(self._subscribers):
            sub.offer(None)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription()
        if self.draining:
            sub.offer(None)
        elif self.latest is not None:
            sub.offer(self.latest)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def publish_local(self, payload: bytes) -> Update | None:
        """Hand a payload to every local subscriber and listener (what a Redis message triggers);
        None when it is older than the latest document (a late delivery), which is dropped."""
        candidate = Update(self._seq + 1, payload)
        if self.latest is not None and _older(candidate, self.latest):
            self.dropped_older += 1
            log.info("live feed: dropped a document older than the latest one")
            return None
        self._seq += 1
        update = candidate
        self.latest = update
        self._last_activity = time.monotonic()
        for sub in self._subscribers:
            sub.offer(update)
        for listener in self.listeners:
            try:
                listener(update)
            except Exception:
                log.exception("broadcast listener failed")
        return update

    async def _keep_beating(self) -> None:
        # Checked four times per period, so a quiet connection carries a heartbeat at most 1.25 periods
        # after its last message; the check is one comparison, the beat one pass over the clients.
        while True:
            await asyncio.sleep(self.heartbeat_seconds / 4)
            self.beat_if_quiet()

    def quiet_for(self) -> float:
        """Seconds since clients were last handed anything."""
        return time.monotonic() - self._last_activity

    def beat_if_quiet(self) -> bool:
        """Hand every client a heartbeat when nothing was sent for `heartbeat_seconds`."""
        now = time.monotonic()
        if now - self._last_activity < self.heartbeat_seconds:
            return False
        self._last_activity = now
        for sub in self._subscribers:
            sub.beat()
        return True

    async def _keep_judged(self) -> None:
        while True:
            await asyncio.sleep(self.judge_seconds)
            try:
                self.rejudge_latest()
            except Exception:
                log.exception("live feed: re-judging the latest document failed")

    def rejudge_latest(self) -> Update | None:
        """Judge the latest document again now; push it when the judgement changed."""
        if self.latest is None or self.judge is None or "exchanges" not in self.latest.doc:
            return None
        judged = self.judge(self.latest.doc)
        if judgement(judged) == judgement(self.latest.doc):
            return None
        return self.publish_local(json.dumps(judged, separators=(",", ":")).encode())

    async def _run(self, ready: asyncio.Future[None]) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen(ready)
            except (RedisError, OSError) as exc:
                log.warning("live feed: Redis connection lost (%s); reconnecting in %.1fs", exc, backoff)
            self.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _listen(self, ready: asyncio.Future[None]) -> None:
        redis = Redis.from_url(self.redis_url, client_name=self.client_name, health_check_interval=15)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            await self._catch_up()
            if not ready.done():
                ready.set_result(None)
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self.publish_local(bytes(message["data"]))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await redis.aclose()

    async def _catch_up(self) -> None:
        if self._loader is None:
            return
        try:
            payload = await self._loader()
        except Exception:
            log.exception("live feed: could not load the current document")
            return
        if payload is not None and (self.latest is None or payload != self.latest.payload):
            self.publish_local(payload)


def _older(update: Update, than: Update) -> bool:
    try:
        doc, other = update.doc, than.doc
    except ValueError:
        return False
    return isinstance(doc, dict) and isinstance(other, dict) and is_older(doc, other)
