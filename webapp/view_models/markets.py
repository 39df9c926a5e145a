"""The Markets page's view model: every perp market's 24h volume and its share of all listed markets'
volume, sorted, filtered by venue, searched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict
from urllib.parse import urlencode

import asyncpg

from core.current_volume import EXCHANGES
from core.history import money
from core.venues import LABELS
from storage.queries import snapshots
from storage.queries.records import CurrentMarketRow
from webapp.view_models.page_args import choice

MARKET_SORTS = ("volume", "market", "venue")
# Every market with a current figure: shares are of all of them, whatever the filter shows.
ALL_MARKETS = 100_000


@dataclass(frozen=True)
class MarketsState:
    """What the markets table shows; all of it lives in the URL."""

    sort: str
    direction: str
    exchange: str
    q: str

    def query(self, **changes: str) -> str:
        params = {"sort": self.sort, "dir": self.direction, "exchange": self.exchange, "q": self.q}
        params.update(changes)
        return urlencode({k: v for k, v in params.items() if v})

    def sort_query(self, column: str) -> str:
        """The link of a column header: sort by it, or flip the direction when it is already sorted."""
        flipped = "asc" if self.direction == "desc" else "desc"
        first = "desc" if column == "volume" else "asc"
        return self.query(sort=column, dir=flipped if column == self.sort else first)

    def aria_sort(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "ascending" if self.direction == "asc" else "descending"


def parse_markets_state(args: Any) -> MarketsState:
    return MarketsState(
        sort=choice(args.get("sort"), MARKET_SORTS, "volume"),
        direction=choice(args.get("dir"), ("asc", "desc"), "desc"),
        exchange=choice(args.get("exchange"), EXCHANGES, ""),
        q=(args.get("q") or "").strip()[:40],
    )


class MarketRow(TypedDict):
    exchange: str
    label: str
    symbol: str
    base: str
    quote: str
    volume: Decimal  # the sort key
    volume_usd: str | None
    estimated: bool
    share: str | None  # of all listed markets' 24h volume, 0..1


class MarketsContext(TypedDict):
    """What `pages/markets.html` and `partials/_markets_table.html` render."""

    state: MarketsState
    rows: list[MarketRow]
    total_usd: str
    market_count: int


async def markets_context(pool: asyncpg.Pool, state: MarketsState) -> MarketsContext:
    """The table for the state in the URL, from every market's latest figure."""
    markets = await snapshots.select_top_markets(pool, ALL_MARKETS)
    rows, total = market_rows(markets, state)
    return {"state": state, "rows": rows, "total_usd": total, "market_count": len(markets)}


def market_rows(markets: list[CurrentMarketRow], state: MarketsState) -> tuple[list[MarketRow], str]:
    """Rows matching the filter, sorted; shares are of all listed markets' 24h volume."""
    total = sum((m.volume_usd for m in markets), Decimal(0))
    needle = state.q.lower()
    rows: list[MarketRow] = [
        {
            "exchange": m.exchange,
            "label": LABELS.get(m.exchange, m.exchange),
            "symbol": m.symbol,
            "base": m.base or "",
            "quote": m.quote or "",
            "volume": m.volume_usd,
            "volume_usd": money(m.volume_usd),
            "estimated": m.estimated,
            "share": money(m.volume_usd / total) if total else None,
        }
        for m in markets
        if (not state.exchange or m.exchange == state.exchange)
        and (not needle or needle in m.symbol.lower() or needle in (m.base or "").lower())
    ]
    keys: dict[str, Callable[[MarketRow], Any]] = {
        "volume": lambda r: (r["volume"], r["symbol"]),
        "market": lambda r: (r["symbol"].lower(), r["exchange"]),
        "venue": lambda r: (EXCHANGES.index(r["exchange"]), -r["volume"]),
    }
    rows.sort(key=keys[state.sort], reverse=state.direction == "desc")
    return rows, money(total) or "0"
