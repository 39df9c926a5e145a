"""The historical-volume document: `/api/volume/historical`, its CSV and the History page all show its
periods. Pure functions: the stored per-period rows in, JSON-able periods out.

A venue with missing days or markets whose history is not stored yet makes its period incomplete and is
named in `gaps`; a venue with no stored day at all has `volume_usd: null`, never a silent zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol, TypedDict

from core.venues import VENUES

MAX_RANGE_DAYS = 3660
DEFAULT_RANGE_DAYS = 365
HISTORY_SOURCE = "sum of per-market UTC-day volume (venue daily candles, USD notional)"
# No perpetual-futures venue traded before this; earlier dates can only be typing errors.
EARLIEST_DAY = date(2016, 1, 1)


class QueryProblem(ValueError):
    """A history query that cannot be answered as asked; `code` and `detail` are what the client sees."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class PeriodFigures(Protocol):
    """What storage reports for one venue in one period (storage.queries.history.PeriodVenue)."""

    @property
    def volume_usd(self) -> Decimal: ...
    @property
    def days_covered(self) -> int: ...
    @property
    def days_incomplete(self) -> int: ...
    @property
    def markets(self) -> int: ...
    @property
    def estimated(self) -> bool: ...


class PeriodVenueDoc(TypedDict):
    """One venue in one period (webapp.views.api.HistoryVenue documents the same shape for OpenAPI)."""

    exchange: str
    volume_usd: str | None
    days_covered: int
    days_expected: int
    days_incomplete: int
    markets: int
    markets_pending: int
    estimated: bool
    complete: bool


class PeriodDoc(TypedDict):
    """One period of the document (webapp.views.api.HistoryPeriod for OpenAPI)."""

    period_start: str
    period_end: str
    days_expected: int
    total_usd: str | None
    complete: bool
    gaps: list[str]
    exchanges: list[PeriodVenueDoc]


def money(value: Decimal | None) -> str | None:
    """A decimal string without exponent ("0", "1234.5"), or None."""
    return None if value is None else format(value, "f")


def parse_exchanges(raw: str | None) -> list[str]:
    """The venues of a comma-separated list, in registry order (all of them when empty)."""
    if raw is None or not raw.strip():
        return list(VENUES)
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - set(VENUES))
    if unknown:
        raise QueryProblem("unknown_exchange", f"unknown exchange {', '.join(unknown)}; use {', '.join(VENUES)}")
    return [name for name in VENUES if name in names]


def resolve_range(start_date: date | None, end_date: date | None, today: date) -> tuple[date, date]:
    """The days asked for: default the last 365 through today (UTC), at most MAX_RANGE_DAYS."""
    end = end_date or today
    for name, value in (("start_date", start_date), ("end_date", end)):
        if value is not None and value < EARLIEST_DAY:
            raise QueryProblem("invalid_range", f"{name} {value} is before {EARLIEST_DAY}: no history so early")
    start = start_date or max(EARLIEST_DAY, end - timedelta(days=DEFAULT_RANGE_DAYS - 1))
    if end > today:
        raise QueryProblem("invalid_range", f"end_date {end} is in the future (today is {today}, UTC)")
    if start > end:
        raise QueryProblem("invalid_range", f"start_date {start} is after end_date {end}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise QueryProblem("range_too_large", f"at most {MAX_RANGE_DAYS} days per request; split the range")
    return start, end


def period_document(
    span: tuple[date, date, date],
    exchanges: list[str],
    found: Mapping[tuple[date, str], PeriodFigures],
    pending: Mapping[tuple[date, str], int],
) -> PeriodDoc:
    """One period as `/api/volume/historical` lists it, from the rows found per (period, venue)."""
    key, first, last = span
    expected = (last - first).days + 1
    venues = [_period_venue(found.get((key, name)), name, expected, pending.get((key, name), 0))
              for name in exchanges]
    with_data = [Decimal(v["volume_usd"]) for v in venues if v["volume_usd"] is not None]
    return {
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        "days_expected": expected,
        "total_usd": money(sum(with_data, Decimal(0))) if with_data else None,
        "complete": all(v["complete"] for v in venues),
        "gaps": [v["exchange"] for v in venues if not v["complete"]],
        "exchanges": venues,
    }


def _period_venue(row: PeriodFigures | None, name: str, expected: int, pending: int) -> PeriodVenueDoc:
    covered = row.days_covered if row else 0
    incomplete = row.days_incomplete if row else 0
    return {
        "exchange": name,
        "volume_usd": money(row.volume_usd) if row else None,
        "days_covered": covered,
        "days_expected": expected,
        "days_incomplete": incomplete,
        "markets": row.markets if row else 0,
        "markets_pending": pending,
        "estimated": row.estimated if row else False,
        "complete": covered == expected and incomplete == 0 and pending == 0,
    }
