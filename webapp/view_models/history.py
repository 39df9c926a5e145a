"""The History page's view model: the state in its URL, the period documents, the chart, and the figures
above the table (the range's total, each venue's total and share, the incomplete periods).

The periods are shaped like the API's (`/api/volume/historical`) but come from the fast page reads in
`storage.queries.dashboard`, so two years of days render within the page budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypedDict, cast
from urllib.parse import urlencode

import asyncpg

from core.current_volume import EXCHANGES
from core.history import MAX_RANGE_DAYS, PeriodDoc, money, period_document
from storage.queries import daily, history
from storage.queries import dashboard as dash
from webapp import charts
from webapp.view_models.page_args import choice, parse_day

PRESETS = {"30d": 30, "90d": 90, "1y": 365, "2y": 730}
RANGES = (*PRESETS, "all", "custom")


@dataclass(frozen=True)
class HistoryState:
    """What the history page shows; all of it lives in the URL."""

    range: str
    start: date
    end: date
    granularity: history.Granularity
    scale: charts.Scale
    view: charts.View
    exchanges: list[str]
    error: str | None = None

    def query(self, **changes: str) -> str:
        params = {
            "range": self.range,
            "granularity": self.granularity,
            "scale": self.scale,
            "view": self.view,
        }
        if self.range == "custom":
            params.update(start=self.start.isoformat(), end=self.end.isoformat())
        if list(self.exchanges) != list(EXCHANGES):
            params["exchange"] = ",".join(self.exchanges)
        params.update(changes)
        return urlencode(params)

    def api_query(self) -> str:
        return urlencode(
            {
                "start_date": self.start.isoformat(),
                "end_date": self.end.isoformat(),
                "granularity": self.granularity,
                "exchange": ",".join(self.exchanges),
            }
        )


def parse_history_state(args: Any, today: date, first_day: date | None) -> HistoryState:
    """The page state from query arguments; anything invalid falls back to a default and says so."""
    chosen = choice(args.get("range"), RANGES, "1y")
    granularity = cast(history.Granularity, choice(args.get("granularity"), history.GRANULARITIES, "daily"))
    scale = cast(charts.Scale, choice(args.get("scale"), ("linear", "log"), "linear"))
    view = cast(charts.View, choice(args.get("view"), ("volume", "share"), "volume"))
    wanted = [e.strip() for e in (args.get("exchange") or "").split(",") if e.strip()]
    exchanges = [e for e in EXCHANGES if e in wanted] or list(EXCHANGES)
    error = None
    end = today
    if chosen in PRESETS:
        start = today - timedelta(days=PRESETS[chosen] - 1)
    elif chosen == "all":
        start = first_day or today - timedelta(days=364)
    else:
        start_arg, end_arg = parse_day(args.get("start")), parse_day(args.get("end"))
        end = min(end_arg or today, today)
        start = start_arg or end - timedelta(days=364)
        if start > end:
            error = f"The start {start} is after the end {end}; showing the year before the end."
            start = end - timedelta(days=364)
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        start = end - timedelta(days=MAX_RANGE_DAYS - 1)
        error = f"At most {MAX_RANGE_DAYS} days at once; showing the last {MAX_RANGE_DAYS}."
    return HistoryState(chosen, start, end, granularity, scale, view, exchanges, error)


@dataclass(frozen=True)
class HistoryData:
    """The period documents, and each venue's exact total over them (summed before any formatting)."""

    periods: list[PeriodDoc]
    # None for a venue with no stored day in the range: no figure, never a zero.
    venue_totals: dict[str, Decimal | None]


async def load_history(pool: asyncpg.Pool, state: HistoryState, today: date) -> HistoryData:
    """Period documents shaped like the API's (`/api/volume/historical`), from the fast page reads."""
    spans = history.periods(state.start, state.end, state.granularity)
    cutoff = today - timedelta(days=1)
    async with pool.acquire() as conn:
        rows = await dash.select_period_totals(conn, state.start, state.end, state.granularity, state.exchanges)
        lagging = await dash.select_lagging_markets(conn, cutoff, state.exchanges)
    pending = dash.pending_by_period(lagging, [(key, min(last, cutoff)) for key, _, last in spans])
    found = {(r.period_start, r.exchange): r for r in rows}
    totals: dict[str, Decimal | None] = {name: None for name in state.exchanges}
    for key, _, _ in spans:
        for name in state.exchanges:
            row = found.get((key, name))
            if row is not None and row.volume_usd is not None:
                totals[name] = (totals[name] or Decimal(0)) + row.volume_usd
    periods = [period_document(span, state.exchanges, found, pending) for span in spans]
    return HistoryData(periods, totals)


class SummaryVenue(TypedDict):
    exchange: str
    volume_usd: str | None
    share: str | None  # of the range's total, 0..1


class HistorySummary(TypedDict):
    total_usd: str | None  # None: no stored day in the range ("no data", never $0)
    venues: list[SummaryVenue]
    gaps: int  # incomplete periods


class HistoryContext(TypedDict):
    """What `pages/history.html` and `partials/_history_panel.html` render."""

    state: HistoryState
    periods: list[PeriodDoc]
    spec: dict[str, Any]  # the Vega-Lite chart
    summary: HistorySummary
    presets: tuple[str, ...]
    today: date


def history_summary(data: HistoryData) -> HistorySummary:
    """The figures above the table: the range's total, each venue's total and share, incomplete periods."""
    stored = [v for v in data.venue_totals.values() if v is not None]
    # No stored day at all is "no data", not a total of $0 (which would read as "nothing traded").
    grand = sum(stored, Decimal(0)) if stored else None
    return {
        "total_usd": money(grand) if grand is not None else None,
        "venues": [
            {
                "exchange": n,
                "volume_usd": money(v) if v is not None else None,
                "share": money(v / grand) if v is not None and grand else None,
            }
            for n, v in data.venue_totals.items()
        ],
        "gaps": sum(1 for p in data.periods if not p["complete"]),
    }


async def history_context(pool: asyncpg.Pool, args: Any, today: date) -> HistoryContext:
    """Everything the history page and its partial render, from the query arguments."""
    async with pool.acquire() as conn:
        bounds = await daily.select_daily_bounds(conn)
    first = min((b.first_day for b in bounds.values()), default=None)
    state = parse_history_state(args, today, first)
    data = await load_history(pool, state, today)
    spec = charts.history_chart(
        data.periods, state.exchanges, granularity=state.granularity, view=state.view, scale=state.scale
    )
    return {
        "state": state,
        "periods": data.periods,
        "spec": spec,
        "summary": history_summary(data),
        "presets": RANGES,
        "today": today,
    }
