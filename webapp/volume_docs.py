"""The volume API's documents read from storage: a range's period documents by venue (the API's read path;
the History page reads the faster `storage.queries.dashboard` in `webapp.view_models.history`) and the
venues' health of `/api/exchanges`. The figures themselves are computed in `core.history` and
`core.health`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from core.exact_days import estimate_errors
from core.health import ExchangesDoc, exchanges_document
from core.history import PeriodDoc, period_document
from core.settings import Settings
from storage.queries import checkpoints, daily, history, status
from storage.queries import dashboard as dash
from storage.queries import exact_days as exact_q
from storage.queries.dashboard import Completeness
from storage.queries.records import BackfillProgress, DayBounds, VenueStatusRow


@dataclass(frozen=True)
class VenueHistory:
    """The period documents of a range and each venue's stored days."""

    periods: list[PeriodDoc]
    bounds: dict[str, DayBounds]


async def build_history(
    pool: asyncpg.Pool, exchanges: list[str], days: tuple[date, date], granularity: history.Granularity, today: date
) -> VenueHistory:
    """Every period from `days[0]` to `days[1]` (UTC) of the venues asked for, as `/api/volume/historical`
    lists them."""
    start, end = days
    spans = history.periods(start, end, granularity)
    cutoff = today - timedelta(days=1)
    settled = [(key, min(last, cutoff)) for key, _, last in spans]
    async with pool.acquire() as conn:
        rows = await history.select_period_volumes(conn, start, end, granularity, exchanges)
        pending = await history.select_pending_markets(conn, settled, exchanges)
        bounds = await daily.select_daily_bounds(conn)
    found = {(r.period_start, r.exchange): r for r in rows}
    return VenueHistory([period_document(span, exchanges, found, pending) for span in spans], bounds)


@dataclass(frozen=True)
class VenueHealthRows:
    """What `/api/exchanges` and the Status page judge each venue's health from, over the history window
    `since`..`through` (the PERPVOL_HISTORY_DAYS before today, through yesterday: settled days only)."""

    since: date
    through: date
    health: list[VenueStatusRow]
    progress: dict[str, BackfillProgress]
    bounds: dict[str, DayBounds]
    complete: dict[str, Completeness]


async def select_venue_health(conn: asyncpg.Connection, settings: Settings, now: datetime) -> VenueHealthRows:
    through = now.date() - timedelta(days=1)
    since = now.date() - timedelta(days=settings.history_days)
    health = await status.select_venue_status(conn)
    progress = await checkpoints.select_backfill_progress(conn)
    bounds = await daily.select_daily_bounds(conn)
    complete = await dash.select_completeness(conn, since, through, [row.exchange for row in health])
    return VenueHealthRows(since, through, health, progress, bounds, complete)


async def build_exchanges(pool: asyncpg.Pool, settings: Settings, now: datetime) -> ExchangesDoc:
    """Each venue's health, backfill progress, stored days, completeness and estimate error, judged at `now`."""
    async with pool.acquire() as conn:
        rows = await select_venue_health(conn, settings, now)
        comparisons = await exact_q.select_day_comparisons(conn)
    return exchanges_document(
        rows.health,
        rows.progress,
        rows.bounds,
        now=now,
        data_mode=settings.data_mode,
        stale_seconds=settings.stale_seconds,
        completeness=rows.complete,
        since=rows.since,
        through=rows.through,
        estimate_errors=estimate_errors(comparisons),
    )
