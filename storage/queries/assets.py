"""Markets grouped by their underlying asset: the mapping stored on `markets`, the current rolling-24h
figures per asset, and an asset's daily history rolled up into periods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.asset_mapping import AssetMapping, map_market
from core.records import Market
from storage.queries._db import Executor
from storage.queries.checkpoints import DEFAULT_JOB
from storage.queries.dashboard import LaggingMarket
from storage.queries.history import Granularity, PeriodVenue
from storage.queries.records import from_record


@dataclass(frozen=True, slots=True)
class CurrentAssetMarket:
    """One market's current rolling-24h figure with its asset (None: unmapped or not listed)."""

    exchange: str
    symbol: str
    volume_usd: Decimal
    estimated: bool
    as_of: datetime
    kind: str | None
    quote: str | None
    asset: str | None
    asset_multiplier: Decimal | None
    asset_reason: str | None


@dataclass(frozen=True, slots=True)
class UnmappedMarket:
    exchange: str
    symbol: str
    base: str | None
    reason: str
    volume_usd: Decimal | None


# PostgreSQL's date_trunc('week') starts weeks on Monday, as ISO 8601 does.
_TRUNC: dict[Granularity, str] = {"daily": "day", "weekly": "week", "monthly": "month"}

_ASSIGN = """
UPDATE markets AS m SET asset = t.asset, asset_multiplier = t.multiplier, asset_status = t.status,
                        asset_reason = t.reason
FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::text[])
     AS t(exchange, symbol, asset, multiplier, status, reason)
WHERE m.exchange = t.exchange AND m.symbol = t.symbol
"""


async def _store(db: Executor, mappings: Sequence[AssetMapping]) -> None:
    if mappings:
        await db.execute(
            _ASSIGN,
            [m.exchange for m in mappings],
            [m.symbol for m in mappings],
            [m.asset for m in mappings],
            [m.multiplier for m in mappings],
            [m.status for m in mappings],
            [m.reason for m in mappings],
        )


async def assign_assets(db: Executor, exchange: str, markets: Sequence[Market]) -> list[AssetMapping]:
    """Store the asset of each listed market (already upserted into `markets`); return the mappings."""
    mappings = [map_market(m.exchange, m.symbol, m.base) for m in markets if m.exchange == exchange]
    await _store(db, mappings)
    return mappings


async def assign_unclassified(db: Executor) -> int:
    """Classify stored markets that predate the asset columns, or that the venue no longer lists."""
    rows = await db.fetch("SELECT exchange, symbol, base FROM markets WHERE asset_status IS NULL")
    await _store(db, [map_market(row["exchange"], row["symbol"], row["base"]) for row in rows])
    return len(rows)


async def select_current_markets(db: Executor, exchanges: Sequence[str] | None = None) -> list[CurrentAssetMarket]:
    """Every market's current rolling-24h figure with its stored asset, largest first."""
    rows = await db.fetch(
        """
        SELECT c.exchange, c.symbol, c.volume_usd, c.estimated, c.as_of, m.kind, m.quote,
               m.asset, m.asset_multiplier,
               CASE WHEN m.symbol IS NULL THEN 'not in the venue''s market list'
                    WHEN m.asset_status IS NULL THEN 'not classified yet'
                    ELSE m.asset_reason END AS asset_reason
        FROM current_market_volume AS c
        LEFT JOIN markets AS m ON m.exchange = c.exchange AND m.symbol = c.symbol
        WHERE $1::text[] IS NULL OR c.exchange = ANY($1)
        ORDER BY c.volume_usd DESC, c.exchange, c.symbol
        """,
        None if exchanges is None else list(exchanges),
    )
    # Columns in field order, built positionally: a row per market of every venue, and by-name costs more.
    return [CurrentAssetMarket(*row) for row in rows]


async def select_unmapped(db: Executor) -> list[UnmappedMarket]:
    """Markets without an asset: unmapped names, and symbols with figures but no market-list entry."""
    rows = await db.fetch(
        """
        SELECT m.exchange, m.symbol, m.base, COALESCE(m.asset_reason, 'not classified yet') AS reason,
               c.volume_usd
        FROM markets AS m
        LEFT JOIN current_market_volume AS c USING (exchange, symbol)
        WHERE m.asset IS NULL
        UNION ALL
        SELECT c.exchange, c.symbol, NULL, 'not in the venue''s market list', c.volume_usd
        FROM current_market_volume AS c
        WHERE NOT EXISTS (SELECT 1 FROM markets AS m WHERE m.exchange = c.exchange AND m.symbol = c.symbol)
        ORDER BY volume_usd DESC NULLS LAST, exchange, symbol
        """
    )
    return [from_record(UnmappedMarket, row) for row in rows]


async def asset_exists(db: Executor, asset: str) -> bool:
    found = await db.fetchval("SELECT EXISTS (SELECT 1 FROM markets WHERE asset = $1)", asset)
    return bool(found)


async def select_asset_markets(db: Executor, asset: str) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT exchange, symbol FROM markets WHERE asset = $1 ORDER BY exchange, symbol", asset
    )
    return [(row["exchange"], row["symbol"]) for row in rows]


_ASSET_PERIODS = """
SELECT d.exchange, date_trunc($4, d.day::timestamp)::date AS period_start,
       sum(d.volume_usd) AS volume_usd, count(DISTINCT d.day)::int AS days_covered,
       count(DISTINCT d.day) FILTER (WHERE NOT d.complete)::int AS days_incomplete,
       count(DISTINCT d.symbol)::int AS markets, bool_or(d.estimated) AS estimated
FROM markets AS m
JOIN daily_market_volume AS d ON d.exchange = m.exchange AND d.symbol = m.symbol
WHERE m.asset = $1 AND d.day BETWEEN $2 AND $3 AND m.exchange = ANY($5::text[])
GROUP BY 1, 2
ORDER BY 2, 1
"""

# A day holds one row per market, so daily periods need no DISTINCT (the costly part over two years).
_ASSET_DAYS = """
SELECT d.exchange, d.day AS period_start, sum(d.volume_usd) AS volume_usd, 1 AS days_covered,
       (CASE WHEN bool_and(d.complete) THEN 0 ELSE 1 END) AS days_incomplete,
       count(*)::int AS markets, bool_or(d.estimated) AS estimated
FROM markets AS m
JOIN daily_market_volume AS d ON d.exchange = m.exchange AND d.symbol = m.symbol
WHERE m.asset = $1 AND d.day BETWEEN $2 AND $3 AND m.exchange = ANY($4::text[])
GROUP BY 1, 2
ORDER BY 2, 1
"""

_ASSET_LAGGING = """
SELECT m.exchange, m.symbol, c.done_through, (m.delisted_at AT TIME ZONE 'UTC')::date AS delisted_on
FROM markets AS m
LEFT JOIN backfill_checkpoints AS c ON c.exchange = m.exchange AND c.symbol = m.symbol AND c.job = $3
WHERE m.asset = $1 AND (c.symbol IS NULL OR c.done_through < $2) AND m.exchange = ANY($4::text[])
"""


async def select_asset_period_volumes(
    db: Executor, asset: str, start: date, end: date, granularity: Granularity, exchanges: Sequence[str]
) -> list[PeriodVenue]:
    """Per venue and period, the asset's markets summed: USD, days with data, distinct markets with data."""
    if granularity == "daily":
        rows = await db.fetch(_ASSET_DAYS, asset, start, end, list(exchanges))
    else:
        rows = await db.fetch(_ASSET_PERIODS, asset, start, end, _TRUNC[granularity], list(exchanges))
    # Columns in field order, built positionally: two years of days are thousands of rows.
    return [PeriodVenue(*row) for row in rows]


async def select_asset_lagging(
    db: Executor, asset: str, through: date, exchanges: Sequence[str]
) -> list[LaggingMarket]:
    """The asset's markets whose daily history is not stored through `through` (see
    `dashboard.pending_by_period` for which periods they leave incomplete)."""
    rows = await db.fetch(_ASSET_LAGGING, asset, through, DEFAULT_JOB, list(exchanges))
    return [from_record(LaggingMarket, row) for row in rows]


@dataclass(frozen=True, slots=True)
class AssetPeriod:
    asset: str
    period_start: date
    volume_usd: Decimal


async def select_assets_periods(
    db: Executor, names: Sequence[str], start: date, end: date, granularity: Granularity
) -> list[AssetPeriod]:
    """Several assets' USD per period over every venue (for comparing them on one chart)."""
    rows = await db.fetch(
        """
        SELECT m.asset, date_trunc($4, d.day::timestamp)::date AS period_start, sum(d.volume_usd) AS volume_usd
        FROM markets AS m
        JOIN daily_market_volume AS d ON d.exchange = m.exchange AND d.symbol = m.symbol
        WHERE m.asset = ANY($1::text[]) AND d.day BETWEEN $2 AND $3
        GROUP BY 1, 2
        ORDER BY 2, 1
        """,
        list(names), start, end, _TRUNC[granularity],
    )
    return [AssetPeriod(*row) for row in rows]


async def select_known_assets(db: Executor, names: Sequence[str]) -> list[str]:
    rows = await db.fetch("SELECT DISTINCT asset FROM markets WHERE asset = ANY($1::text[])", list(names))
    return sorted(row["asset"] for row in rows)
