"""Per-market and per-venue USD volume per UTC day.

`daily_venue_volume` is always recomputed from `daily_market_volume` for the days a write touched, so
re-fetching a day (a revision, a retried job) replaces figures and never double-counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast

from core.records import DailyVolume
from storage.queries._db import Executor, transaction
from storage.queries.records import DayBounds, MarketDay, VenueDay, from_record

# Advisory-lock class for "daily rollup of one exchange" (objid = hashtext(exchange)).
DAILY_LOCK_CLASS = 0x70766431

# Callers pass the exchanges sorted, so two multi-venue writers lock in the same order (no deadlock).
_LOCK_EXCHANGES = "SELECT pg_advisory_xact_lock($1, hashtext(e)) FROM unnest($2::text[]) AS e"

_UPSERT_MARKET_DAYS = """
INSERT INTO daily_market_volume
    (exchange, symbol, day, volume_usd, source, estimated, complete, fetched_at)
SELECT t.exchange, t.symbol, t.day, t.volume_usd, t.source, t.estimated, t.complete, $8
FROM unnest($1::text[], $2::text[], $3::date[], $4::numeric[], $5::text[], $6::bool[], $7::bool[])
     AS t(exchange, symbol, day, volume_usd, source, estimated, complete)
ON CONFLICT (exchange, symbol, day) DO UPDATE SET
    volume_usd = EXCLUDED.volume_usd,
    source = EXCLUDED.source,
    estimated = EXCLUDED.estimated,
    complete = EXCLUDED.complete,
    fetched_at = EXCLUDED.fetched_at
"""

_RECOMPUTE_VENUE_DAYS = """
INSERT INTO daily_venue_volume (exchange, day, volume_usd, markets, estimated, complete, updated_at)
SELECT d.exchange, d.day, sum(d.volume_usd), count(*), bool_or(d.estimated), bool_and(d.complete), $3
FROM daily_market_volume AS d
JOIN unnest($1::text[], $2::date[]) AS t(exchange, day) ON d.exchange = t.exchange AND d.day = t.day
GROUP BY d.exchange, d.day
ON CONFLICT (exchange, day) DO UPDATE SET
    volume_usd = EXCLUDED.volume_usd,
    markets = EXCLUDED.markets,
    estimated = EXCLUDED.estimated,
    complete = EXCLUDED.complete,
    updated_at = EXCLUDED.updated_at
"""


async def upsert_daily_volumes(db: Executor, rows: Sequence[DailyVolume], fetched_at: datetime) -> int:
    """Store per-market day rows and refresh the venue totals of the touched days; return rows written."""
    # One statement may not update the same key twice; a later row for the same market-day wins.
    unique = list({(r.exchange, r.symbol, r.day): r for r in rows}.values())
    if not unique:
        return 0
    pairs = sorted({(r.exchange, r.day) for r in unique})
    async with transaction(db) as conn:
        # Writers of the same exchange take turns, so each recompute sees the others' committed rows
        # (otherwise two backfill workers could each sum without the other's market and lose it).
        await conn.execute(_LOCK_EXCHANGES, DAILY_LOCK_CLASS, sorted({e for e, _ in pairs}))
        await conn.execute(
            _UPSERT_MARKET_DAYS,
            [r.exchange for r in unique],
            [r.symbol for r in unique],
            [r.day for r in unique],
            [r.volume_usd for r in unique],
            [r.source for r in unique],
            [r.estimated for r in unique],
            [r.complete for r in unique],
            fetched_at,
        )
        await conn.execute(_RECOMPUTE_VENUE_DAYS, [e for e, _ in pairs], [d for _, d in pairs], fetched_at)
    return len(unique)


async def select_venue_daily(
    db: Executor, start: date, end: date, exchanges: Sequence[str] | None = None
) -> list[VenueDay]:
    """Venue totals for start..end inclusive, oldest first."""
    rows = await db.fetch(
        """
        SELECT exchange, day, volume_usd, markets, estimated, complete
        FROM daily_venue_volume
        WHERE day BETWEEN $1 AND $2 AND ($3::text[] IS NULL OR exchange = ANY($3))
        ORDER BY day, exchange
        """,
        start,
        end,
        None if exchanges is None else list(exchanges),
    )
    return [from_record(VenueDay, row) for row in rows]


async def select_market_daily(
    db: Executor, exchange: str, symbol: str, start: date, end: date
) -> list[MarketDay]:
    rows = await db.fetch(
        """
        SELECT exchange, symbol, day, volume_usd, source, estimated, complete, fetched_at
        FROM daily_market_volume
        WHERE exchange = $1 AND symbol = $2 AND day BETWEEN $3 AND $4
        ORDER BY day
        """,
        exchange,
        symbol,
        start,
        end,
    )
    return [from_record(MarketDay, row) for row in rows]


async def select_daily_bounds(db: Executor) -> dict[str, DayBounds]:
    """First and last stored day per exchange (exchanges without history are absent)."""
    rows = await db.fetch(
        """
        SELECT exchange, min(day) AS first_day, max(day) AS last_day
        FROM daily_venue_volume GROUP BY exchange ORDER BY exchange
        """
    )
    return {row["exchange"]: from_record(DayBounds, row) for row in rows}


async def count_daily_rows(db: Executor, exchange: str | None = None) -> int:
    """Number of per-market day rows (of one exchange, or all)."""
    count = await db.fetchval(
        "SELECT count(*) FROM daily_market_volume WHERE $1::text IS NULL OR exchange = $1", exchange
    )
    return cast(int, count)
