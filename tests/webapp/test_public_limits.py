"""Public surfaces under load from one client: `/public/latest-volume` has a token bucket (no double burst
at a window edge, see test_public.py), and live streams (SSE and WebSocket) are capped per client
address, released when a stream ends."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from core.settings import Settings
from webapp.app import create_app, create_asgi
from webapp.views.live import StreamCap

WAIT = 5.0


def test_stream_cap_counts_per_client_and_frees_on_release() -> None:
    cap = StreamCap(2)
    assert cap.acquire("a") and cap.acquire("a")
    assert not cap.acquire("a")
    assert cap.acquire("b")
    cap.release("a")
    assert cap.acquire("a")


async def test_sse_beyond_the_per_client_cap_answers_429(settings: Settings, db: asyncpg.Pool) -> None:
    app = create_app(settings.model_copy(update={"live_streams_per_client": 3}))
    async with app.test_app():
        cap: StreamCap = app.extensions["stream_cap"]
        for _ in range(3):
            assert cap.acquire("<local>")  # what the test client's address reads as
        refused = await app.test_client().get("/api/live/sse")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "30"
        assert (await refused.get_json())["error"] == "too_many_streams"
        cap.release("<local>")
        async with app.test_client().request("/api/live/sse") as conn:
            await conn.send_complete()
            assert b"retry:" in await asyncio.wait_for(conn.receive(), WAIT)
            assert not cap.acquire("<local>")  # the open stream holds the freed place
            await conn.disconnect()


async def _handshake(
    wrapped: Any, client: tuple[str, int]
) -> tuple[dict[str, Any], asyncio.Queue[dict[str, Any]], asyncio.Task[None]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "websocket.connect"})
    scope = {"type": "websocket", "path": "/ws/live-volume", "headers": [], "client": client}
    served = asyncio.create_task(wrapped(scope, inbox.get, outbox.put))
    return await asyncio.wait_for(outbox.get(), WAIT), inbox, served


async def test_fast_path_websockets_beyond_the_cap_are_refused_at_the_handshake(
    settings: Settings, db: asyncpg.Pool
) -> None:
    wrapped = create_asgi(settings.model_copy(update={"live_streams_per_client": 2}))
    async with wrapped.app.test_app():  # type: ignore[attr-defined]
        opened = [await _handshake(wrapped, ("198.51.100.4", n)) for n in range(2)]
        assert [first["type"] for first, _, _ in opened] == ["websocket.accept"] * 2
        refused, _, task = await _handshake(wrapped, ("198.51.100.4", 9))
        assert refused == {"type": "websocket.close", "code": 1008}
        await asyncio.wait_for(task, WAIT)
        other, inbox, served = await _handshake(wrapped, ("203.0.113.5", 1))
        assert other["type"] == "websocket.accept"  # another address is not affected
        for _, box, task in [*opened, (other, inbox, served)]:
            await box.put({"type": "websocket.disconnect", "code": 1000})
            await asyncio.wait_for(task, WAIT)
        again, inbox, served = await _handshake(wrapped, ("198.51.100.4", 10))
        assert again["type"] == "websocket.accept"  # places are released when streams end
        await inbox.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(served, WAIT)
