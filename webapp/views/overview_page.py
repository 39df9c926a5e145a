"""The overview's view model: the current document, its regions, and their server-sent updates.

Each region has a stable id and one partial that renders it, both in the full page and in updates; the
live stream (`/live/overview`) renders every region once per update and shares the bytes with all clients.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from quart import Quart

from core.documents import CurrentVolumeDoc
from core.history import money
from core.settings import Settings
from core.venues import LABELS
from storage.current_cache import serve_current
from storage.queries import snapshots
from webapp import charts
from webapp.broadcast import Hub, Update
from webapp.views.live import sse_event

TOP_MARKETS = 10
OVERVIEW_REGIONS = {
    "total": "partials/_total.html",
    "venues": "partials/_venues.html",
    "share": "partials/_share.html",
    "top-markets": "partials/_top_markets.html",
}


async def current_doc(pool: asyncpg.Pool, settings: Settings, hub: Hub) -> CurrentVolumeDoc:
    """The current-volume document from PostgreSQL, else the latest one the live feed delivered,
    judged again now."""
    return await serve_current(pool, settings, hub.latest.doc if hub.latest else None)


async def overview_context(pool: asyncpg.Pool, doc: CurrentVolumeDoc) -> dict[str, Any]:
    try:
        markets = await snapshots.select_top_markets(pool, TOP_MARKETS)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        markets = []
    total = Decimal(doc["total_usd"]) if doc["total_usd"] is not None else None
    return {
        "doc": doc,
        "top_markets": [
            {
                "exchange": m.exchange,
                "label": LABELS.get(m.exchange, m.exchange),
                "symbol": m.symbol,
                "base": m.base,
                "quote": m.quote,
                "volume_usd": money(m.volume_usd),
                "estimated": m.estimated,
                "share": money(m.volume_usd / total) if total else None,
            }
            for m in markets
        ],
        "share_spec": charts.share_chart(doc),
    }


@dataclass
class _RenderedUpdate:
    seq: int = -1
    payload: bytes = b""
    lock: asyncio.Lock | None = None


async def render_overview_events(app: Quart, update: Update) -> bytes:
    """SSE events (one per overview region) for an update; rendered once and shared by all clients."""
    cache: _RenderedUpdate = app.extensions.setdefault("overview_events", _RenderedUpdate(lock=asyncio.Lock()))
    assert cache.lock is not None
    async with cache.lock:
        if cache.seq != update.seq:
            context = await overview_context(app.extensions["pool"], update.doc)
            parts = []
            for name, path in OVERVIEW_REGIONS.items():
                html = await app.jinja_env.get_template(path).render_async(**context)
                parts.append(sse_event(name, html.strip()))
            cache.seq, cache.payload = update.seq, b"".join(parts)
        return cache.payload
