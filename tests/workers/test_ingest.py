"""The workers' jobs against real PostgreSQL and Redis, with the simulator in process for the venues."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from exchanges.base import Exchange
from exchanges.http import RetryPolicy
from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims
from storage.current_cache import cached_current, current_key, live_channel, refresh_current
from storage.queries import checkpoints, daily, markets, snapshots
from tests.conftest import make_settings
from tests.exchanges_support import SIM_NOW, sim_connectors
from workers import ingest, jobs


def _now() -> datetime:
    return SIM_NOW


@pytest.fixture
def model() -> SimModel:
    # Few markets and a short history keep each test to a second or two.
    return SimModel(seed=7, now=_now, history_days=800, scale=0.1)


@pytest.fixture
def sim(model: SimModel) -> SimulatorApp:
    return SimulatorApp(model, venue_sims(model), enforce_limits=False)


@pytest.fixture
def worker_settings(db_dsn: str, redis_url: str, redis_prefix: str) -> Settings:
    return make_settings(
        DATABASE_URL=db_dsn,
        REDIS_URL=redis_url,
        PERPVOL_REDIS_PREFIX=redis_prefix,
        PERPVOL_HISTORY_DAYS=45,
        PERPVOL_STALE_SECONDS=600,
        PERPVOL_LEASE_SECONDS=2,
    )


DepsFactory = Callable[[str], ingest.Deps]


@pytest.fixture
async def make_deps(
    db: asyncpg.Pool, redis: aioredis.Redis, sim: SimulatorApp, worker_settings: Settings
) -> AsyncIterator[DepsFactory]:
    made: list[ingest.Deps] = []

    def factory(worker_id: str) -> ingest.Deps:
        policy = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=1.0)
        connectors = sim_connectors(worker_settings, sim, policy)
        deps = ingest.Deps(worker_settings, db, redis, connectors, worker_id, lease_retry_seconds=0.5)
        deps.now = _now
        made.append(deps)
        return deps

    yield factory
    for deps in made:
        for connector in deps.connectors.values():
            await connector.aclose()


def _expected_daily(model: SimModel, exchange: str, start: date, end: date) -> dict[date, Decimal]:
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for market in model.markets(exchange):
        day = start
        while day <= end:
            value = model.daily_usd(market, day)
            if value:
                totals[day] += value
            day += timedelta(days=1)
    return dict(totals)


async def _stored_daily(db: asyncpg.Pool, exchange: str, start: date, end: date) -> dict[date, Decimal]:
    rows = await daily.select_venue_daily(db, start, end, [exchange])
    return {row.day: row.volume_usd for row in rows if row.volume_usd}


async def test_poll_stores_snapshot_caches_and_publishes_one_message(
    make_deps: DepsFactory, db: asyncpg.Pool, redis: aioredis.Redis, model: SimModel
) -> None:
    deps = make_deps("w1")
    pubsub = redis.pubsub()
    await pubsub.subscribe(live_channel(deps.settings))
    await pubsub.get_message(timeout=1)  # subscription confirmation
    assert await ingest.poll_current(deps, "woox")
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    await pubsub.aclose()
    assert message is not None
    doc = json.loads(message["data"])
    expected = sum((model.rolling_24h_usd(m) for m in model.markets("woox")), Decimal(0))
    woox = next(v for v in doc["exchanges"] if v["exchange"] == "woox")
    assert Decimal(woox["volume_usd"]) == expected
    assert woox["stale"] is False
    assert await cached_current(redis, deps.settings) == message["data"]
    latest = await snapshots.select_latest_snapshots(db)
    assert [(s.exchange, s.volume_usd) for s in latest] == [("woox", expected)]


async def test_a_failing_venue_keeps_its_last_figure_marked_stale_and_out_of_the_total(
    make_deps: DepsFactory, sim: SimulatorApp
) -> None:
    deps = make_deps("w1")
    assert all((await ingest.poll_all(deps)).values())
    sim.faults.append(Fault(kind="error5xx", venue="woox"))
    sim.model._now = lambda: SIM_NOW + timedelta(minutes=1)
    results = await ingest.poll_all(deps)
    assert results == {"bybit": True, "woox": False, "hyperliquid": True, "paradex": True}
    raw = await cached_current(deps.redis, deps.settings)
    assert raw is not None
    doc = json.loads(raw)
    woox = next(v for v in doc["exchanges"] if v["exchange"] == "woox")
    assert woox["stale"] is True and "HTTP 503" in woox["error"]
    assert woox["volume_usd"] is not None  # the last good figure, shown as stale
    assert doc["excluded"] == ["woox"] and doc["complete"] is False
    others = [Decimal(v["volume_usd"]) for v in doc["exchanges"] if v["exchange"] != "woox"]
    assert Decimal(doc["total_usd"]) == sum(others, Decimal(0))


async def test_backfill_matches_the_venue_to_the_cent_and_a_rerun_counts_nothing_twice(
    make_deps: DepsFactory, db: asyncpg.Pool, model: SimModel
) -> None:
    deps = make_deps("w1")
    start = SIM_NOW.date() - timedelta(days=45)
    for exchange in ("bybit", "woox", "paradex"):
        await ingest.backfill_exchange(deps, exchange)
    first = {e: await _stored_daily(db, e, start, SIM_NOW.date()) for e in ("bybit", "woox", "paradex")}
    rows_before = await daily.count_daily_rows(db)
    for exchange in ("bybit", "woox", "paradex"):
        await ingest.backfill_exchange(deps, exchange)
    assert await daily.count_daily_rows(db) == rows_before
    for exchange in ("bybit", "woox"):
        assert first[exchange] == _expected_daily(model, exchange, start, SIM_NOW.date())
        assert await _stored_daily(db, exchange, start, SIM_NOW.date()) == first[exchange]
    # Paradex days are sums of hourly candles: the same figures, marked estimated.
    assert first["paradex"] == _expected_daily(model, "paradex", start, SIM_NOW.date())


async def test_delisted_markets_keep_counting_for_the_days_they_traded(
    make_deps: DepsFactory, db: asyncpg.Pool, model: SimModel
) -> None:
    deps = make_deps("w1")
    await ingest.backfill_exchange(deps, "bybit", days=800)
    gone = next(m for m in model.markets("bybit") if m.delisted is not None)
    rows = await markets.select_markets(db, "bybit")
    row = next(r for r in rows if r.base == gone.base and r.kind == "linear")
    assert row.status == "delisted"
    assert gone.delisted is not None
    last_day = gone.delisted - timedelta(days=1)
    stored = await daily.select_market_daily(db, "bybit", row.symbol, last_day, last_day)
    assert [s.volume_usd for s in stored] == [model.daily_usd(gone, last_day)]
    assert stored[0].volume_usd > 0


async def test_two_workers_at_once_do_no_duplicate_work_and_count_each_day_once(
    make_deps: DepsFactory, db: asyncpg.Pool, model: SimModel, sim: SimulatorApp
) -> None:
    one, two = make_deps("w1"), make_deps("w2")
    start = SIM_NOW.date() - timedelta(days=45)
    await asyncio.gather(ingest.backfill_exchange(one, "woox"), ingest.backfill_exchange(two, "woox"))
    assert await _stored_daily(db, "woox", start, SIM_NOW.date()) == _expected_daily(
        model, "woox", start, SIM_NOW.date()
    )
    together = sim.requests["woox"]
    # The same work done by one worker alone, on a fresh venue counter, for comparison.
    sim.requests["woox"] = 0
    async with db.acquire() as conn:
        await conn.execute("DELETE FROM backfill_checkpoints")
    await ingest.backfill_exchange(make_deps("w3"), "woox")
    alone = sim.requests["woox"]
    # Each worker lists markets once; beyond that, no market's history is fetched twice.
    assert together <= alone + 4


async def test_backfill_resumes_after_a_crash_without_gap_or_duplicate(
    make_deps: DepsFactory, db: asyncpg.Pool, model: SimModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "CHUNK_DAYS_CAP", 10)
    deps = make_deps("crashing")
    connector = deps.connectors["bybit"]
    real_fetch = connector.fetch_daily
    calls = 0

    async def dying_fetch(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 7:
            # Like kill -9: the task dies mid-backfill and its lease is never released.
            raise asyncio.CancelledError
        return await real_fetch(*args, **kwargs)

    monkeypatch.setattr(connector, "fetch_daily", dying_fetch)
    monkeypatch.setattr(checkpoints, "release_claim", _no_release)
    with pytest.raises(asyncio.CancelledError):
        await ingest.backfill_exchange(deps, "bybit", concurrency=1)
    partial = await daily.count_daily_rows(db, "bybit")
    assert partial > 0
    monkeypatch.undo()
    await ingest.backfill_exchange(make_deps("restarted"), "bybit")
    start = SIM_NOW.date() - timedelta(days=45)
    assert await _stored_daily(db, "bybit", start, SIM_NOW.date()) == _expected_daily(
        model, "bybit", start, SIM_NOW.date()
    )
    progress = await checkpoints.select_backfill_progress(db, through=SIM_NOW.date() - timedelta(days=1))
    assert progress["bybit"].fraction == 1.0


async def _no_release(*args: Any, **kwargs: Any) -> bool:
    return False


async def test_redis_flushed_is_rebuilt_from_postgresql(
    make_deps: DepsFactory, redis: aioredis.Redis
) -> None:
    deps = make_deps("w1")
    await ingest.poll_all(deps)
    before = json.loads(await cached_current(redis, deps.settings) or b"{}")
    await redis.delete(current_key(deps.settings))
    assert await cached_current(redis, deps.settings) is None
    rebuilt = await refresh_current(deps.pool, redis, deps.settings, deps.now())
    assert [v["volume_usd"] for v in rebuilt["exchanges"]] == [v["volume_usd"] for v in before["exchanges"]]
    assert rebuilt["total_usd"] == before["total_usd"]


async def test_workers_reconnect_after_postgresql_drops_their_connections(
    make_deps: DepsFactory, db: asyncpg.Pool, pg_dsn: str, db_dsn: str
) -> None:
    deps = make_deps("w1")
    assert await ingest.poll_current(deps, "bybit")
    admin = await asyncpg.connect(pg_dsn)
    try:
        # What a PostgreSQL restart does to every open connection of this database.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            db_dsn.rsplit("/", 1)[1].split("?")[0],
        )
    finally:
        await admin.close()
    assert await _poll_with_retry(deps, "bybit")


async def _poll_with_retry(deps: ingest.Deps, exchange: Exchange) -> bool:
    # The first use of each dead pooled connection may fail (as one arq poll run would); a later poll
    # (15 s later in production) must succeed on fresh connections.
    dead_connection_errors = (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        ConnectionError,
        OSError,
    )
    for _ in range(12):
        try:
            return await ingest.poll_current(deps, exchange)
        except dead_connection_errors:
            await asyncio.sleep(0.1)
    return False


async def test_repeated_identical_poll_failures_are_logged_once_then_counted_then_recovered(
    make_deps: DepsFactory, sim: SimulatorApp, caplog: pytest.LogCaptureFixture
) -> None:
    deps = make_deps("w1")
    clock = [SIM_NOW]
    deps.now = lambda: clock[0]
    sim.faults.append(Fault(kind="error5xx", venue="woox"))
    caplog.set_level("WARNING", logger="perpvol.ingest")
    for step in range(21):  # every 15 s for 5 minutes: the same error each time
        clock[0] = SIM_NOW + timedelta(seconds=15 * step)
        assert not await ingest.poll_current(deps, "woox")
    sim.faults.clear()
    clock[0] += timedelta(seconds=15)
    assert await ingest.poll_current(deps, "woox")
    lines = [r.getMessage() for r in caplog.records if r.name == "perpvol.ingest"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("poll woox failed: ") and "HTTP 503" in lines[0]
    assert lines[1].startswith("poll woox failed 20 more times in 5 min (same error): ")
    assert lines[2] == "poll woox recovered after 21 failed polls"


# ---- a worker killed mid-backfill: the others take over (resume_backfills cron) ----


async def _kill_midway(deps: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Backfill woox in `deps` until the 3rd request, then die like kill -9 (leases left behind)."""
    connector = deps.connectors["woox"]
    real_fetch = connector.fetch_daily
    calls = 0

    async def dying_fetch(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise asyncio.CancelledError
        return await real_fetch(*args, **kwargs)

    monkeypatch.setattr(connector, "fetch_daily", dying_fetch)
    monkeypatch.setattr(checkpoints, "release_claim", _no_release)
    with pytest.raises(asyncio.CancelledError):
        await ingest.backfill_exchange(deps, "woox", concurrency=1)
    monkeypatch.undo()


async def test_resume_takes_over_a_killed_workers_markets_after_its_leases_expire(
    make_deps: DepsFactory, db: asyncpg.Pool, model: SimModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _kill_midway(make_deps("killed"), monkeypatch)
    survivor = make_deps("survivor")
    # The killed worker's lease still holds one market: the first pass leaves it.
    await ingest.resume_backfill(survivor, "woox")
    progress = await checkpoints.select_backfill_progress(db, through=SIM_NOW.date() - timedelta(days=1))
    assert progress["woox"].markets_done == progress["woox"].markets_total - 1
    await asyncio.sleep(2.1)  # PERPVOL_LEASE_SECONDS=2 in these tests
    await jobs.resume_backfills({"deps": survivor})
    start = SIM_NOW.date() - timedelta(days=45)
    assert await _stored_daily(db, "woox", start, SIM_NOW.date()) == _expected_daily(
        model, "woox", start, SIM_NOW.date()
    )
    progress = await checkpoints.select_backfill_progress(db, through=SIM_NOW.date() - timedelta(days=1))
    assert progress["woox"].fraction == 1.0


async def test_resume_over_finished_markets_sends_no_request(
    make_deps: DepsFactory, db: asyncpg.Pool, sim: Any
) -> None:
    deps = make_deps("w1")
    await ingest.backfill_exchange(deps, "woox")
    rows, requests = await daily.count_daily_rows(db), sim.requests["woox"]
    assert await ingest.resume_backfill(make_deps("w2"), "woox") == 0
    assert (await daily.count_daily_rows(db), sim.requests["woox"]) == (rows, requests)


async def test_a_venue_this_process_is_backfilling_is_not_taken_twice(make_deps: DepsFactory, sim: Any) -> None:
    ctx: dict[str, Any] = {"deps": make_deps("w1"), "active_backfills": {"woox"}}
    assert await jobs.backfill_history(ctx, "woox") == 0
    assert "woox" not in await jobs.resume_backfills(ctx)
    assert sim.requests["woox"] == 0


async def test_a_lease_is_renewed_while_a_chunk_waits_longer_than_the_lease(
    make_deps: DepsFactory, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = make_deps("slow")
    await ingest.sync_markets(deps, "woox")
    [market, *_] = [row.to_market() for row in await markets.select_markets(db, "woox")]
    connector = deps.connectors["woox"]
    real_fetch = connector.fetch_daily

    async def slow_fetch(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(3)  # longer than PERPVOL_LEASE_SECONDS=2, like a venue budget shared by many
        return await real_fetch(*args, **kwargs)

    monkeypatch.setattr(connector, "fetch_daily", slow_fetch)
    start = SIM_NOW.date() - timedelta(days=45)
    running = asyncio.create_task(ingest.backfill_market(deps, market, start, SIM_NOW.date()))
    await asyncio.sleep(2.5)
    # Past the lease's length, the market is still this run's: no other worker fetches it again.
    assert await ingest.backfill_market(make_deps("other"), market, start, SIM_NOW.date()) is None
    assert await running > 0


async def test_revise_leaves_markets_to_a_running_backfill_and_skips_ones_it_just_stored(
    make_deps: DepsFactory, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = make_deps("w1")
    await ingest.backfill_exchange(deps, "woox")
    symbols = sorted(row.symbol for row in await markets.select_markets(db, "woox", include_delisted=True))
    recently, fetching, unfinished = symbols[:3]
    async with db.acquire() as conn:
        # The backfill ran two hours before SIM_NOW, except one market stored ten minutes ago.
        await conn.execute("UPDATE backfill_checkpoints SET updated_at = $1", SIM_NOW - timedelta(hours=2))
        stored = "UPDATE backfill_checkpoints SET updated_at = $1 WHERE symbol = $2"
        await conn.execute(stored, SIM_NOW - timedelta(minutes=10), recently)
        behind = "UPDATE backfill_checkpoints SET done_through = $1 WHERE symbol = $2"
        await conn.execute(behind, SIM_NOW.date() - timedelta(days=30), unfinished)
        assert await checkpoints.try_claim(conn, "woox", fetching, ingest.BACKFILL_JOB, "w2", 60)
    fetched: list[str] = []
    real_fetch = deps.connectors["woox"].fetch_daily

    async def recording_fetch(market: Any, *args: Any) -> Any:
        fetched.append(market.symbol)
        return await real_fetch(market, *args)

    monkeypatch.setattr(deps.connectors["woox"], "fetch_daily", recording_fetch)
    await ingest.revise_recent(deps, "woox")
    delisted = {r.symbol for r in await markets.select_markets(db, "woox", include_delisted=True) if r.delisted_at}
    assert sorted(fetched) == [s for s in symbols if s not in {recently, fetching, unfinished} | delisted]
    # Once no backfill runs, the market it had not finished is revised like the others.
    async with db.acquire() as conn:
        await checkpoints.release_claim(conn, "woox", fetching, ingest.BACKFILL_JOB, "w2")
    fetched.clear()
    await ingest.revise_recent(deps, "woox")
    assert sorted(fetched) == [s for s in symbols if s not in {recently} | delisted]


async def test_revise_writes_no_day_before_the_history_the_backfill_keeps(
    make_deps: DepsFactory, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    # A history shorter than the revision window: the revision stays inside the history.
    deps.settings = deps.settings.model_copy(update={"history_days": 2, "revise_days": 5})
    await ingest.sync_markets(deps, "woox")
    assert await ingest.revise_recent(deps, "woox") > 0
    first = await db.fetchval("SELECT min(day) FROM daily_market_volume WHERE exchange = 'woox'")
    assert first == SIM_NOW.date() - timedelta(days=2)
