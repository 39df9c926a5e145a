"""Midnight snapshots (the rolling-24h figures read nearest 00:00 UTC) and the exact days made of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from core.exact_days import DayComparison, exact_source
from core.records import DailyVolume, Exchange
from storage.queries import daily
from storage.queries._db import Executor, transaction
from storage.queries.records import from_record

# The nearer snapshot to midnight wins; a farther one arriving later (a retried poll) changes nothing.
_RECORD = """
INSERT INTO midnight_snapshots (exchange, day, as_of, offset_seconds, volume_usd, markets)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (exchange, day) DO UPDATE SET
    as_of = EXCLUDED.as_of, offset_seconds = EXCLUDED.offset_seconds,
    volume_usd = EXCLUDED.volume_usd, markets = EXCLUDED.markets
WHERE abs(EXCLUDED.offset_seconds) < abs(midnight_snapshots.offset_seconds)
RETURNING exchange
"""

_MARKETS = """
INSERT INTO midnight_market_volume (exchange, symbol, day, volume_usd)
SELECT $1, t.symbol, $2, t.volume_usd FROM unnest($3::text[], $4::numeric[]) AS t(symbol, volume_usd)
"""


async def record_midnight(
    db: Executor,
    exchange: str,
    day: date,
    as_of: datetime,
    offset_seconds: Decimal,
    markets: Sequence[tuple[str, Decimal]],
) -> bool:
    """Keep this snapshot as the figure of `day` when it is the nearest to midnight so far."""
    async with transaction(db) as conn:
        total = sum((volume for _, volume in markets), Decimal(0))
        won = await conn.fetchval(_RECORD, exchange, day, as_of, offset_seconds, total, len(markets))
        if won is None:
            return False
        await conn.execute("DELETE FROM midnight_market_volume WHERE exchange = $1 AND day = $2", exchange, day)
        await conn.execute(_MARKETS, exchange, day, [s for s, _ in markets], [v for _, v in markets])
    return True


async def apply_exact_day(
    db: Executor, exchange: Exchange, day: date, as_of: datetime, markets: Sequence[tuple[str, Decimal]]
) -> int:
    """Make `day` exact for these markets: the estimate moves to `estimate_usd`, the midnight figure
    becomes the day's volume (the venue total is recomputed). Markets without trading are left out,
    as the candles leave out days without trading."""
    traded = [(s, v) for s, v in markets if v > 0]
    if not traded:
        return 0
    symbols = [s for s, _ in traded]
    rows = [DailyVolume(exchange, s, day, v, exact_source(as_of), estimated=False, complete=True) for s, v in traded]
    async with transaction(db) as conn:
        await conn.execute(
            """
            UPDATE daily_market_volume SET estimate_usd = volume_usd
            WHERE exchange = $1 AND day = $2 AND symbol = ANY($3::text[]) AND estimated AND exact_at IS NULL
            """,
            exchange, day, symbols,
        )
        await daily.upsert_daily_volumes(conn, rows, as_of)
        await conn.execute(
            """
            UPDATE daily_market_volume SET exact_at = $3
            WHERE exchange = $1 AND day = $2 AND symbol = ANY($4::text[])
            """,
            exchange, day, as_of, symbols,
        )
    return len(rows)


async def select_day_comparisons(db: Executor, since: date | None = None) -> list[DayComparison]:
    """Per venue and day: the exact figure and the estimate, summed over the markets that have both."""
    rows = await db.fetch(
        """
        SELECT exchange, day, sum(volume_usd) AS exact_usd, sum(estimate_usd) AS estimate_usd
        FROM daily_market_volume
        WHERE exact_at IS NOT NULL AND estimate_usd IS NOT NULL AND ($1::date IS NULL OR day >= $1)
        GROUP BY exchange, day
        ORDER BY exchange, day
        """,
        since,
    )
    return [from_record(DayComparison, row) for row in rows]


async def select_midnight_days(db: Executor, exchange: str) -> list[tuple[date, datetime, Decimal]]:
    rows = await db.fetch(
        "SELECT day, as_of, offset_seconds FROM midnight_snapshots WHERE exchange = $1 ORDER BY day", exchange
    )
    return [(row["day"], row["as_of"], row["offset_seconds"]) for row in rows]
