"""`/public/latest-volume`: the small document every page that embeds the widget fetches.

The hot path touches neither PostgreSQL nor Redis and does no JSON encoding: `PublicFeed` keeps the
response bytes, ETag and headers pre-built, refreshed when the live feed delivers an update (and once a
second, so a venue whose figure ages past the stale limit is flagged even when nothing is published).
`PublicFastPath` answers the path as a bare ASGI callable in front of Quart; the Quart route below serves
the same bytes when the app runs without the wrapper, and carries the OpenAPI documentation.

Cache headers (`max-age=5, stale-while-revalidate=30`, ETag) make it safe to put a CDN in front.
The rate limit is per client address as the ASGI server reports it (run uvicorn with `--proxy-headers`
and `--forwarded-allow-ips` behind a trusted proxy): counted in this process's memory and, across web
processes, in Redis by `webapp.shared_counts` (synced twice a second, off the hot path).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import Blueprint, Response, current_app, request
from quart_schema import document_response

from core.current_volume import public_doc
from core.documents import CurrentVolumeDoc
from storage.current_cache import encode
from webapp.broadcast import Hub, Update
from webapp.errors import ErrorBody
from webapp.shared_counts import SharedRateCounts
from webapp.views.live import LIVE_WS_PATH, StreamCap, serve_websocket

PUBLIC_PATH = "/public/latest-volume"
CACHE_CONTROL = b"public, max-age=5, stale-while-revalidate=30"
RATE_WINDOW_SECONDS = 60.0
MAX_TRACKED_CLIENTS = 100_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]

blueprint = Blueprint("public", __name__)


class PublicVenue(BaseModel):
    exchange: str
    label: str
    volume_usd: str | None = Field(description="Rolling-24h USD volume as a decimal string; null: no figure")
    share: str | None = Field(description="Fraction of total_usd (0..1); null when excluded from the total")
    as_of: str | None = Field(description="The venue's own time of the figure (ISO 8601, UTC)")
    stale: bool = Field(description="Older than the stale limit, or the venue's last poll failed")


class PublicVolume(BaseModel):
    as_of: str | None = Field(description="When the figures were last refreshed (ISO 8601, UTC)")
    seq: int | None = Field(default=None, description="Build order: a larger seq is a newer document")
    data_mode: Literal["real", "simulated"]
    simulated: bool
    window: str = Field(description="Always rolling_24h: each venue's trailing 24 hours")
    unit: str = Field(description="Always USD (USDT/USDC counted as USD)")
    total_usd: str | None = Field(
        description="Sum over the venues that are not stale, as a decimal string; null (never 0) when no "
        "venue counts, with the reason in no_data_reason"
    )
    no_data_reason: str | None = Field(
        default=None, description="Why total_usd is null (e.g. 'cannot reach any exchange'); null otherwise"
    )
    complete: bool = Field(description="False when any venue is left out of the total (see excluded)")
    estimated: bool = Field(description="True when any summed figure had to be derived, not read directly")
    excluded: list[str]
    exchanges: list[PublicVenue]


class RateLimiter:
    """A token bucket per client: `limit` requests at once, refilled at `limit` per `window`. Unlike a
    fixed window (which passed 2 × limit within two seconds across its boundary) no burst ever exceeds
    `limit`. Clients whose bucket has refilled are dropped once per window, so the table stays small."""

    def __init__(self, limit: int, window: float = RATE_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self.rate = limit / window
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._swept_at = 0.0

    def retry_after(self, client: str, now: float) -> int | None:
        """None when the request may pass (and takes a token); else the whole seconds until one is back."""
        if now - self._swept_at >= self.window:
            self._sweep(now)
        tokens, at = self._buckets.get(client, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))
        if len(self._buckets) < MAX_TRACKED_CLIENTS or client in self._buckets:
            self._buckets[client] = (tokens - 1.0, now)
        return None

    def _sweep(self, now: float) -> None:
        self._buckets = {c: (t, at) for c, (t, at) in self._buckets.items() if now - at < self.window}
        self._swept_at = now


class PublicFeed:
    """The pre-built reply of the public endpoint, kept current by the live feed."""

    def __init__(self, stale_seconds: int, rate_limit: int) -> None:
        self.stale_seconds = stale_seconds
        self.limiter = RateLimiter(rate_limit)
        # Set when the app starts with Redis: the same limit counted across every web process.
        self.shared: SharedRateCounts | None = None
        self.doc: CurrentVolumeDoc | None = None
        self.body = b""
        self.etag = b""
        self._updated_at = 0.0
        self._ok_headers: list[tuple[bytes, bytes]] = []
        self._not_modified_headers: list[tuple[bytes, bytes]] = []

    def on_update(self, update: Update) -> None:
        self.doc = update.doc
        self.render()

    def render(self, now: datetime | None = None) -> bool:
        """Rebuild the bytes from the latest document; True when they changed."""
        if self.doc is None:
            return False
        body = encode(public_doc(self.doc, now=now or datetime.now(UTC), stale_seconds=self.stale_seconds))
        if body == self.body:
            return False
        self.body = body
        self.etag = b'"' + hashlib.blake2b(body, digest_size=10).hexdigest().encode() + b'"'
        self._updated_at = time.time()
        common = [(b"etag", self.etag), (b"cache-control", CACHE_CONTROL), *_CORS]
        self._ok_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *common,
        ]
        self._not_modified_headers = common
        return True

    async def keep_fresh(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            self.render()

    def respond(self, method: str, if_none_match: bytes | None, client: str) -> Reply:
        if method == "OPTIONS":
            return 204, [*_CORS, *_PREFLIGHT], b""
        if method not in ("GET", "HEAD"):
            return _error(405, "method_not_allowed", "use GET", [(b"allow", b"GET, HEAD, OPTIONS")])
        wait = self.limiter.retry_after(client, time.monotonic())
        if wait is None and self.shared is not None:
            wait = self.shared.retry_after(client)
        if wait is not None:
            detail = f"more than {self.limiter.limit} requests a minute from {client}; retry in {wait}s"
            return _error(429, "rate_limited", detail, [(b"retry-after", str(wait).encode())])
        if not self.body:
            return _error(503, "unavailable", "no volume figures yet", [(b"retry-after", b"5")])
        if if_none_match is not None and _matches(if_none_match, self.etag):
            return 304, self._not_modified_headers, b""
        return 200, self._ok_headers, b"" if method == "HEAD" else self.body


_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, Retry-After"),
    (b"x-content-type-options", b"nosniff"),
]
_PREFLIGHT = [
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"If-None-Match"),
    (b"access-control-max-age", b"86400"),
]


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    tags = [t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")]
    return b"*" in tags or etag in tags


def _error(status: int, error: str, detail: str, extra: list[tuple[bytes, bytes]]) -> Reply:
    body = encode({"error": error, "detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *_CORS,
        *extra,
    ]
    return status, headers, body


class PublicFastPath:
    """ASGI wrapper: answers `PUBLIC_PATH` from `feed` and the live WebSocket from `hub` itself, and
    passes every other request to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        feed: PublicFeed,
        hub: Hub,
        cap: StreamCap | None = None,
    ):
        self.app = app
        self.feed = feed
        self.hub = hub
        self.cap = cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == LIVE_WS_PATH:
            client = scope.get("client")
            await serve_websocket(self.hub, receive, send, self.cap, client[0] if client else "unknown")
            return
        if scope["type"] != "http" or scope["path"] != PUBLIC_PATH:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        status, headers, body = self.feed.respond(
            scope["method"], _header(scope, b"if-none-match"), client[0] if client else "unknown"
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


@blueprint.get(PUBLIC_PATH)
@document_response(PublicVolume, 200)
@document_response(ErrorBody, 429)
@document_response(ErrorBody, 503)
async def latest_volume() -> Response:
    """Latest rolling-24h USD volume, total and per venue, for embedding (the widget's data).

    Served from memory, never from the database: it stays fast when PostgreSQL is slow or down. A venue
    whose figure is older than the stale limit, or whose last poll failed, is flagged `stale` and left out
    of `total_usd`. CORS is open (`*`); responses carry `Cache-Control: public, max-age=5,
    stale-while-revalidate=30` and an `ETag` (send `If-None-Match` to get 304). Rate limited per client
    address: over the limit the answer is 429 with `Retry-After`.
    """
    feed: PublicFeed = current_app.extensions["public_feed"]
    tag = request.headers.get("If-None-Match")
    status, headers, body = feed.respond(
        request.method, tag.encode() if tag is not None else None, request.remote_addr or "unknown"
    )
    response = Response(body, status=status)
    for key, value in headers:
        response.headers[key.decode()] = value.decode()
    return response
