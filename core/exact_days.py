"""Exact UTC days from the venues' own rolling-24h figures: the figure read at 00:00 UTC is the day just
ended. Pure functions: which day a snapshot closes (if it was read within one poll interval of a
midnight), how its source is worded, and how far the candle-based estimates were off on such days.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

DAY = timedelta(days=1)


def closed_day(as_of: datetime, poll_seconds: int) -> tuple[date, Decimal] | None:
    """(the UTC day a rolling-24h figure at `as_of` covers, seconds from that midnight), or None when
    `as_of` is more than one poll interval away from any 00:00 UTC."""
    at = as_of.astimezone(UTC)
    midnight = datetime(at.year, at.month, at.day, tzinfo=UTC)
    if at - midnight > timedelta(hours=12):
        midnight += DAY
    offset = Decimal(str((at - midnight).total_seconds()))
    if abs(offset) > poll_seconds:
        return None
    return (midnight - DAY).date(), offset


def exact_source(as_of: datetime) -> str:
    """`rolling 24h at 00:00:07 UTC`: where an exact day's figure came from."""
    return f"rolling 24h at {as_of.astimezone(UTC):%H:%M:%S} UTC"


@dataclass(frozen=True, slots=True)
class DayComparison:
    """One venue's UTC day with both figures: exact (rolling 24h at midnight) and the candle estimate."""

    exchange: str
    day: date
    exact_usd: Decimal
    estimate_usd: Decimal


@dataclass(frozen=True, slots=True)
class EstimateError:
    """How far a venue's estimated days were off, in absolute percent of the exact figure."""

    exchange: str
    days: int
    median_pct: Decimal
    worst_pct: Decimal
    worst_day: date


def error_pct(row: DayComparison) -> Decimal | None:
    if not row.exact_usd:
        return None
    return abs(row.estimate_usd - row.exact_usd) / row.exact_usd * 100


def estimate_errors(rows: Iterable[DayComparison]) -> dict[str, EstimateError]:
    """Per venue: the median and the worst absolute % error over the days with both figures."""
    by_venue: dict[str, list[tuple[Decimal, date]]] = {}
    for row in rows:
        pct = error_pct(row)
        if pct is not None:
            by_venue.setdefault(row.exchange, []).append((pct, row.day))
    result = {}
    for exchange, errors in by_venue.items():
        worst, worst_day = max(errors)
        median = Decimal(statistics.median(pct for pct, _ in errors))
        result[exchange] = EstimateError(
            exchange, len(errors), median.quantize(Decimal("0.01")), worst.quantize(Decimal("0.01")), worst_day
        )
    return result
