"""Assets against the simulator: the workers list every venue's markets (scaled tickers included), store
each market's asset, and the asset totals are exactly the sums of their markets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal

import asyncpg
import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from exchanges.base import EXCHANGES
from exchanges.http import RetryPolicy
from exchanges.sim.app import SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims
from storage.queries import assets, markets
from tests.conftest import make_settings
from tests.exchanges_support import SIM_NOW, sim_connectors
from webapp.assets_doc import build_assets
from workers import ingest


def _now() -> datetime:
    return SIM_NOW


@pytest.fixture
def model() -> SimModel:
    # Full size, so that the scaled coins (PEPE, BONK, SHIB...) are listed; polling only, no backfill.
    return SimModel(seed=7, now=_now, history_days=30, scale=1.0)


@pytest.fixture
async def deps(
    db: asyncpg.Pool, redis: aioredis.Redis, model: SimModel, db_dsn: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[ingest.Deps]:
    settings: Settings = make_settings(
        DATABASE_URL=db_dsn, REDIS_URL=redis_url, PERPVOL_REDIS_PREFIX=redis_prefix,
        PERPVOL_STALE_SECONDS=10**9,
    )
    sim = SimulatorApp(model, venue_sims(model), enforce_limits=False)
    connectors = sim_connectors(settings, sim, RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=5.0))
    made = ingest.Deps(settings, db, redis, connectors, "w1", now=_now)
    yield made
    for connector in connectors.values():
        await connector.aclose()


async def test_simulated_scaled_tickers_roll_up_and_asset_totals_equal_their_markets(
    deps: ingest.Deps, db: asyncpg.Pool
) -> None:
    for exchange in EXCHANGES:
        await ingest.sync_markets(deps, exchange)
    await ingest.poll_all(deps)
    stored = {(r.exchange, r.symbol): r for r in await markets.select_markets(db)}
    assert {"1000PEPEUSDT", "SHIB1000USDT", "1000BONKUSDT"} <= {s for e, s in stored if e == "bybit"}
    rows = await assets.select_current_markets(db)
    by_key = {(r.exchange, r.symbol): r for r in rows}
    for key, asset, multiplier in [
        (("bybit", "1000PEPEUSDT"), "PEPE", 1000), (("bybit", "SHIB1000USDT"), "SHIB", 1000),
        (("woox", "PERP_1000PEPE_USDT"), "PEPE", 1000), (("hyperliquid", "kPEPE"), "PEPE", 1000),
        (("paradex", "PEPE-USD-PERP"), "PEPE", 1), (("bybit", "BTCUSD"), "BTC", 1),
    ]:
        assert (by_key[key].asset, by_key[key].asset_multiplier) == (asset, Decimal(multiplier)), key
    doc = await build_assets(db, deps.settings)
    assert doc["excluded"] == [] and doc["unmapped"] == []
    for item in doc["assets"]:
        mine = [r.volume_usd for r in rows if r.asset == item["asset"]]
        assert Decimal(item["volume_usd"]) == sum(mine, Decimal(0))
        assert item["markets"] == len(mine)
    pepe = next(a for a in doc["assets"] if a["asset"] == "PEPE")
    assert [v["exchange"] for v in pepe["exchanges"]] == ["bybit", "woox", "hyperliquid", "paradex"]
    assert sum((Decimal(a["volume_usd"]) for a in doc["assets"]), Decimal(0)) == Decimal(doc["total_usd"])


async def test_markets_stored_before_assets_existed_are_classified_on_the_next_sync(
    deps: ingest.Deps, db: asyncpg.Pool
) -> None:
    await ingest.sync_markets(deps, "hyperliquid")
    await db.execute("UPDATE markets SET asset = NULL, asset_multiplier = NULL, asset_status = NULL")
    await ingest.sync_markets(deps, "paradex")
    left = await db.fetchval("SELECT count(*) FROM markets WHERE asset_status IS NULL")
    kpepe = await db.fetchrow("SELECT asset, asset_multiplier FROM markets WHERE symbol = 'kPEPE'")
    assert left == 0 and (kpepe["asset"], kpepe["asset_multiplier"]) == ("PEPE", Decimal(1000))
