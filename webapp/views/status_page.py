"""The status page's view model: venue health, last success, backfill progress and data completeness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from core.current_volume import is_fresh
from core.settings import Settings
from storage.queries import checkpoints, daily, status
from storage.queries import dashboard as dash


async def status_context(pool: asyncpg.Pool, settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC)
    yesterday = now.date() - timedelta(days=1)
    window_start = now.date() - timedelta(days=settings.history_days)
    async with pool.acquire() as conn:
        health = await status.select_venue_status(conn)
        progress = await checkpoints.select_backfill_progress(conn)
        bounds = await daily.select_daily_bounds(conn)
        complete = await dash.select_completeness(conn, window_start, yesterday, [row.exchange for row in health])
    expected = (yesterday - window_start).days + 1
    venues = []
    for row in health:
        success = row.last_success
        healthy = is_fresh(success, row.last_error, row.last_error_at, now, settings.stale_seconds)
        venues.append(
            {
                "row": row,
                "healthy": healthy,
                "progress": progress.get(row.exchange),
                "bounds": bounds.get(row.exchange),
                "days_complete": complete[row.exchange].days_complete,
            }
        )
    return {
        "venues": venues,
        "now": now,
        "days_expected": expected,
        "window_start": window_start,
        "yesterday": yesterday,
        "stale_seconds": settings.stale_seconds,
    }
