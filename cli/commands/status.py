"""`perpvol status`: per venue, last success, staleness, error, backfill progress, row counts and the
estimate error (how far the candle estimates missed the exact days read at 00:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import asyncpg

from cli.commands.run import prepare_database
from core.current_volume import EXCHANGES, failed_since_success, is_fresh, iso
from core.exact_days import estimate_errors
from core.health import estimate_error_doc
from core.settings import Settings
from storage.db import create_pool
from storage.queries import checkpoints, daily, dashboard, exact_days, markets, status


async def collect_status(pool: asyncpg.Pool, settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC)
    through = now.date() - timedelta(days=1)
    since = now.date() - timedelta(days=settings.history_days)
    async with pool.acquire() as conn:
        health = {row.exchange: row for row in await status.select_venue_status(conn)}
        progress = await checkpoints.select_backfill_progress(conn)
        # The same rule as the Status page and /api/exchanges: a day counts when every market is stored.
        complete = await dashboard.select_completeness(conn, since, through, list(EXCHANGES))
        # The same figure as the Status page and /api/exchanges.
        errors = estimate_errors(await exact_days.select_day_comparisons(conn))
        rows = []
        for exchange in EXCHANGES:
            h = health.get(exchange)
            last_success = h.last_success if h else None
            last_error, last_error_at = (h.last_error, h.last_error_at) if h else (None, None)
            age = (now - last_success).total_seconds() if last_success else None
            p = progress.get(exchange)
            rows.append(
                {
                    "exchange": exchange,
                    "last_success": iso(last_success),
                    "age_seconds": int(age) if age is not None else None,
                    "stale": not is_fresh(last_success, last_error, last_error_at, now, settings.stale_seconds),
                    "error": last_error if failed_since_success(last_success, last_error, last_error_at) else None,
                    "backfill_progress": round(p.fraction, 4) if p else 0.0,
                    "backfill_error": h.backfill_error if h else None,
                    "backfill_retry_at": iso(h.backfill_retry_at) if h else None,
                    "markets": await markets.count_markets(conn, exchange),
                    "daily_rows": await daily.count_daily_rows(conn, exchange),
                    "days_complete": complete[exchange].days_complete,
                    "days_expected": complete[exchange].days_expected,
                    "estimate_error": estimate_error_doc(errors.get(exchange)),
                }
            )
    return {"data_mode": settings.data_mode, "exchanges": rows}


def print_status(doc: dict[str, Any], out: TextIO) -> None:
    mode = "  (SIMULATED data)" if doc["data_mode"] == "simulated" else ""
    out.write(f"perpvol status{mode}\n\n")
    out.write(
        f"  {'venue':<12} {'last success':<28} {'state':<7} {'backfill':>8} "
        f"{'markets':>8} {'daily rows':>11} {'complete days':>14}\n"
    )
    for row in doc["exchanges"]:
        state = "STALE" if row["stale"] else "ok"
        out.write(
            f"  {row['exchange']:<12} {row['last_success'] or 'never':<28} {state:<7} "
            f"{row['backfill_progress'] * 100:>7.1f}% {row['markets']:>8} {row['daily_rows']:>11} "
            f"{str(row['days_complete']) + ' of ' + str(row['days_expected']):>14}\n"
        )
        if row["error"]:
            out.write(f"  {'':<12} error: {row['error']}\n")
        if row.get("backfill_error"):
            retry = f" (retry at {row['backfill_retry_at']})" if row.get("backfill_retry_at") else ""
            out.write(f"  {'':<12} backfill error: {row['backfill_error']}{retry}\n")
        if err := row["estimate_error"]:
            out.write(
                f"  {'':<12} estimate error: median {err['median_pct']}%, worst {err['worst_pct']}% "
                f"({err['worst_day']}) over {err['days']} exact day{'s' if err['days'] != 1 else ''}\n"
            )


async def read_status(settings: Settings) -> dict[str, Any]:
    """Migrate if needed (a fresh machine), then collect the status document."""
    await prepare_database(settings)
    pool = await create_pool(settings.database_url or "", max_size=2)
    try:
        return await collect_status(pool, settings)
    finally:
        await pool.close()
