"""Live feeds, both fed by this process's `Hub` (one Redis subscription, see webapp/broadcast.py).

- `/ws/live-volume`: WebSocket; each message is `{"type": "volume", "seq": n, "data": <current doc>}`,
  and `{"type": "heartbeat"}` when nothing happened for a while.
- `/api/live/sse`: server-sent events `volume` carrying the current doc, with heartbeat comments.

A client gets the latest document as soon as it connects (so a reconnect catches up at once); a slow
client skips to the newest update instead of holding the others up. `event_stream` is the hook for
other SSE feeds (e.g. the dashboard's HTML partials): give it a function from an update to SSE bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel
from quart import Blueprint, Quart, Response, current_app, request, websocket
from quart_schema import document_response

from webapp.broadcast import Heartbeat, Hub, Subscription, Update
from webapp.errors import error_response

blueprint = Blueprint("live", __name__)

SSE_RETRY_MS = 3000
# When this process drains: reconnect soon, to whichever process the balancer picks now.
SSE_DRAIN_RETRY_MS = 500
WS_SERVICE_RESTART = 1012
WS_HEARTBEAT = '{"type":"heartbeat"}'
POLICY_VIOLATION = 1008

# Renders one update as SSE bytes; may be async (e.g. HTML partials rendered by Jinja).
EventRenderer = Callable[[Update], bytes | Awaitable[bytes]]
Message = MutableMapping[str, Any]
LIVE_WS_PATH = "/ws/live-volume"


class EventStream(BaseModel):
    """`text/event-stream`: `event: volume` / `id: n` / `data: <current-volume JSON>` blocks, and
    `: heartbeat` comment lines."""

    media_type: ClassVar[str] = "text/event-stream"
    # One event as an SSE reader sees it (OpenAPI 3.1: the schema of a `text/event-stream` response
    # describes each event). Comments and the opening `retry:` block carry no data and are no events.
    event_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": "volume"},
            "id": {"type": "string", "pattern": "^[0-9]+$", "description": "Increases with every update"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "description": "The current-volume document, as GET /api/volume/current returns it",
            },
            "retry": {"type": "integer", "minimum": 0},
        },
    }


def _hub() -> Hub:
    hub: Hub = current_app.extensions["hub"]
    return hub


@dataclass
class _Rendered:
    seq: int = -1
    payload: bytes = b""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def render_once(app: Quart, name: str, update: Update, render: Callable[[], Awaitable[bytes]]) -> bytes:
    """The SSE bytes `render` makes of an update, rendered once per update in this process (under a lock,
    so a burst of clients waits for one rendering) and shared by every client of the stream `name`."""
    cache: _Rendered = app.extensions.setdefault(name, _Rendered())
    async with cache.lock:
        if cache.seq != update.seq:
            cache.seq, cache.payload = update.seq, await render()
        return cache.payload


def sse_event(event: str, data: str, event_id: int | None = None) -> bytes:
    """One SSE event; multi-line data (an HTML partial) becomes several `data:` lines."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return ("\n".join(lines) + "\n\n").encode()


def volume_event(update: Update) -> bytes:
    """The `volume` event with the current document as JSON (encoded once per update, for all clients)."""
    return update.sse_event


async def event_stream(hub: Hub, render: EventRenderer) -> AsyncIterator[bytes]:
    """SSE bytes for every update of `hub` rendered by `render`, with a comment line as heartbeat."""
    yield f"retry: {SSE_RETRY_MS}\n\n".encode()
    async with hub.subscribe() as sub:
        while True:
            update = await sub.next()
            if isinstance(update, Heartbeat):
                yield b": heartbeat\n\n"
                continue
            if update is None:
                if hub.draining:
                    yield f"retry: {SSE_DRAIN_RETRY_MS}\n\n".encode()
                return
            event = render(update)
            yield await event if inspect.isawaitable(event) else event


class StreamCap:
    """Open live streams (SSE and WebSocket) per client address in this process: each holds a
    subscription and buffers, so one client opening thousands would exhaust memory for everyone."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, client: str) -> bool:
        held = self._open.get(client, 0)
        if held >= self.limit:
            return False
        self._open[client] = held + 1
        return True

    def release(self, client: str) -> None:
        held = self._open.get(client, 0) - 1
        if held > 0:
            self._open[client] = held
        else:
            self._open.pop(client, None)


def stream_cap() -> StreamCap:
    cap: StreamCap = current_app.extensions["stream_cap"]
    return cap


async def _held(stream: AsyncIterator[bytes], cap: StreamCap, client: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        cap.release(client)


def too_many_streams(limit: int) -> Response:
    return error_response(
        429,
        "too_many_streams",
        f"at most {limit} live streams per client address; close one (e.g. another tab) first",
        {"Retry-After": "30"},
    )


def sse_response(render: EventRenderer) -> Response:
    """A streaming `text/event-stream` response of `render`ed updates (never times out), or a 429 when
    this client address already holds its share of live streams."""
    cap, client = stream_cap(), request.remote_addr or "unknown"
    if not cap.acquire(client):
        return too_many_streams(cap.limit)
    response = Response(
        _held(event_stream(_hub(), render), cap, client),
        mimetype="text/event-stream",
        # Public data: the embeddable widget on other sites listens to this stream too.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Access-Control-Allow-Origin": "*"},
    )
    response.timeout = None
    return response


@blueprint.get("/api/live/sse")
@document_response(EventStream, 200)
async def live_sse() -> Response:
    """Server-sent events: `volume` events carrying the current-volume document (as in
    `/api/volume/current`), the latest one at once on connect, then one per update; `: heartbeat`
    comments every 15 s keep proxies from closing the stream.
    """
    return sse_response(volume_event)


@blueprint.websocket(LIVE_WS_PATH)
async def live_websocket() -> None:
    """WebSocket: `{"type":"volume","seq":n,"data":{...}}` per update (the latest at once on connect),
    `{"type":"heartbeat"}` after 15 s without one."""
    cap, client = stream_cap(), websocket.remote_addr or "unknown"
    if not cap.acquire(client):
        await websocket.close(POLICY_VIOLATION)  # before accept: the handshake is refused
        return
    try:
        await websocket.accept()
        async with _hub().subscribe() as sub:
            while True:
                update = await sub.next()
                if isinstance(update, Heartbeat):
                    await websocket.send(WS_HEARTBEAT)
                    continue
                if update is None:
                    await websocket.close(WS_SERVICE_RESTART if _hub().draining else 1001)
                    return
                await websocket.send(update.ws_text)
    finally:
        cap.release(client)


async def serve_websocket(
    hub: Hub,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
    cap: StreamCap | None = None,
    client: str = "unknown",
) -> None:
    """The same feed as `live_websocket`, spoken in raw ASGI (no per-message framework work), for the
    fast path in front of Quart: with 10,000 clients every microsecond per send counts."""
    if (await receive())["type"] != "websocket.connect":
        return
    if cap is not None and not cap.acquire(client):
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    try:
        await send({"type": "websocket.accept"})
        async with hub.subscribe() as sub:
            watcher = asyncio.create_task(_until_disconnect(receive, sub))
            try:
                await _send_updates(sub, send)
                if hub.draining:
                    with contextlib.suppress(Exception):  # the client may be gone already
                        await send({"type": "websocket.close", "code": WS_SERVICE_RESTART})
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
    finally:
        if cap is not None:
            cap.release(client)


async def _until_disconnect(receive: Callable[[], Awaitable[Message]], sub: Subscription) -> None:
    while (await receive())["type"] != "websocket.disconnect":
        pass
    sub.offer(None)


async def _send_updates(sub: Subscription, send: Callable[[Message], Awaitable[None]]) -> None:
    while True:
        update = await sub.next()
        if update is None:
            return
        text = WS_HEARTBEAT if isinstance(update, Heartbeat) else update.ws_text
        try:
            await send({"type": "websocket.send", "text": text})
        except Exception:  # the client went away mid-send; the server reports it in its own way
            return
