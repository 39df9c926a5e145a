"""Exact days from the rolling figures: the snapshot nearest 00:00 UTC becomes the day just ended, replaces
Hyperliquid's and Paradex's estimates (kept beside it), and the estimate error is computed; on real
PostgreSQL and Redis with the simulator crossing a midnight."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
import redis.asyncio as aioredis

from core.exact_days import DayComparison, closed_day, estimate_errors, exact_source
from core.records import CurrentSnapshot, DailyVolume, MarketVolume
from core.settings import Settings
from exchanges.http import RetryPolicy
from exchanges.sim.app import SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims
from storage.queries import daily, exact_days
from tests.conftest import make_settings
from tests.exchanges_support import sim_connectors
from webapp.view_models.status import asset_status_context
from workers import ingest
from workers.exact_days import record_midnight

D = date(2026, 11, 19)
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


def test_a_figure_read_within_one_poll_of_midnight_closes_the_day_before() -> None:
    assert closed_day(MIDNIGHT + timedelta(seconds=7), 15) == (D, Decimal(7))
    assert closed_day(MIDNIGHT - timedelta(seconds=8), 15) == (D, Decimal(-8))
    assert closed_day(MIDNIGHT + timedelta(seconds=16), 15) is None
    assert closed_day(MIDNIGHT + timedelta(hours=12), 15) is None
    assert exact_source(MIDNIGHT + timedelta(seconds=7)) == "rolling 24h at 00:00:07 UTC"


def test_estimate_error_is_the_median_and_worst_absolute_percent() -> None:
    rows = [
        DayComparison("hyperliquid", date(2026, 11, 1), Decimal(100), Decimal(102)),
        DayComparison("hyperliquid", date(2026, 11, 2), Decimal(200), Decimal(190)),
        DayComparison("hyperliquid", date(2026, 11, 3), Decimal(50), Decimal(50)),
        DayComparison("paradex", date(2026, 11, 1), Decimal(0), Decimal(3)),  # no exact volume: no ratio
    ]
    errors = estimate_errors(rows)
    assert set(errors) == {"hyperliquid"}
    hl = errors["hyperliquid"]
    assert (hl.days, hl.median_pct, hl.worst_pct) == (3, Decimal("2.00"), Decimal("5.00"))
    assert hl.worst_day == date(2026, 11, 2)


def _snapshot(exchange: str, at: datetime, **volumes: str) -> CurrentSnapshot:
    rows = tuple(MarketVolume(s, Decimal(v)) for s, v in volumes.items())
    return CurrentSnapshot(exchange, at, "test", rows)  # type: ignore[arg-type]


async def test_the_snapshot_nearest_midnight_wins_and_a_later_estimate_stays_beside_it(db: asyncpg.Pool) -> None:
    estimate = DailyVolume("hyperliquid", "BTC", D, Decimal("980"), "candle v×typical price", estimated=True)
    await daily.upsert_daily_volumes(db, [estimate], MIDNIGHT)
    assert await record_midnight(db, _snapshot("hyperliquid", MIDNIGHT - timedelta(seconds=9), BTC="990"), 15)
    assert await record_midnight(db, _snapshot("hyperliquid", MIDNIGHT + timedelta(seconds=7), BTC="1000"), 15)
    # A farther one (a retried poll) and one outside the poll interval change nothing.
    assert not await record_midnight(db, _snapshot("hyperliquid", MIDNIGHT + timedelta(seconds=12), BTC="5"), 15)
    assert not await record_midnight(db, _snapshot("hyperliquid", MIDNIGHT + timedelta(seconds=40), BTC="5"), 15)
    assert await exact_days.select_midnight_days(db, "hyperliquid") == [
        (D, MIDNIGHT + timedelta(seconds=7), Decimal(7))
    ]
    row = await db.fetchrow("SELECT * FROM daily_market_volume WHERE exchange = 'hyperliquid' AND day = $1", D)
    assert (row["volume_usd"], row["estimated"], row["source"]) == (Decimal(1000), False, "rolling 24h at 00:00:07 UTC")
    assert row["estimate_usd"] == Decimal(980)
    # The hourly revision writes a new estimate: the exact figure stays, the estimate beside it updates.
    revised = DailyVolume("hyperliquid", "BTC", D, Decimal("1030"), "candle v×typical price", estimated=True)
    await daily.upsert_daily_volumes(db, [revised], MIDNIGHT + timedelta(hours=1))
    row = await db.fetchrow("SELECT * FROM daily_market_volume WHERE exchange = 'hyperliquid' AND day = $1", D)
    assert (row["volume_usd"], row["estimate_usd"], row["estimated"]) == (Decimal(1000), Decimal(1030), False)
    [venue_day] = await daily.select_venue_daily(db, D, D, ["hyperliquid"])
    assert (venue_day.volume_usd, venue_day.estimated) == (Decimal(1000), False)


async def test_bybit_keeps_its_exact_candles_and_only_records_the_midnight_figure(db: asyncpg.Pool) -> None:
    candle = DailyVolume("bybit", "BTCUSDT", D, Decimal("5000"), "kline turnover")
    await daily.upsert_daily_volumes(db, [candle], MIDNIGHT)
    assert await record_midnight(db, _snapshot("bybit", MIDNIGHT + timedelta(seconds=3), BTCUSDT="5001"), 15)
    [venue_day] = await daily.select_venue_daily(db, D, D, ["bybit"])
    assert venue_day.volume_usd == Decimal(5000)
    assert await exact_days.select_midnight_days(db, "bybit") == [(D, MIDNIGHT + timedelta(seconds=3), Decimal(3))]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(MIDNIGHT - timedelta(seconds=10))


@pytest.fixture
async def deps(
    db: asyncpg.Pool, redis: aioredis.Redis, clock: Clock, db_dsn: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[ingest.Deps]:
    model = SimModel(seed=5, now=clock, history_days=30, scale=0.1)
    settings: Settings = make_settings(
        DATABASE_URL=db_dsn, REDIS_URL=redis_url, PERPVOL_REDIS_PREFIX=redis_prefix, PERPVOL_REVISE_DAYS=2
    )
    sim = SimulatorApp(model, venue_sims(model), enforce_limits=False)
    policy = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=5.0)
    connectors = sim_connectors(settings, sim, policy, ("hyperliquid", "paradex"))
    made = ingest.Deps(settings, db, redis, connectors, "w1", now=clock)  # type: ignore[arg-type]
    yield made
    for connector in connectors.values():
        await connector.aclose()


async def test_simulated_midnight_crossing_makes_the_day_exact_and_measures_the_estimate(
    deps: ingest.Deps, db: asyncpg.Pool, clock: Clock
) -> None:
    for exchange in ("hyperliquid", "paradex"):
        await ingest.sync_markets(deps, exchange)
    await ingest.poll_all(deps)  # 23:59:50
    clock.at = MIDNIGHT + timedelta(seconds=5)
    await ingest.poll_all(deps)  # 00:00:05: nearer, it wins
    clock.at = MIDNIGHT + timedelta(minutes=5)
    await ingest.poll_all(deps)  # not near a midnight: nothing
    for exchange in ("hyperliquid", "paradex"):
        await ingest.revise_recent(deps, exchange)  # the candle estimates of the last days
    for exchange in ("hyperliquid", "paradex"):
        [(day, as_of, offset)] = await exact_days.select_midnight_days(db, exchange)
        assert (day, as_of, offset) == (D, MIDNIGHT + timedelta(seconds=5), Decimal(5)), exchange
    rows = await db.fetch(
        "SELECT * FROM daily_market_volume WHERE exchange = 'hyperliquid' AND day = $1 ORDER BY symbol", D
    )
    midnight = {
        r["symbol"]: r["volume_usd"]
        for r in await db.fetch("SELECT * FROM midnight_market_volume WHERE exchange = 'hyperliquid'")
    }
    traded = {s for s, v in midnight.items() if v > 0}
    assert traded and {r["symbol"] for r in rows} >= traded
    for row in rows:
        if row["symbol"] in traded:
            assert row["volume_usd"] == midnight[row["symbol"]] and not row["estimated"]
            assert row["source"] == "rolling 24h at 00:00:05 UTC" and row["estimate_usd"] is not None
    # The day after is still running: estimated from candles as before.
    after = await db.fetchval(
        "SELECT bool_and(estimated) FROM daily_market_volume WHERE exchange = 'hyperliquid' AND day = $1",
        D + timedelta(days=1),
    )
    assert after is True
    context = await asset_status_context(db)
    errors = {e.exchange: e for e in context["estimate_errors"]}
    assert set(errors) == {"hyperliquid", "paradex"} and errors["hyperliquid"].days == 1
    comparison = [c for c in await exact_days.select_day_comparisons(db) if c.exchange == "hyperliquid"]
    [hl] = comparison
    expected = abs(hl.estimate_usd - hl.exact_usd) / hl.exact_usd * 100
    assert errors["hyperliquid"].worst_pct == expected.quantize(Decimal("0.01"))
