"""Reads for the dashboard pages, which must render in a few milliseconds with years of history.

The API's period query (`history.select_period_volumes`) counts distinct markets from the per-market
day rows, which costs ~100 ms over a year; the pages read the per-venue day totals instead (a few
thousand rows) and take `markets` as the largest daily count in the period. Pending backfill is worked
out in Python from the few markets whose backfill lags (`select_lagging_markets`), with the same rule
as `history.select_pending_markets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from storage.queries._db import Executor
from storage.queries.checkpoints import DEFAULT_JOB
from storage.queries.history import Granularity, PeriodVenue
from storage.queries.records import from_record

_TRUNC: dict[Granularity, str] = {"daily": "day", "weekly": "week", "monthly": "month"}

_PERIOD_TOTALS = """
SELECT exchange, date_trunc($3, day::timestamp)::date AS period_start,  -- PeriodVenue's field order
       sum(volume_usd) AS volume_usd, count(*)::int AS days_covered,
       (count(*) FILTER (WHERE NOT complete))::int AS days_incomplete,
       max(markets)::int AS markets, bool_or(estimated) AS estimated
FROM daily_venue_volume
WHERE day BETWEEN $1 AND $2 AND exchange = ANY($4::text[])
GROUP BY 1, 2
ORDER BY 2, 1
"""

# Daily periods are the stored rows themselves: no grouping (same columns, same order).
_DAY_TOTALS = """
SELECT exchange, day AS period_start, volume_usd, 1 AS days_covered,
       (CASE WHEN complete THEN 0 ELSE 1 END) AS days_incomplete, markets, estimated
FROM daily_venue_volume
WHERE day BETWEEN $1 AND $2 AND exchange = ANY($3::text[])
ORDER BY 2, 1
"""

_LAGGING = """
SELECT m.exchange, m.symbol, c.done_through, (m.delisted_at AT TIME ZONE 'UTC')::date AS delisted_on
FROM markets AS m
LEFT JOIN backfill_checkpoints AS c ON c.exchange = m.exchange AND c.symbol = m.symbol AND c.job = $2
WHERE (c.symbol IS NULL OR c.done_through < $1) AND m.exchange = ANY($3::text[])
"""

_STORED_DAYS = """
SELECT exchange, day FROM daily_venue_volume WHERE day BETWEEN $1 AND $2 AND complete
"""


@dataclass(frozen=True, slots=True)
class LaggingMarket:
    """A market whose daily history is not stored through the day asked about."""

    exchange: str
    symbol: str
    done_through: date | None
    delisted_on: date | None

    def pending_for(self, period_start: date, cutoff: date) -> bool:
        """Same rule as `history.select_pending_markets`."""
        listed = self.delisted_on is None or self.delisted_on >= period_start
        return listed and (self.done_through is None or self.done_through < cutoff)


async def select_period_totals(
    db: Executor, start: date, end: date, granularity: Granularity, exchanges: Sequence[str]
) -> list[PeriodVenue]:
    """Per venue and period, from the per-venue day totals; `markets` is the period's largest day count."""
    if granularity == "daily":
        rows = await db.fetch(_DAY_TOTALS, start, end, list(exchanges))
    else:
        rows = await db.fetch(_PERIOD_TOTALS, start, end, _TRUNC[granularity], list(exchanges))
    # Columns in field order, built positionally: thousands of rows, and by-name costs ~3x as much.
    return [PeriodVenue(*row) for row in rows]


async def select_lagging_markets(
    db: Executor, through: date, exchanges: Sequence[str], job: str = DEFAULT_JOB
) -> list[LaggingMarket]:
    """Markets (delisted ones included) whose backfill has not reached `through`."""
    rows = await db.fetch(_LAGGING, through, job, list(exchanges))
    return [from_record(LaggingMarket, row) for row in rows]


@dataclass(frozen=True, slots=True)
class Completeness:
    """How many UTC days of a window are complete for one venue."""

    days_complete: int
    days_expected: int


async def select_completeness(
    db: Executor, start: date, end: date, exchanges: Sequence[str], job: str = DEFAULT_JOB
) -> dict[str, Completeness]:
    """exchange -> complete UTC days in start..end. A day is complete only when the venue's total is
    stored and every market listed that day is stored too: none whose backfill stops before that day,
    unless it was delisted before it (the rule of `history.select_pending_markets`). A venue total made
    of 50 of its 120 markets is not a complete day. Status page, /api/exchanges and `perpvol status`."""
    rows = await db.fetch(_STORED_DAYS, start, end)
    complete: dict[str, set[date]] = {name: set() for name in exchanges}
    for row in rows:
        if row["exchange"] in complete:
            complete[row["exchange"]].add(row["day"])
    for market in await select_lagging_markets(db, end, exchanges, job):
        days = complete[market.exchange]
        first = start if market.done_through is None else max(start, market.done_through + timedelta(days=1))
        last = end if market.delisted_on is None else min(end, market.delisted_on)
        day = first
        while day <= last:
            days.discard(day)
            day += timedelta(days=1)
    expected = (end - start).days + 1 if end >= start else 0
    return {name: Completeness(len(days), expected) for name, days in complete.items()}


def pending_by_period(
    lagging: Sequence[LaggingMarket], spans: Sequence[tuple[date, date]]
) -> dict[tuple[date, str], int]:
    """(period_start, exchange) -> pending markets, for (period_start, cutoff) spans."""
    counts: dict[tuple[date, str], int] = {}
    for market in lagging:
        for period_start, cutoff in spans:
            if market.pending_for(period_start, cutoff):
                key = (period_start, market.exchange)
                counts[key] = counts.get(key, 0) + 1
    return counts
