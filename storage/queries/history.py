"""Stored daily volume rolled up into UTC days, ISO weeks (Monday first) or calendar months, with the
facts needed to show completeness: days covered per venue and markets whose history is not stored yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from storage.queries._db import Executor
from storage.queries.checkpoints import DEFAULT_JOB
from storage.queries.records import from_record

Granularity = Literal["daily", "weekly", "monthly"]
GRANULARITIES: tuple[Granularity, ...] = ("daily", "weekly", "monthly")
# PostgreSQL's date_trunc('week') starts weeks on Monday, as ISO 8601 does.
_TRUNC: dict[Granularity, str] = {"daily": "day", "weekly": "week", "monthly": "month"}


@dataclass(frozen=True, slots=True)
class PeriodVenue:
    """One venue's volume over one period, from the days it has stored in that period."""

    exchange: str
    period_start: date
    volume_usd: Decimal
    days_covered: int
    days_incomplete: int
    markets: int
    estimated: bool


_PERIOD_VOLUMES = """
WITH venue_days AS (
    SELECT exchange, date_trunc($3, day::timestamp)::date AS period_start,
           sum(volume_usd) AS volume_usd, count(*)::int AS days_covered,
           (count(*) FILTER (WHERE NOT complete))::int AS days_incomplete,
           bool_or(estimated) AS estimated
    FROM daily_venue_volume
    WHERE day BETWEEN $1 AND $2 AND ($4::text[] IS NULL OR exchange = ANY($4))
    GROUP BY 1, 2
), market_days AS (
    SELECT exchange, date_trunc($3, day::timestamp)::date AS period_start,
           count(DISTINCT symbol)::int AS markets
    FROM daily_market_volume
    WHERE day BETWEEN $1 AND $2 AND ($4::text[] IS NULL OR exchange = ANY($4))
    GROUP BY 1, 2
)
SELECT v.exchange, v.period_start, v.volume_usd, v.days_covered, v.days_incomplete,
       COALESCE(m.markets, 0) AS markets, v.estimated
FROM venue_days AS v
LEFT JOIN market_days AS m USING (exchange, period_start)
ORDER BY v.period_start, v.exchange
"""

# A market's history for a period is pending when its daily backfill has not reached the period's last
# settled day, unless the market was delisted before the period began.
_PENDING_MARKETS = """
SELECT p.period_start, m.exchange, count(*)::int AS pending
FROM unnest($1::date[], $2::date[]) AS p(period_start, cutoff)
JOIN markets AS m
  ON (m.delisted_at IS NULL OR (m.delisted_at AT TIME ZONE 'UTC')::date >= p.period_start)
 AND ($3::text[] IS NULL OR m.exchange = ANY($3))
LEFT JOIN backfill_checkpoints AS c
  ON c.exchange = m.exchange AND c.symbol = m.symbol AND c.job = $4
WHERE c.symbol IS NULL OR c.done_through < p.cutoff
GROUP BY 1, 2
"""


def period_start(day: date, granularity: Granularity) -> date:
    if granularity == "weekly":
        return day - timedelta(days=day.weekday())
    if granularity == "monthly":
        return day.replace(day=1)
    return day


def period_end(start: date, granularity: Granularity) -> date:
    """Last day of the period that begins on `start`."""
    if granularity == "weekly":
        return start + timedelta(days=6)
    if granularity == "monthly":
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return following - timedelta(days=1)
    return start


def periods(start: date, end: date, granularity: Granularity) -> list[tuple[date, date, date]]:
    """(period_start, first_day, last_day) for every period touching start..end; days clipped to it."""
    result = []
    current = period_start(start, granularity)
    while current <= end:
        last = period_end(current, granularity)
        result.append((current, max(current, start), min(last, end)))
        current = last + timedelta(days=1)
    return result


async def select_period_volumes(
    db: Executor, start: date, end: date, granularity: Granularity, exchanges: Sequence[str] | None = None
) -> list[PeriodVenue]:
    """Per venue and period: summed USD, days stored (and still open), distinct markets with data."""
    rows = await db.fetch(
        _PERIOD_VOLUMES, start, end, _TRUNC[granularity], None if exchanges is None else list(exchanges)
    )
    return [from_record(PeriodVenue, row) for row in rows]


async def select_pending_markets(
    db: Executor,
    spans: Sequence[tuple[date, date]],
    exchanges: Sequence[str] | None = None,
    job: str = DEFAULT_JOB,
) -> dict[tuple[date, str], int]:
    """(period_start, exchange) -> markets whose stored history stops before `cutoff` of that span.

    `spans` are (period_start, cutoff) pairs; cutoff is the last settled day the period needs.
    """
    if not spans:
        return {}
    rows = await db.fetch(
        _PENDING_MARKETS,
        [s for s, _ in spans],
        [c for _, c in spans],
        None if exchanges is None else list(exchanges),
        job,
    )
    return {(row["period_start"], row["exchange"]): row["pending"] for row in rows}
