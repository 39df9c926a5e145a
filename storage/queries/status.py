"""Venue health: when each venue was last polled, last answered, and why it last failed."""

from __future__ import annotations

from datetime import datetime

from storage.queries._db import Executor
from storage.queries.records import VenueStatusRow, from_record

# Error texts come from exceptions and may embed whole response bodies; keep the row small.
MAX_ERROR_CHARS = 2000


async def record_success(db: Executor, exchange: str, at: datetime) -> None:
    await db.execute(
        """
        INSERT INTO venue_status (exchange, last_attempt, last_success, consecutive_failures)
        VALUES ($1, $2, $2, 0)
        ON CONFLICT (exchange) DO UPDATE SET
            last_attempt = GREATEST(venue_status.last_attempt, EXCLUDED.last_attempt),
            last_success = GREATEST(venue_status.last_success, EXCLUDED.last_success),
            consecutive_failures = 0
        """,
        exchange,
        at,
    )


async def record_unchanged(db: Executor, exchange: str, at: datetime) -> None:
    """The venue answered with the figure already stored: attempted and not failing, but no newer
    success (a venue whose clock stands still goes stale)."""
    await db.execute(
        """
        INSERT INTO venue_status (exchange, last_attempt, consecutive_failures) VALUES ($1, $2, 0)
        ON CONFLICT (exchange) DO UPDATE SET
            last_attempt = GREATEST(venue_status.last_attempt, EXCLUDED.last_attempt),
            consecutive_failures = 0
        """,
        exchange,
        at,
    )


async def record_failure(db: Executor, exchange: str, at: datetime, error: str) -> None:
    await db.execute(
        """
        INSERT INTO venue_status
            (exchange, last_attempt, last_error, last_error_at, consecutive_failures)
        VALUES ($1, $2, $3, $2, 1)
        ON CONFLICT (exchange) DO UPDATE SET
            last_attempt = GREATEST(venue_status.last_attempt, EXCLUDED.last_attempt),
            last_error = EXCLUDED.last_error,
            last_error_at = EXCLUDED.last_error_at,
            consecutive_failures = venue_status.consecutive_failures + 1
        """,
        exchange,
        at,
        error[:MAX_ERROR_CHARS],
    )


async def select_venue_status(db: Executor) -> list[VenueStatusRow]:
    """Every venue, in display order; a venue never polled has None times and 0 failures."""
    rows = await db.fetch(
        """
        SELECT v.exchange, v.label, s.last_attempt, s.last_success, s.last_error, s.last_error_at,
               COALESCE(s.consecutive_failures, 0) AS consecutive_failures,
               s.backfill_error, s.backfill_error_at, s.backfill_retry_at
        FROM venues AS v LEFT JOIN venue_status AS s ON s.exchange = v.exchange
        ORDER BY v.sort_order
        """
    )
    return [from_record(VenueStatusRow, row) for row in rows]


async def record_backfill_failure(
    db: Executor, exchange: str, at: datetime, error: str, retry_at: datetime
) -> None:
    """A backfill run stopped on `error`; it is retried at `retry_at`."""
    await db.execute(
        """
        INSERT INTO venue_status (exchange, backfill_error, backfill_error_at, backfill_retry_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (exchange) DO UPDATE SET
            backfill_error = EXCLUDED.backfill_error,
            backfill_error_at = EXCLUDED.backfill_error_at,
            backfill_retry_at = EXCLUDED.backfill_retry_at
        """,
        exchange,
        error[:MAX_ERROR_CHARS],
        at,
        retry_at,
    )


async def clear_backfill_failure(db: Executor, exchange: str) -> None:
    """A backfill run finished: no error to show any more."""
    await db.execute(
        """
        UPDATE venue_status SET backfill_error = NULL, backfill_error_at = NULL, backfill_retry_at = NULL
        WHERE exchange = $1
        """,
        exchange,
    )
