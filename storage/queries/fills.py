"""The `user_fills` and `fill_sync_cursors` tables, and each user's own volume built from them.

Every query takes the owner's user id: a user's volume is never read through anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from core.records import Fill
from storage.queries._db import Executor

Interval = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class OwnCurrent:
    exchange: str
    volume_24h_usd: Decimal
    volume_30d_usd: Decimal
    fills_30d: int


@dataclass(frozen=True, slots=True)
class OwnPeriod:
    period_start: date
    exchange: str
    volume_usd: Decimal
    fills: int
    market_volume_usd: Decimal | None


async def insert_fills(
    db: Executor, user_id: int, exchange: str, credential_id: UUID, fills: Sequence[Fill]
) -> int:
    """Store new fills and return how many were new; ones already stored (same venue fill id) stay."""
    if not fills:
        return 0
    result: str = await db.execute(
        """
        INSERT INTO user_fills (user_id, exchange, fill_id, credential_id, symbol, executed_at, notional_usd)
        SELECT $1, $2, t.fill_id, $3, t.symbol, t.executed_at, t.notional
        FROM unnest($4::text[], $5::text[], $6::timestamptz[], $7::numeric[])
             AS t(fill_id, symbol, executed_at, notional)
        ON CONFLICT (user_id, exchange, fill_id) DO NOTHING
        """,
        user_id,
        exchange,
        credential_id,
        [f.fill_id for f in fills],
        [f.symbol for f in fills],
        [f.executed_at for f in fills],
        [f.notional_usd for f in fills],
    )
    return int(result.split()[-1])


async def select_cursor(db: Executor, credential_id: UUID, stream: str) -> datetime | None:
    value: datetime | None = await db.fetchval(
        "SELECT synced_through FROM fill_sync_cursors WHERE credential_id = $1 AND stream = $2",
        credential_id,
        stream,
    )
    return value


async def upsert_cursor(db: Executor, credential_id: UUID, stream: str, synced_through: datetime) -> None:
    await db.execute(
        """
        INSERT INTO fill_sync_cursors (credential_id, stream, synced_through) VALUES ($1, $2, $3)
        ON CONFLICT (credential_id, stream) DO UPDATE
        SET synced_through = GREATEST(fill_sync_cursors.synced_through, EXCLUDED.synced_through),
            updated_at = now()
        """,
        credential_id,
        stream,
        synced_through,
    )


async def select_own_current(db: Executor, user_id: int, now: datetime) -> list[OwnCurrent]:
    """Rolling 24h and 30 days (what fee tiers use) of the user's fills, per venue."""
    rows = await db.fetch(
        """
        SELECT exchange,
               COALESCE(sum(notional_usd) FILTER (WHERE executed_at > $2::timestamptz - interval '24 hours'), 0) AS d1,
               COALESCE(sum(notional_usd), 0) AS d30,
               count(*) AS n
        FROM user_fills
        WHERE user_id = $1 AND executed_at > $2::timestamptz - interval '30 days' AND executed_at <= $2
        GROUP BY exchange ORDER BY exchange
        """,
        user_id,
        now,
    )
    return [OwnCurrent(r["exchange"], r["d1"], r["d30"], r["n"]) for r in rows]


async def select_market_current(db: Executor) -> dict[str, Decimal]:
    """Each venue's newest rolling-24h market volume (for the user's share of it)."""
    rows = await db.fetch(
        """
        SELECT DISTINCT ON (exchange) exchange, volume_usd
        FROM volume_snapshots ORDER BY exchange, as_of DESC
        """
    )
    return {r["exchange"]: r["volume_usd"] for r in rows}


async def select_own_history(
    db: Executor, user_id: int, start: date, end: date, interval: Interval
) -> list[OwnPeriod]:
    """The user's volume per UTC day, week (from Monday) or month, per venue, with the venue's market
    volume over the same period where it is stored."""
    if interval not in ("day", "week", "month"):
        raise ValueError(f"interval must be day, week or month, not {interval!r}")
    rows = await db.fetch(
        """
        WITH own AS (
            SELECT date_trunc($4, executed_at AT TIME ZONE 'UTC')::date AS period, exchange,
                   sum(notional_usd) AS volume, count(*) AS n
            FROM user_fills
            WHERE user_id = $1 AND executed_at >= $2::date AND executed_at < $3::date + 1
            GROUP BY 1, 2
        ), market AS (
            SELECT date_trunc($4, day)::date AS period, exchange, sum(volume_usd) AS volume
            FROM daily_venue_volume
            WHERE day >= $2 AND day <= $3 AND exchange IN (SELECT exchange FROM own)
            GROUP BY 1, 2
        )
        SELECT own.period, own.exchange, own.volume, own.n, market.volume AS market_volume
        FROM own LEFT JOIN market USING (period, exchange)
        ORDER BY own.period, own.exchange
        """,
        user_id,
        start,
        end,
        interval,
    )
    return [OwnPeriod(r["period"], r["exchange"], r["volume"], r["n"], r["market_volume"]) for r in rows]


async def select_own_total(
    db: Executor, user_id: int, exchange: str | None = None, since: datetime | None = None
) -> Decimal:
    total: Decimal = await db.fetchval(
        """
        SELECT COALESCE(sum(notional_usd), 0) FROM user_fills
        WHERE user_id = $1 AND ($2::text IS NULL OR exchange = $2)
          AND ($3::timestamptz IS NULL OR executed_at >= $3)
        """,
        user_id,
        exchange,
        since,
    )
    return total


async def count_own_fills(db: Executor, user_id: int) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM user_fills WHERE user_id = $1", user_id)
    return count
