"""Live feeds through a real Redis: every web process gets every update; slow clients never block."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from exchanges.base import CurrentSnapshot, MarketVolume
from storage.current_cache import live_channel, refresh_current
from storage.queries import snapshots
from tests.live_support import next_update
from webapp.app import create_app, create_asgi
from webapp.broadcast import HEARTBEAT, Hub, Update
from webapp.views.live import sse_event

WAIT = 5.0


async def store_snapshot(db: asyncpg.Pool, exchange: str, usd: str) -> None:
    now = datetime.now(UTC)
    snap = CurrentSnapshot(
        exchange,  # type: ignore[arg-type]
        as_of=now,
        source="test",
        markets=(MarketVolume("BTC", Decimal(usd)),),
    )
    await snapshots.insert_snapshot(db, snap, taken_at=now)


async def receive_volume(ws: Any) -> dict[str, Any]:
    """The next `volume` message of a test websocket, skipping heartbeats."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.receive(), WAIT))
        if message["type"] == "volume":
            return message


async def test_two_web_processes_both_receive_one_published_update(
    settings: Settings, db: asyncpg.Pool, redis: Any
) -> None:
    first, second = create_app(settings), create_app(settings)
    async with first.test_app() as app_one, second.test_app() as app_two:
        async with (
            app_one.test_client().websocket("/ws/live-volume") as ws_one,
            app_two.test_client().websocket("/ws/live-volume") as ws_two,
        ):
            # Each connection gets the state at once (built from PostgreSQL at start-up: nothing yet).
            assert (await receive_volume(ws_one))["data"]["total_usd"] is None
            assert (await receive_volume(ws_two))["data"]["total_usd"] is None
            await store_snapshot(db, "paradex", "77.7")
            await refresh_current(db, redis, settings)
            for ws in (ws_one, ws_two):
                assert (await receive_volume(ws))["data"]["total_usd"] == "77.7"


async def test_sse_sends_latest_at_once_then_each_update(
    settings: Settings, db: asyncpg.Pool, redis: Any
) -> None:
    app = create_app(settings)
    async with app.test_app() as test_app:
        async with test_app.test_client().request("/api/live/sse") as conn:
            await conn.send_complete()
            stream = SseReader(conn)
            first = await stream.next_event()
            assert first["event"] == "volume" and json.loads(first["data"])["window"] == "rolling_24h"
            await store_snapshot(db, "bybit", "5")
            await refresh_current(db, redis, settings)
            update = await stream.next_event()
            assert json.loads(update["data"])["total_usd"] == "5"
            assert int(update["id"]) > int(first["id"])
            await conn.disconnect()


async def test_sse_response_is_an_unbuffered_event_stream(settings: Settings, db: asyncpg.Pool) -> None:
    app = create_app(settings)
    async with app.test_app() as test_app:
        async with test_app.test_client().request("/api/live/sse") as conn:
            await conn.send_complete()
            await SseReader(conn).next_event()
            assert conn.status_code == 200
            assert conn.headers is not None and conn.headers["Content-Type"].startswith("text/event-stream")
            assert conn.headers["Cache-Control"] == "no-cache"
            await conn.disconnect()


async def test_heartbeats_when_nothing_happens(settings: Settings, db: asyncpg.Pool) -> None:
    app = create_app(settings)
    app.config["PERPVOL_HEARTBEAT_SECONDS"] = 0.05
    async with app.test_app() as test_app:
        async with test_app.test_client().websocket("/ws/live-volume") as ws:
            await receive_volume(ws)
            assert json.loads(await asyncio.wait_for(ws.receive(), WAIT)) == {"type": "heartbeat"}
        async with test_app.test_client().request("/api/live/sse") as conn:
            await conn.send_complete()
            reader = SseReader(conn)
            await reader.next_event()
            assert b": heartbeat" in await reader.read_until(b": heartbeat\n\n")
            await conn.disconnect()


async def test_reconnecting_client_gets_the_latest_state_at_once(
    settings: Settings, db: asyncpg.Pool, redis: Any
) -> None:
    app = create_app(settings)
    async with app.test_app() as test_app:
        await store_snapshot(db, "woox", "3.5")
        await refresh_current(db, redis, settings)
        hub: Hub = app.extensions["hub"]
        await wait_for(lambda: hub.latest is not None and b'"3.5"' in hub.latest.payload)
        async with test_app.test_client().websocket("/ws/live-volume") as ws:
            assert (await receive_volume(ws))["data"]["total_usd"] == "3.5"


async def test_slow_client_skips_to_latest_and_never_blocks_others(settings: Settings, redis: Any) -> None:
    hub = Hub(settings.redis_url or "", live_channel(settings))
    await hub.start(no_document)
    try:
        async with hub.subscribe() as slow, hub.subscribe() as fast:
            received = []
            for n in range(20):
                await redis.publish(live_channel(settings), json.dumps({"n": n}))
                update = await next_update(fast)
                assert update is not None
                received.append(update.doc["n"])
            assert received == list(range(20))
            # The slow client never read: it holds only the newest update, the 19 before it superseded.
            newest = await next_update(slow)
            assert newest is not None and newest.doc == {"n": 19} and slow.dropped == 19
    finally:
        await hub.stop()


async def test_a_client_behind_by_several_updates_sends_only_the_newest(settings: Settings) -> None:
    hub = Hub(settings.redis_url or "", live_channel(settings))
    async with hub.subscribe() as sub:
        for n in range(3):
            hub.publish_local(json.dumps({"n": n}).encode())
        update = await next_update(sub)
        assert update is not None and update.doc == {"n": 2} and sub.dropped == 2
        hub.publish_local(b'{"n":3}')
        update = await next_update(sub)
        assert update is not None and update.doc == {"n": 3} and sub.dropped == 2


async def test_a_quiet_feed_hands_each_client_one_heartbeat_and_an_update_wins_over_it(
    settings: Settings,
) -> None:
    hub = Hub(settings.redis_url or "", live_channel(settings), heartbeat_seconds=3600)
    async with hub.subscribe() as waiting, hub.subscribe() as behind:
        hub.publish_local(b'{"n":1}')
        assert await next_update(waiting) is not None
        assert hub.beat_if_quiet() is False  # something was sent just now
        hub.heartbeat_seconds = 0
        assert hub.beat_if_quiet() is True
        assert await asyncio.wait_for(waiting.next(), WAIT) is HEARTBEAT
        # `behind` never sent n=1: the update is what it sends, not the heartbeat as well.
        update = await asyncio.wait_for(behind.next(), WAIT)
        assert isinstance(update, Update) and update.doc == {"n": 1}
        for sub in (waiting, behind):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(sub.next(), 0.05)


async def test_on_either_redis_a_hub_delivers_a_published_update_then_beats_when_quiet(
    each_redis_url: str, redis_prefix: str
) -> None:
    """Redis 7 here and the embedded Redis 6.2 a new user gets: the hub's own heartbeat reaches a client."""
    channel = f"{redis_prefix}:live"
    hub = Hub(each_redis_url, channel, heartbeat_seconds=0.2)
    publisher = aioredis.Redis.from_url(each_redis_url)
    await hub.start(no_document)
    try:
        async with hub.subscribe() as sub:
            await wait_for_subscriber(publisher, channel)
            await publisher.publish(channel, b'{"n":1}')
            update = await next_update(sub)
            assert update is not None and update.doc == {"n": 1}
            assert await asyncio.wait_for(sub.next(), WAIT) is HEARTBEAT
    finally:
        await hub.stop()
        await publisher.aclose()


async def test_a_stop_behind_an_update_still_ends_the_client(settings: Settings) -> None:
    hub = Hub(settings.redis_url or "", live_channel(settings))
    async with hub.subscribe() as sub:
        hub.publish_local(b'{"n":1}')
        hub.drain()
        assert await next_update(sub) is None


async def test_hub_reconnects_when_redis_drops_the_connection(settings: Settings, redis: Any) -> None:
    name = f"hub-{settings.redis_prefix}"
    hub = Hub(settings.redis_url or "", live_channel(settings), client_name=name)
    await hub.start(no_document)
    try:
        async with hub.subscribe() as sub:
            clients = [c for c in await redis.client_list() if c.get("name") == name]
            assert clients
            for client in clients:
                await redis.execute_command("CLIENT", "KILL", "ID", client["id"])
            await wait_for(lambda: hub.reconnects >= 1)
            await wait_for_subscriber(redis, live_channel(settings))
            await redis.publish(live_channel(settings), b'{"after":"reconnect"}')
            update = await next_update(sub)
            assert update is not None and update.doc == {"after": "reconnect"}
    finally:
        await hub.stop()


def test_sse_event_splits_multiline_data_for_html_partials() -> None:
    assert sse_event("panel", "<p>\n1</p>", 7) == b"event: panel\nid: 7\ndata: <p>\ndata: 1</p>\n\n"


# ---- helpers ----


async def no_document() -> bytes | None:
    return None


async def wait_for(condition: Any) -> None:
    async with asyncio.timeout(WAIT):
        # the hub offers no event for this
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def wait_for_subscriber(redis: Any, channel: str) -> None:
    async with asyncio.timeout(WAIT):
        # Redis is polled; there is nothing to await
        while not (await redis.pubsub_numsub(channel))[0][1]:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


class SseReader:
    """Parses events out of a Quart test connection's body chunks."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.buffer = b""

    async def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self.buffer += await asyncio.wait_for(self.conn.receive(), WAIT)
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker

    async def next_event(self) -> dict[str, str]:
        while True:
            block = (await self.read_until(b"\n\n")).decode().strip()
            fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
            if "event" in fields:
                return fields



async def test_asgi_fast_path_websocket_gets_latest_then_updates_and_ends_on_disconnect(
    settings: Settings, db: asyncpg.Pool, redis: Any
) -> None:
    wrapped = create_asgi(settings)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with wrapped.app.test_app():  # type: ignore[attr-defined]
        await inbox.put({"type": "websocket.connect"})
        scope = {"type": "websocket", "path": "/ws/live-volume", "headers": []}
        served = asyncio.create_task(wrapped(scope, inbox.get, outbox.put))
        assert (await asyncio.wait_for(outbox.get(), WAIT))["type"] == "websocket.accept"
        first = json.loads((await asyncio.wait_for(outbox.get(), WAIT))["text"])
        assert first["type"] == "volume" and first["data"]["total_usd"] is None
        await store_snapshot(db, "hyperliquid", "9")
        await refresh_current(db, redis, settings)
        update = json.loads((await asyncio.wait_for(outbox.get(), WAIT))["text"])
        assert update["data"]["total_usd"] == "9" and update["seq"] > first["seq"]
        await inbox.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(served, WAIT)
