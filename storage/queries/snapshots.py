"""Rolling-24h volume: one snapshot row per venue poll, plus each venue's current per-market figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from core.records import CurrentSnapshot, MarketVolume
from storage.queries._db import Executor, transaction
from storage.queries.records import CurrentMarketRow, SnapshotRow, from_record

_SNAPSHOT_COLUMNS = (
    "id, exchange, as_of, taken_at, volume_usd, markets, estimated, source, time_window, as_of_note"
)

_INSERT_SNAPSHOT = """
INSERT INTO volume_snapshots
    (exchange, as_of, taken_at, volume_usd, markets, estimated, source, time_window, venue_as_of, as_of_note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (exchange, as_of) DO NOTHING
RETURNING id
"""

_INSERT_CURRENT = """
INSERT INTO current_market_volume (exchange, symbol, volume_usd, estimated, as_of)
SELECT $1, t.symbol, t.volume_usd, t.estimated, $2
FROM unnest($3::text[], $4::numeric[], $5::bool[]) AS t(symbol, volume_usd, estimated)
"""


async def insert_snapshot(
    db: Executor,
    snapshot: CurrentSnapshot,
    taken_at: datetime,
    *,
    venue_as_of: datetime | None = None,
    as_of_note: str | None = None,
) -> bool:
    """Store a poll fetched at `taken_at`; False when this venue's snapshot at that `as_of` is already
    stored. `venue_as_of`/`as_of_note`: what the venue's clock said when `as_of` had to be clamped."""
    # A symbol listed twice counts once (the last figure), in the total as in the per-market rows.
    markets = list({m.symbol: m for m in snapshot.markets}.values())
    total = sum((m.volume_usd for m in markets), Decimal(0))
    async with transaction(db) as conn:
        # Pollers of one venue take turns here so the delete-then-insert below never interleaves.
        await conn.execute("SELECT 1 FROM venues WHERE exchange = $1 FOR UPDATE", snapshot.exchange)
        new_id = await conn.fetchval(
            _INSERT_SNAPSHOT,
            snapshot.exchange,
            snapshot.as_of,
            taken_at,
            total,
            len(markets),
            any(m.estimated for m in markets),
            snapshot.source,
            snapshot.window,
            venue_as_of,
            as_of_note,
        )
        if new_id is None:
            return False
        newest = await conn.fetchval(
            "SELECT max(taken_at) FROM volume_snapshots WHERE exchange = $1", snapshot.exchange
        )
        # A poll that lands late still goes into the history but must not replace newer figures.
        # "Newer" is by fetch time: a venue clock running ahead must not pin its answer as current.
        if newest == taken_at:
            await conn.execute("DELETE FROM current_market_volume WHERE exchange = $1", snapshot.exchange)
            await conn.execute(
                _INSERT_CURRENT,
                snapshot.exchange,
                snapshot.as_of,
                [m.symbol for m in markets],
                [m.volume_usd for m in markets],
                [m.estimated for m in markets],
            )
            await _sample_hour(conn, snapshot.exchange, snapshot.as_of, markets)
    return True


# Samples older than this are pruned: "about 24 h ago" needs a day and a bit, two leave room for gaps.
HOURLY_KEEP = timedelta(hours=48)

_INSERT_HOURLY = """
INSERT INTO market_volume_hourly (exchange, hour, symbol, as_of, volume_usd)
SELECT $1, date_trunc('hour', $2::timestamptz), t.symbol, $2, t.volume_usd
FROM unnest($3::text[], $4::numeric[]) AS t(symbol, volume_usd)
"""


async def _sample_hour(conn: Executor, exchange: str, as_of: datetime, markets: list[MarketVolume]) -> None:
    """Keep the first poll of each UTC hour per market (and prune), for the assets' 24 h change."""
    taken = await conn.fetchval(
        """
        SELECT EXISTS (
            SELECT 1 FROM market_volume_hourly WHERE exchange = $1 AND hour = date_trunc('hour', $2::timestamptz)
        )
        """,
        exchange, as_of,
    )
    if taken:
        return
    await conn.execute(_INSERT_HOURLY, exchange, as_of, [m.symbol for m in markets], [m.volume_usd for m in markets])
    await conn.execute(
        "DELETE FROM market_volume_hourly WHERE exchange = $1 AND hour < $2", exchange, as_of - HOURLY_KEEP
    )


async def select_asset_volumes_near(
    db: Executor, at: datetime, tolerance: timedelta
) -> tuple[set[str], dict[tuple[str, str], Decimal]]:
    """Per venue, the latest hourly sample at or before `at` (no older than `tolerance`): the venues that
    have one, and each (venue, asset)'s volume in it. Markets without an asset are left out."""
    rows = await db.fetch(
        """
        WITH chosen AS (
            SELECT exchange, max(hour) AS hour FROM market_volume_hourly
            -- `hour` (indexed) narrows to the samples around `at`; `as_of` decides.
            WHERE hour <= $1 AND hour > $1 - $2::interval - interval '1 hour'
              AND as_of <= $1 AND as_of > $1 - $2::interval
            GROUP BY exchange
        )
        SELECT c.exchange, m.asset, sum(h.volume_usd) AS volume_usd
        FROM chosen AS c
        JOIN market_volume_hourly AS h ON h.exchange = c.exchange AND h.hour = c.hour
        LEFT JOIN markets AS m ON m.exchange = h.exchange AND m.symbol = h.symbol
        GROUP BY c.exchange, m.asset
        """,
        at, tolerance,
    )
    venues = {row["exchange"] for row in rows}
    volumes = {(row["exchange"], row["asset"]): row["volume_usd"] for row in rows if row["asset"] is not None}
    return venues, volumes


async def select_latest_snapshots(db: Executor) -> list[SnapshotRow]:
    """The most recently fetched snapshot of each venue, in venue order."""
    rows = await db.fetch(
        f"""
        SELECT s.* FROM venues AS v
        CROSS JOIN LATERAL (
            SELECT {_SNAPSHOT_COLUMNS} FROM volume_snapshots
            WHERE exchange = v.exchange ORDER BY taken_at DESC, id DESC LIMIT 1
        ) AS s
        ORDER BY v.sort_order
        """
    )
    return [from_record(SnapshotRow, row) for row in rows]


async def select_snapshot_near(db: Executor, exchange: str, at: datetime) -> SnapshotRow | None:
    """The latest snapshot at or before `at` (e.g. 24 h ago, for "change vs yesterday")."""
    row = await db.fetchrow(
        f"""
        SELECT {_SNAPSHOT_COLUMNS} FROM volume_snapshots
        WHERE exchange = $1 AND as_of <= $2 ORDER BY as_of DESC LIMIT 1
        """,
        exchange,
        at,
    )
    return None if row is None else from_record(SnapshotRow, row)




async def select_top_markets(db: Executor, limit: int, exchange: str | None = None) -> list[CurrentMarketRow]:
    """Markets by current rolling-24h USD volume, largest first."""
    rows = await db.fetch(
        """
        SELECT c.exchange, c.symbol, c.volume_usd, c.estimated, c.as_of, m.base, m.quote
        FROM current_market_volume AS c
        LEFT JOIN markets AS m ON m.exchange = c.exchange AND m.symbol = c.symbol
        WHERE $2::text IS NULL OR c.exchange = $2
        ORDER BY c.volume_usd DESC, c.exchange, c.symbol
        LIMIT $1
        """,
        limit,
        exchange,
    )
    return [from_record(CurrentMarketRow, row) for row in rows]
