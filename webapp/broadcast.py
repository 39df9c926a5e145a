"""One Redis pub/sub subscription per web process, fanned out to every local live client.

Each client owns a small bounded queue: when a slow client's queue is full its oldest update is dropped,
so it catches up with the latest and never holds anyone else up; and a client sends only the newest of the
updates waiting for it. The hub keeps the latest update so a new
(or reconnecting) client gets the current state at once, and the public endpoint can serve it from memory.
If the Redis connection drops, the hub reconnects and re-reads the cached document to catch up.

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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.current_volume import is_older, judgement
from core.documents import CurrentVolumeDoc

log = logging.getLogger(__name__)

Listener = Callable[["Update"], None]
Loader = Callable[[], Awaitable[bytes | None]]
# Judges a delivered document again at this moment (stale flags, total); see live_state.rejudge.
Judge = Callable[[CurrentVolumeDoc], CurrentVolumeDoc]

QUEUE_SIZE = 4
MAX_BACKOFF_SECONDS = 5.0


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


@dataclass(eq=False)
class Subscription:
    """A client's view of the feed: iterate to receive updates; `dropped` counts skipped ones."""

    queue: asyncio.Queue[Update | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: int = 0

    def offer(self, update: Update | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(update)

    async def next(self, within: float | None = None) -> Update | None:
        """The newest update waiting (or the next to come); None when the hub stopped. Raises TimeoutError
        after `within` seconds without one."""
        # Not asyncio.wait_for: on Python 3.11 it wraps the get in a new Task, once per client per
        # update; with 10,000 clients that alone cost ~100 ms per update (bench/scale.py).
        async with asyncio.timeout(within):
            update = await self.queue.get()
        # Every document is complete, so one a client has not sent yet is superseded by a newer one behind
        # it: send only the newest. When updates come in a burst (several venues polled in the same
        # second), each client then writes once instead of once per update, and the last update of the
        # burst reaches 10,000 clients after one pass, not after one pass per update.
        while update is not None and not self.queue.empty():
            update = self.queue.get_nowait()
            self.dropped += 1
        return update


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
    ) -> None:
        self.redis_url = redis_url
        self.judge = judge
        self.judge_seconds = judge_seconds
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
        try:
            await asyncio.wait_for(asyncio.shield(ready), wait_seconds)
        except TimeoutError:
            # Serve without a live feed for now; the task keeps reconnecting in the background.
            log.warning("live feed: not subscribed after %.0fs; still trying", wait_seconds)

    async def stop(self) -> None:
        for task in (self._task, self._judging):
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
        for sub in self._subscribers:
            sub.offer(update)
        for listener in self.listeners:
            try:
                listener(update)
            except Exception:
                log.exception("broadcast listener failed")
        return update

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
