"""The Status page's view model: venue health, last success, backfill progress and data completeness, and
(full page only) the markets without an asset and each venue's daily estimate error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TypedDict

import asyncpg

from core.current_volume import is_fresh
from core.exact_days import EstimateError, estimate_errors
from core.records import EXCHANGES
from core.settings import Settings
from storage.queries import assets as assets_q
from storage.queries import exact_days as exact_q
from storage.queries.assets import UnmappedMarket
from storage.queries.records import BackfillProgress, DayBounds, VenueStatusRow
from webapp.volume_docs import select_venue_health


class StatusVenue(TypedDict):
    row: VenueStatusRow
    healthy: bool  # polled successfully within the stale limit, no failure since
    progress: BackfillProgress | None
    bounds: DayBounds | None
    days_complete: int


class StatusContext(TypedDict):
    """What `partials/_status_table.html` renders."""

    venues: list[StatusVenue]
    now: datetime
    days_expected: int
    window_start: date
    yesterday: date
    stale_seconds: int


class AssetStatusContext(TypedDict):
    """What the full Status page adds: `partials/_status_assets.html` and `_status_estimates.html`."""

    unmapped: list[UnmappedMarket]
    estimate_errors: list[EstimateError]


class StatusPageContext(StatusContext, AssetStatusContext):
    pass


async def status_context(pool: asyncpg.Pool, settings: Settings) -> StatusContext:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        rows = await select_venue_health(conn, settings, now)
    venues: list[StatusVenue] = []
    for row in rows.health:
        success = row.last_success
        healthy = is_fresh(success, row.last_error, row.last_error_at, now, settings.stale_seconds)
        venues.append(
            {
                "row": row,
                "healthy": healthy,
                "progress": rows.progress.get(row.exchange),
                "bounds": rows.bounds.get(row.exchange),
                "days_complete": rows.complete[row.exchange].days_complete,
            }
        )
    return {
        "venues": venues,
        "now": now,
        "days_expected": (rows.through - rows.since).days + 1,
        "window_start": rows.since,
        "yesterday": rows.through,
        "stale_seconds": settings.stale_seconds,
    }


async def asset_status_context(pool: asyncpg.Pool) -> AssetStatusContext:
    """For the Status page: markets that have no asset, with the reason (never guessed), and each
    venue's estimate error over the days made exact from the midnight rolling figure."""
    async with pool.acquire() as conn:
        unmapped = await assets_q.select_unmapped(conn)
        comparisons = await exact_q.select_day_comparisons(conn)
    errors = estimate_errors(comparisons)
    return {"unmapped": unmapped, "estimate_errors": [errors[e] for e in EXCHANGES if e in errors]}


async def status_page_context(pool: asyncpg.Pool, settings: Settings) -> StatusPageContext:
    """The whole Status page: the venue table and the assets and estimates sections."""
    return {**await status_context(pool, settings), **await asset_status_context(pool)}
