"""The `markets` table: every perpetual market each venue has listed, delisted ones included."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from core.records import Market
from storage.queries._db import Executor
from storage.queries.records import MarketRow

_UPSERT = """
INSERT INTO markets (exchange, symbol, kind, status, base, quote, extra, first_seen, last_seen, delisted_at)
SELECT $1, t.symbol, t.kind, t.status, t.base, t.quote, t.extra::jsonb, $7::timestamptz, $7,
       CASE WHEN t.status = 'delisted' THEN $7::timestamptz END
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[])
     AS t(symbol, kind, status, base, quote, extra)
ON CONFLICT (exchange, symbol) DO UPDATE SET
    kind = EXCLUDED.kind,
    status = EXCLUDED.status,
    base = EXCLUDED.base,
    quote = EXCLUDED.quote,
    extra = EXCLUDED.extra,
    last_seen = GREATEST(markets.last_seen, EXCLUDED.last_seen),
    -- A relisted market loses its delisted_at; a delisted one keeps the first time it was seen so.
    delisted_at = CASE WHEN EXCLUDED.status = 'delisted'
                       THEN COALESCE(markets.delisted_at, EXCLUDED.delisted_at) END
RETURNING (xmax = 0) AS inserted
"""

_SELECT = """
SELECT exchange, symbol, kind, status, base, quote, extra::text AS extra,
       first_seen, last_seen, delisted_at
FROM markets
WHERE ($1::text IS NULL OR exchange = $1) AND ($2 OR status <> 'delisted')
ORDER BY exchange, symbol
"""


async def upsert_markets(db: Executor, exchange: str, markets: Sequence[Market], seen_at: datetime) -> int:
    """Insert new markets and refresh known ones; return how many were new."""
    if any(m.exchange != exchange for m in markets):
        raise ValueError(f"upsert_markets({exchange!r}) got markets of another exchange")
    # The same symbol twice in one statement would make ON CONFLICT fail; the last one wins.
    markets = list({m.symbol: m for m in markets}.values())
    if not markets:
        return 0
    rows = await db.fetch(
        _UPSERT,
        exchange,
        [m.symbol for m in markets],
        [m.kind for m in markets],
        [m.status for m in markets],
        [m.base for m in markets],
        [m.quote for m in markets],
        seen_at,
        [json.dumps(dict(m.extra)) for m in markets],
    )
    return sum(1 for row in rows if row["inserted"])


async def mark_missing_markets_delisted(
    db: Executor, exchange: str, present_symbols: Sequence[str], at: datetime
) -> list[str]:
    """Mark delisted the markets absent from the venue's current list; return their symbols.

    An empty list is treated as a failed fetch, not as "everything was delisted", and changes nothing.
    """
    if not present_symbols:
        return []
    rows = await db.fetch(
        """
        UPDATE markets SET status = 'delisted', delisted_at = $3
        WHERE exchange = $1 AND status <> 'delisted' AND NOT (symbol = ANY($2::text[]))
        RETURNING symbol
        """,
        exchange,
        list(present_symbols),
        at,
    )
    return sorted(row["symbol"] for row in rows)


async def select_markets(
    db: Executor, exchange: str | None = None, include_delisted: bool = True
) -> list[MarketRow]:
    rows = await db.fetch(_SELECT, exchange, include_delisted)
    return [_market_row(row) for row in rows]


async def count_markets(db: Executor, exchange: str | None = None, include_delisted: bool = True) -> int:
    count = await db.fetchval(
        """
        SELECT count(*) FROM markets
        WHERE ($1::text IS NULL OR exchange = $1) AND ($2 OR status <> 'delisted')
        """,
        exchange,
        include_delisted,
    )
    return cast(int, count)


def _market_row(row: Any) -> MarketRow:
    # extra is selected as text so the result does not depend on the connection's JSON codec.
    values = dict(row.items())
    values["extra"] = json.loads(values["extra"])
    return MarketRow(**values)


async def select_trading_symbols(db: Executor, exchange: str) -> set[str]:
    """Symbols the registry last saw trading on `exchange` (what a whole current answer must hold)."""
    rows = await db.fetch(
        "SELECT symbol FROM markets WHERE exchange = $1 AND status = 'trading'", exchange
    )
    return {row["symbol"] for row in rows}
