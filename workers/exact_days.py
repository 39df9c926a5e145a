"""Exact days from the rolling-24h polls: the snapshot nearest 00:00 UTC (within one poll interval) is
kept as the figure of the UTC day just ended, for every venue and market; for the venues whose daily
history is estimated from candles it replaces the estimate, which stays beside it."""

from __future__ import annotations

from core.exact_days import closed_day
from core.records import CurrentSnapshot, Exchange
from storage.queries import exact_days
from storage.queries._db import Executor

# Hyperliquid's days are base volume × typical price and Paradex's are candles of an undocumented unit
# (README, "Where every number comes from"); Bybit's and WOO X's candles give exact USD already.
EXACT_PREFERRED: frozenset[Exchange] = frozenset({"hyperliquid", "paradex"})


async def record_midnight(db: Executor, snapshot: CurrentSnapshot, poll_seconds: int) -> bool:
    """Store `snapshot` as the day just ended when it is the nearest to midnight so far."""
    found = closed_day(snapshot.as_of, poll_seconds)
    if found is None:
        return False
    day, offset = found
    markets = list({m.symbol: m.volume_usd for m in snapshot.markets}.items())
    if not await exact_days.record_midnight(db, snapshot.exchange, day, snapshot.as_of, offset, markets):
        return False
    if snapshot.exchange in EXACT_PREFERRED:
        await exact_days.apply_exact_day(db, snapshot.exchange, day, snapshot.as_of, markets)
    return True
