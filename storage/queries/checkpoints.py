"""Backfill bookkeeping per (exchange, symbol, job): how far it got, and who is working on it.

A backfill runs forward from `target_start`; `done_through` is the last UTC day fully stored and only
moves forward. A claim is a lease with an expiry: a worker killed mid-market (kill -9) leaves a lease
that expires, and then another worker takes the market over and resumes from the checkpoint.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from storage.job_names import DAILY_BACKFILL
from storage.queries._db import Executor
from storage.queries.records import BackfillProgress, Checkpoint, from_record

# The job name of the per-market history backfill (workers/ingest.py).
DEFAULT_JOB = DAILY_BACKFILL

_CHECKPOINT_COLUMNS = "exchange, symbol, job, target_start, done_through, updated_at"

_SAVE = f"""
INSERT INTO backfill_checkpoints (exchange, symbol, job, target_start, done_through, updated_at)
VALUES ($1, $2, $3, $5, $4, clock_timestamp())
ON CONFLICT (exchange, symbol, job) DO UPDATE SET
    target_start = EXCLUDED.target_start,
    done_through = GREATEST(backfill_checkpoints.done_through, EXCLUDED.done_through),
    updated_at = EXCLUDED.updated_at
RETURNING {_CHECKPOINT_COLUMNS}
"""

# Markets without a checkpoint count as 0 done; `through` defaults to yesterday (UTC), the last full day.
_PROGRESS = """
WITH bound AS (SELECT COALESCE($2::date, (now() AT TIME ZONE 'UTC')::date - 1) AS through)
SELECT v.exchange,
       count(m.symbol) AS markets_total,
       count(c.symbol) FILTER (WHERE c.done_through >= b.through) AS markets_done,
       COALESCE(avg(CASE
           WHEN c.symbol IS NULL THEN 0
           WHEN c.done_through >= b.through OR b.through < c.target_start THEN 1
           ELSE GREATEST(0, c.done_through - c.target_start + 1)::float8 / (b.through - c.target_start + 1)
       END) FILTER (WHERE m.symbol IS NOT NULL), 0)::float8 AS fraction
FROM venues AS v
CROSS JOIN bound AS b
LEFT JOIN markets AS m ON m.exchange = v.exchange
LEFT JOIN backfill_checkpoints AS c ON c.exchange = m.exchange AND c.symbol = m.symbol AND c.job = $1
GROUP BY v.exchange, v.sort_order
ORDER BY v.sort_order
"""

_CLAIM = """
INSERT INTO backfill_claims AS c (exchange, symbol, job, worker_id, claimed_at, expires_at)
SELECT $1, $2, $3, $4, now_, now_ + make_interval(secs => $5)
FROM (SELECT COALESCE($6::timestamptz, clock_timestamp()) AS now_) AS t
ON CONFLICT (exchange, symbol, job) DO UPDATE SET
    worker_id = EXCLUDED.worker_id,
    claimed_at = CASE WHEN c.worker_id = EXCLUDED.worker_id THEN c.claimed_at ELSE EXCLUDED.claimed_at END,
    expires_at = EXCLUDED.expires_at
WHERE c.worker_id = EXCLUDED.worker_id OR c.expires_at <= EXCLUDED.claimed_at
RETURNING worker_id
"""


# Markets whose recent days a backfill writes anyway, or wrote since $4: one being fetched now (live lease),
# and while a backfill of the venue runs (any live lease), those it has not reached or not finished
# ($3: the day before the window; a checkpoint before it leaves a gap the backfill fills through today).
_COVERED_BY_BACKFILL = """
WITH busy AS (
    SELECT EXISTS (
        SELECT 1 FROM backfill_claims WHERE exchange = $1 AND job = $2 AND expires_at > clock_timestamp()
    ) AS running
)
SELECT m.symbol
FROM markets AS m
CROSS JOIN busy
LEFT JOIN backfill_checkpoints AS c ON c.exchange = m.exchange AND c.symbol = m.symbol AND c.job = $2
LEFT JOIN backfill_claims AS l
    ON l.exchange = m.exchange AND l.symbol = m.symbol AND l.job = $2 AND l.expires_at > clock_timestamp()
WHERE m.exchange = $1
  AND (l.symbol IS NOT NULL
       OR c.updated_at >= $4
       OR (busy.running AND (c.symbol IS NULL OR c.done_through < $3)))
"""


async def select_covered_by_backfill(
    db: Executor, exchange: str, job: str, window_start: date, stored_since: datetime
) -> set[str]:
    """Symbols of `exchange` whose days from `window_start` on a backfill is writing (being fetched, or
    not reached yet by a running backfill) or stored at or after `stored_since`."""
    rows = await db.fetch(_COVERED_BY_BACKFILL, exchange, job, window_start - timedelta(days=1), stored_since)
    return {row["symbol"] for row in rows}


async def select_checkpoint(
    db: Executor, exchange: str, symbol: str, job: str = DEFAULT_JOB
) -> Checkpoint | None:
    row = await db.fetchrow(
        f"SELECT {_CHECKPOINT_COLUMNS} FROM backfill_checkpoints "
        "WHERE exchange = $1 AND symbol = $2 AND job = $3",
        exchange,
        symbol,
        job,
    )
    return None if row is None else from_record(Checkpoint, row)


async def save_checkpoint(
    db: Executor, exchange: str, symbol: str, job: str, done_through: date, target_start: date
) -> Checkpoint:
    """Record progress; an older `done_through` than the stored one is ignored. Returns the stored row."""
    row = await db.fetchrow(_SAVE, exchange, symbol, job, done_through, target_start)
    return from_record(Checkpoint, row)


async def select_backfill_progress(
    db: Executor, job: str = DEFAULT_JOB, through: date | None = None
) -> dict[str, BackfillProgress]:
    """Per venue: markets known, markets stored through `through`, and a day-weighted fraction 0..1."""
    rows = await db.fetch(_PROGRESS, job, through)
    return {row["exchange"]: from_record(BackfillProgress, row) for row in rows}


async def try_claim(
    db: Executor,
    exchange: str,
    symbol: str,
    job: str,
    worker_id: str,
    ttl_seconds: float,
    *,
    at: datetime | None = None,
) -> bool:
    """Take (or renew) the lease on a market; False while another worker's lease is unexpired.

    Times come from the database clock unless `at` is given (tests), so workers' clocks don't matter.
    """
    owner = await db.fetchval(_CLAIM, exchange, symbol, job, worker_id, float(ttl_seconds), at)
    return owner is not None


async def release_claim(db: Executor, exchange: str, symbol: str, job: str, worker_id: str) -> bool:
    """Give up our lease; False when we no longer held it (it expired and was taken over)."""
    released = await db.fetchval(
        """
        DELETE FROM backfill_claims
        WHERE exchange = $1 AND symbol = $2 AND job = $3 AND worker_id = $4
        RETURNING 1
        """,
        exchange,
        symbol,
        job,
        worker_id,
    )
    return released is not None
