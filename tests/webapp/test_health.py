"""Probes for orchestrators (`/healthz`, `/readyz`) and the drain that ends live streams on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import asyncpg
import pytest
from quart.testing.connections import WebsocketDisconnectError

from core.settings import Settings
from storage.embedded import free_port
from tests.conftest import make_settings
from tests.webapp.test_live import SseReader, wait_for
from webapp.app import create_app, create_asgi
from webapp.broadcast import Hub
from webapp.views.live import SSE_DRAIN_RETRY_MS, WS_SERVICE_RESTART

WAIT = 5.0


def _down(settings: Settings) -> Settings:
    return make_settings(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/none",
        REDIS_URL=settings.redis_url,
        PERPVOL_REDIS_PREFIX=settings.redis_prefix,
    )


async def test_healthz_answers_without_touching_storage(settings: Settings) -> None:
    app = create_app(_down(settings))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"ok": True}


async def test_readyz_is_ready_when_storage_answers_and_migrations_are_current(
    settings: Settings, db: asyncpg.Pool
) -> None:
    app = create_app(settings)
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
    body = await response.get_json()
    assert response.status_code == 200, body
    assert body["ok"] is True and body["schema_version"] >= 2


async def test_readyz_is_503_when_postgres_is_down(settings: Settings) -> None:
    app = create_app(_down(settings))
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
    body = await response.get_json()
    assert response.status_code == 503
    assert body["error"] == "not_ready" and body["detail"].startswith("PostgreSQL:")


async def test_readyz_is_503_until_the_newest_migration_is_applied(settings: Settings, db: asyncpg.Pool) -> None:
    newest = await db.fetchval("SELECT max(version) FROM schema_migrations")
    await db.execute("DELETE FROM schema_migrations WHERE version = $1", newest)
    app = create_app(settings)
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/readyz")
    body = await response.get_json()
    assert response.status_code == 503
    assert "perpvol migrate" in body["detail"] and f"needs {newest}" in body["detail"]


async def test_readyz_is_503_while_draining(settings: Settings, db: asyncpg.Pool) -> None:
    app = create_app(settings)
    async with app.test_app() as test_app:
        hub: Hub = app.extensions["hub"]
        hub.drain()
        response = await test_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "draining" in (await response.get_json())["detail"]


async def test_drain_ends_sse_streams_with_a_short_retry(settings: Settings, db: asyncpg.Pool) -> None:
    app = create_app(settings)
    async with app.test_app() as test_app:
        hub: Hub = app.extensions["hub"]
        async with test_app.test_client().request("/api/live/sse") as stream:
            await stream.send_complete()
            reader = SseReader(stream)
            await reader.next_event()
            assert hub.clients == 1
            hub.drain()
            retry = f"retry: {SSE_DRAIN_RETRY_MS}\n\n".encode()
            assert await reader.read_until(retry) == retry
            # The stream ended: its subscription is gone (the server then closes the response).
            await wait_for(lambda: hub.clients == 0)
            await stream.disconnect()


async def test_drain_closes_websockets_with_1012_on_both_paths(settings: Settings, db: asyncpg.Pool) -> None:
    wrapped = create_asgi(settings)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with wrapped.app.test_app() as test_app:  # type: ignore[attr-defined]
        await inbox.put({"type": "websocket.connect"})
        scope = {"type": "websocket", "path": "/ws/live-volume", "headers": []}
        served = asyncio.create_task(wrapped(scope, inbox.get, outbox.put))
        assert (await asyncio.wait_for(outbox.get(), WAIT))["type"] == "websocket.accept"
        assert json.loads((await asyncio.wait_for(outbox.get(), WAIT))["text"])["type"] == "volume"
        async with test_app.test_client().websocket("/ws/live-volume") as quart_ws:
            assert json.loads(await asyncio.wait_for(quart_ws.receive(), WAIT))["type"] == "volume"
            wrapped.hub.drain()
            assert await asyncio.wait_for(outbox.get(), WAIT) == {"type": "websocket.close", "code": WS_SERVICE_RESTART}
            with pytest.raises(WebsocketDisconnectError) as closed:
                await asyncio.wait_for(quart_ws.receive(), WAIT)
        assert closed.value.args == (WS_SERVICE_RESTART,)
        await inbox.put({"type": "websocket.disconnect", "code": 1012})
        await asyncio.wait_for(served, WAIT)


async def test_sigterm_drains_and_still_reaches_the_servers_own_handler(settings: Settings, db: asyncpg.Pool) -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        app = create_app(settings)
        async with app.test_app():
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.1)
            assert app.extensions["hub"].draining
            assert seen == [signal.SIGTERM]
        # Once the app stopped, the server's handler is the one in place again.
        assert signal.getsignal(signal.SIGTERM) is not None and not app.extensions["drain"]._previous
    finally:
        signal.signal(signal.SIGTERM, previous)
