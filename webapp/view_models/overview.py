"""The Overview's view model: the current-volume document (built in core.current_volume), the top markets
with their share of the total, and the share donut.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

import asyncpg

from core.documents import CurrentVolumeDoc
from core.history import money
from core.settings import Settings
from core.venues import LABELS
from storage.current_cache import serve_current
from storage.queries import snapshots
from webapp import charts
from webapp.broadcast import Hub

TOP_MARKETS = 10


class TopMarketRow(TypedDict):
    exchange: str
    label: str
    symbol: str
    base: str | None
    quote: str | None
    volume_usd: str | None
    estimated: bool
    share: str | None  # of the current total, 0..1


class OverviewContext(TypedDict):
    """What `pages/overview.html` and each region's partial render."""

    doc: CurrentVolumeDoc
    top_markets: list[TopMarketRow]
    share_spec: dict[str, Any]  # the Vega-Lite donut


async def current_doc(pool: asyncpg.Pool, settings: Settings, hub: Hub) -> CurrentVolumeDoc:
    """The current-volume document from PostgreSQL, else the latest one the live feed delivered,
    judged again now."""
    return await serve_current(pool, settings, hub.latest.doc if hub.latest else None)


async def overview_context(pool: asyncpg.Pool, doc: CurrentVolumeDoc) -> OverviewContext:
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
