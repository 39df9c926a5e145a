"""What the workers do, as plain async functions over (pool, redis, connectors): arq jobs in
`workers/jobs.py` and the CLI's `backfill` both call these.

Idempotence comes from the storage layer (upserts keyed by exchange/symbol/day, snapshots unique per
venue as-of) and from leases on each market's backfill, so retries, restarts and two workers at once
never count a market or a day twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import asyncpg
from redis.asyncio import Redis

from core.current_volume import iso
from core.settings import Settings
from exchanges.base import Connector, CurrentSnapshot, Exchange, Market
from exchanges.errors import ExchangeError
from storage.current_cache import refresh_current
from storage.job_names import DAILY_BACKFILL
from storage.queries import assets, checkpoints, daily, markets, snapshots, status
from workers import exact_days

log = logging.getLogger("perpvol.ingest")

BACKFILL_JOB = DAILY_BACKFILL
# Rows are written and checkpointed per chunk of `Connector.backfill_chunk_days`, capped here so that a
# crash never loses much; tests lower it to exercise resumption.
CHUNK_DAYS_CAP = 1000
# How often `revise_recent` runs (workers/worker.py: every hour at :05).
REVISE_INTERVAL = timedelta(hours=1)
# Venue clocks ahead of ours by more than this are not believed (network time keeps honest clocks
# within a second; Hyperliquid's Date header has whole seconds).
MAX_CLOCK_SKEW = timedelta(seconds=30)


# A venue that keeps failing the same way is logged once, then as a count this often, then "recovered".
REPEAT_SUMMARY_SECONDS = 300.0


@dataclass
class FailureLog:
    """Condenses identical poll failures: without network, four venues every 15 s would otherwise print
    the same lines forever. First failure: logged in full. Same error again: counted, and the count is
    logged every REPEAT_SUMMARY_SECONDS. A different error is logged at once. Success after failures:
    one "recovered" line with how many failures it ended."""

    summary_seconds: float = REPEAT_SUMMARY_SECONDS
    _last: dict[str, tuple[str, datetime, int, int]] = field(default_factory=dict)

    def failed(self, exchange: str, error: str, now: datetime) -> None:
        previous = self._last.get(exchange)
        if previous is None or previous[0] != error:
            log.warning("poll %s failed: %s", exchange, error)
            total = previous[3] + 1 if previous else 1
            self._last[exchange] = (error, now, 0, total)
            return
        _, since, unreported, total = previous
        unreported, total = unreported + 1, total + 1
        if (now - since).total_seconds() >= self.summary_seconds:
            minutes = round((now - since).total_seconds() / 60)
            log.warning("poll %s failed %d more times in %d min (same error): %s", exchange, unreported, minutes, error)
            self._last[exchange] = (error, now, 0, total)
        else:
            self._last[exchange] = (error, since, unreported, total)

    def succeeded(self, exchange: str) -> None:
        previous = self._last.pop(exchange, None)
        if previous is not None:
            log.warning("poll %s recovered after %d failed polls", exchange, previous[3])


@dataclass
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    connectors: dict[Exchange, Connector]
    worker_id: str
    lease_retry_seconds: float = 10.0
    # Seconds a venue's poll may take, retries included: inside the poll job's time limit (worker.py).
    poll_budget: float = 50.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    failures: FailureLog = field(default_factory=FailureLog)


async def poll_current(deps: Deps, exchange: Exchange) -> bool:
    """Fetch one venue's rolling-24h figures; store, cache and publish. False when the venue failed.

    Each venue publishes as soon as it is done, so a slow or failing venue never delays the others.
    A poll is dated when it completes: a slow one that lands after a failure is news, not history.
    Retries end within `deps.poll_budget` seconds, inside the job's time limit, and every poll that
    ends without a figure records why.
    """
    connector = deps.connectors[exchange]
    connector.client.last_problem = None
    try:
        async with asyncio.timeout(deps.poll_budget):
            if not connector.expects:
                async with deps.pool.acquire() as conn:
                    connector.expect(await markets.select_trading_symbols(conn, exchange))
            snapshot = await connector.fetch_current()
    except ExchangeError as exc:
        await _poll_failed(deps, exchange, str(exc))
        ok = False
    except TimeoutError:
        last = connector.client.last_problem or "no answer"
        await _poll_failed(deps, exchange, f"{exchange}: gave up after {deps.poll_budget:g}s of retries: {last}")
        ok = False
    except asyncio.CancelledError:
        # Killed (job time limit, shutdown): still say so, or the venue goes stale with no error.
        await asyncio.shield(_poll_failed(deps, exchange, f"{exchange}: poll cancelled before an answer"))
        raise
    else:
        await store_snapshot(deps, snapshot, deps.now())
        deps.failures.succeeded(exchange)
        ok = True
    await refresh_current(deps.pool, deps.redis, deps.settings, deps.now())
    return ok


async def _poll_failed(deps: Deps, exchange: Exchange, error: str) -> None:
    failed_at = deps.now()
    deps.failures.failed(exchange, error, failed_at)
    async with deps.pool.acquire() as conn:
        await status.record_failure(conn, exchange, failed_at, error)


def bound_as_of(as_of: datetime, fetched_at: datetime) -> tuple[datetime, str | None]:
    """The venue's `as_of`, clamped to the fetch time when the venue's clock runs ahead of ours beyond
    MAX_CLOCK_SKEW (a figure cannot come from the future), with the reason; else as is."""
    ahead = (as_of - fetched_at).total_seconds()
    if ahead <= MAX_CLOCK_SKEW.total_seconds():
        return as_of, None
    return fetched_at, f"venue clock {ahead:.0f}s ahead of ours: as_of {iso(as_of)} clamped to fetch time"


async def store_snapshot(deps: Deps, snapshot: CurrentSnapshot, fetched_at: datetime) -> None:
    as_of, note = bound_as_of(snapshot.as_of, fetched_at)
    if note is not None:
        log.warning("poll %s: %s", snapshot.exchange, note)
    venue_as_of = snapshot.as_of if note is not None else None
    bounded = replace(snapshot, as_of=as_of)
    async with deps.pool.acquire() as conn, conn.transaction():
        stored = await snapshots.insert_snapshot(
            conn, bounded, fetched_at, venue_as_of=venue_as_of, as_of_note=note
        )
        # The figure nearest to midnight makes a day exact: judged by the bounded as_of, so a venue
        # clock running ahead cannot claim midnight.
        await exact_days.record_midnight(conn, bounded, deps.settings.poll_seconds)
        if stored:
            await status.record_success(conn, snapshot.exchange, fetched_at)
        else:
            # The same venue figure as before (its clock did not move): not a newer success.
            await status.record_unchanged(conn, snapshot.exchange, fetched_at)


async def poll_all(deps: Deps) -> dict[Exchange, bool]:
    """Every venue at once; one that is down never delays or stops the others."""
    names = list(deps.connectors)
    results = await asyncio.gather(*(poll_current(deps, name) for name in names))
    return dict(zip(names, results, strict=True))


async def sync_markets(deps: Deps, exchange: Exchange) -> list[Market]:
    """Register every perp market the venue lists; ones it stopped listing become delisted."""
    listed = await deps.connectors[exchange].list_markets()
    now = deps.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        await markets.upsert_markets(conn, exchange, listed, now)
        await markets.mark_missing_markets_delisted(conn, exchange, [m.symbol for m in listed], now)
        await assets.assign_assets(conn, exchange, listed)
        # Markets stored before assets existed, and delisted ones the venue no longer lists.
        await assets.assign_unclassified(conn)
    return listed


def history_start(deps: Deps) -> date:
    return deps.now().date() - timedelta(days=deps.settings.history_days)


async def backfill_market(
    deps: Deps, market: Market, start: date, end: date, owner: str | None = None
) -> int | None:
    """Fetch start..end for one market in chunks, each written with its checkpoint in one
    transaction. Resumes after the checkpoint; None if another run holds the market.

    `owner` names the lease holder: one per backfill run (default: the worker), so two runs in one
    worker never both take a market. The lease is renewed while the market is worked on (a chunk can
    wait longer than a lease on a busy venue budget), so it lapses only when this run is gone."""
    exchange = market.exchange
    owner = owner or deps.worker_id
    # The claim is inside the try: a run stopped right after taking it (its sibling failed) must still
    # give it back. Releasing a lease we never got is harmless: only the owner's own row is deleted.
    try:
        async with deps.pool.acquire() as conn:
            if not await checkpoints.try_claim(
                conn, exchange, market.symbol, BACKFILL_JOB, owner, deps.settings.lease_seconds
            ):
                return None
        keeper = asyncio.create_task(_keep_lease(deps, market, owner))
        try:
            return await _backfill_chunks(deps, market, start, end, owner, keeper)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
    finally:
        await _release(deps, market, owner)


async def _backfill_chunks(
    deps: Deps, market: Market, start: date, end: date, owner: str, keeper: asyncio.Task[None]
) -> int | None:
    exchange = market.exchange
    chunk_days = min(CHUNK_DAYS_CAP, deps.connectors[exchange].backfill_chunk_days)
    async with deps.pool.acquire() as conn:
        done = await checkpoints.select_checkpoint(conn, exchange, market.symbol, BACKFILL_JOB)
    cursor = max(start, done.done_through + timedelta(days=1)) if done else start
    if cursor >= deps.now().date():
        # Every finished day is stored; today's open candle is `revise_recent`'s job.
        return 0
    written = 0
    while cursor <= end:
        if keeper.done():
            # The lease was lost (renewals failed past its expiry) and another run may have the market:
            # leave the rest to it rather than fetch it twice.
            return None
        chunk_end = min(end, cursor + timedelta(days=chunk_days - 1))
        rows = await deps.connectors[exchange].fetch_daily(market, cursor, chunk_end)
        complete_through = min(chunk_end, deps.now().date() - timedelta(days=1))
        async with deps.pool.acquire() as conn, conn.transaction():
            await daily.upsert_daily_volumes(conn, rows, deps.now())
            if complete_through >= cursor:
                await checkpoints.save_checkpoint(conn, exchange, market.symbol, BACKFILL_JOB, complete_through, start)
        written += len(rows)
        cursor = chunk_end + timedelta(days=1)
    return written


async def _keep_lease(deps: Deps, market: Market, owner: str) -> None:
    """Renew the lease every third of its length; return when it was lost to another run."""
    every = deps.settings.lease_seconds / 3
    while True:
        await asyncio.sleep(every)
        try:
            async with deps.pool.acquire() as conn:
                held = await checkpoints.try_claim(
                    conn, market.exchange, market.symbol, BACKFILL_JOB, owner, deps.settings.lease_seconds
                )
        except Exception as exc:  # PostgreSQL away (any driver error)
            # The next renewal may still be in time; if PostgreSQL stays away, the chunk's write fails
            # and the run is retried.
            log.warning("backfill %s %s: lease not renewed (%s)", market.exchange, market.symbol, exc)
            continue
        if not held:
            log.warning("backfill %s %s: lease lost to another run", market.exchange, market.symbol)
            return


async def _release(deps: Deps, market: Market, owner: str) -> None:
    """Give the lease back, even when this run is being cancelled (a sibling market failed)."""
    release = asyncio.ensure_future(_release_now(deps, market, owner))
    try:
        await asyncio.shield(release)
    except asyncio.CancelledError:
        await release
        raise


async def _release_now(deps: Deps, market: Market, owner: str) -> None:
    try:
        async with deps.pool.acquire() as conn:
            await checkpoints.release_claim(conn, market.exchange, market.symbol, BACKFILL_JOB, owner)
    except Exception as exc:  # PostgreSQL down too: the lease runs out on its own
        expiry = deps.settings.lease_seconds
        log.warning("backfill %s %s: lease not released (%s); it expires within %ss",
                    market.exchange, market.symbol, exc, expiry)


async def backfill_exchange(
    deps: Deps, exchange: Exchange, days: int | None = None, concurrency: int = 4
) -> int:
    """Two years (or `days`) of daily history of every market ever seen, delisted included."""
    await sync_markets(deps, exchange)
    end = deps.now().date()
    start = end - timedelta(days=days if days is not None else deps.settings.history_days)
    async with deps.pool.acquire() as conn:
        rows = await markets.select_markets(conn, exchange, include_delisted=True)
    pending = [row.to_market() for row in rows]
    owner = f"{deps.worker_id}/{secrets.token_hex(3)}"
    total = 0
    while True:
        written, pending = await _backfill_pass(deps, pending, start, end, concurrency, owner)
        total += written
        if not pending:
            return total
        # Another worker (or a killed one whose lease has not run out) holds these: wait and retry,
        # so that a crash never leaves a market without its history.
        await asyncio.sleep(deps.lease_retry_seconds)


async def resume_backfill(deps: Deps, exchange: Exchange, concurrency: int = 4) -> int:
    """One pass over the known markets of `exchange`, taking every unfinished one that nobody holds.

    Picks up after a worker killed mid-backfill (once its leases expired), whose arq job would only be
    retried hours later. Finished markets cost three small queries and no venue request; markets that a
    live worker holds are left to it.
    """
    end = deps.now().date()
    start = history_start(deps)
    async with deps.pool.acquire() as conn:
        rows = await markets.select_markets(conn, exchange, include_delisted=True)
    owner = f"{deps.worker_id}/{secrets.token_hex(3)}"
    written, _ = await _backfill_pass(deps, [row.to_market() for row in rows], start, end, concurrency, owner)
    return written


async def _backfill_pass(
    deps: Deps, pending: list[Market], start: date, end: date, concurrency: int, owner: str
) -> tuple[int, list[Market]]:
    """One pass over `pending`; returns rows written and the markets another worker held."""
    queue: asyncio.Queue[Market] = asyncio.Queue()
    for market in pending:
        queue.put_nowait(market)
    held: list[Market] = []
    total = 0

    async def work() -> None:
        nonlocal total
        while not queue.empty():
            market = queue.get_nowait()
            written = await backfill_market(deps, market, start, end, owner)
            if written is None:
                held.append(market)
            else:
                total += written

    tasks = [asyncio.create_task(work()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*tasks)
    finally:
        # One market failed: stop the others too, so that each releases its lease before the retry.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return total, held


def backfill_retry_seconds(attempt: int) -> float:
    """Backoff between failed backfill runs: 10 s, 20 s, 40 s ... at most 10 minutes."""
    return float(min(600, 10 * 2 ** min(max(attempt, 1) - 1, 6)))


async def record_backfill_outcome(
    deps: Deps, exchange: Exchange, error: BaseException | None, retry_in: float = 0.0
) -> None:
    """Show a failed run (and when it is retried) on Status, or clear it after a run that finished.
    PostgreSQL may be what failed: then only the log says so, and the retry still happens."""
    now = deps.now()
    try:
        async with deps.pool.acquire() as conn:
            if error is None:
                await status.clear_backfill_failure(conn, exchange)
            else:
                text = str(error) or type(error).__name__
                retry_at = now + timedelta(seconds=retry_in)
                await status.record_backfill_failure(conn, exchange, now, text, retry_at)
    except Exception as exc:
        log.warning("backfill %s: could not record its state (%s)", exchange, exc)


async def revise_recent(deps: Deps, exchange: Exchange) -> int:
    """Re-fetch the last few days: venues revise recent candles and today's is still open.

    Markets a backfill covers are left out: while one runs, the markets it has not finished (it writes
    their recent days itself, and fetching them twice would halve its share of the venue budget), and
    those it stored within the last hour of the current UTC day (as fresh as this run would make them)."""
    now = deps.now()
    end = now.date()
    # Never before the history the backfill keeps (PERPVOL_HISTORY_DAYS may be shorter than the window).
    start = max(end - timedelta(days=deps.settings.revise_days), history_start(deps))
    today_began = datetime(end.year, end.month, end.day, tzinfo=UTC)
    async with deps.pool.acquire() as conn:
        rows = await markets.select_markets(conn, exchange, include_delisted=True)
        covered = await checkpoints.select_covered_by_backfill(
            conn, exchange, BACKFILL_JOB, start, max(today_began, now - REVISE_INTERVAL)
        )
    recent = [
        r.to_market()
        for r in rows
        if (r.delisted_at is None or r.delisted_at.date() >= start) and r.symbol not in covered
    ]
    written = 0
    for market in recent:
        fetched = await deps.connectors[exchange].fetch_daily(market, start, end)
        async with deps.pool.acquire() as conn, conn.transaction():
            await daily.upsert_daily_volumes(conn, fetched, deps.now())
        written += len(fetched)
    return written
