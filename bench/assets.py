"""Assets budgets (issue 12): `/assets` server render p50 < 30 ms, and an asset's two-year daily history
query p50 < 20 ms, with every market of every venue stored for two years.

    .venv/bin/python bench/assets.py [--days 730] [--runs 40] [--scale 1.0]

Markets per venue as on the venues today (Bybit ~500 perps, WOO X ~150, Hyperliquid ~180, Paradex ~100;
`--scale` multiplies them), each with a current figure, 47 h of hourly samples (the 24 h change) and
`--days` daily rows. Uses PostgreSQL at
PERPVOL_BENCH_DATABASE_URL (default: the local server) in a scratch database dropped afterwards, and
Redis at PERPVOL_BENCH_REDIS_URL (default redis://127.0.0.1:6379/15). Loopback only; prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.records import CurrentSnapshot, DailyVolume, Exchange, Market, MarketVolume  # noqa: E402
from core.settings import load_settings  # noqa: E402
from exchanges.sim.model import TICKERS  # noqa: E402
from storage.db import create_pool, database_name, quote_ident, with_database  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.queries import assets, checkpoints, daily, markets, snapshots, status  # noqa: E402
from webapp.app import create_app  # noqa: E402

RENDER_BUDGET_MS = 30.0
QUERY_BUDGET_MS = 20.0
COUNTS: dict[Exchange, int] = {"bybit": 500, "woox": 150, "hyperliquid": 180, "paradex": 100}
SCALED = {"PEPE", "BONK", "SHIB", "FLOKI"}
PAGES = (
    "/assets", "/assets?q=PE", "/assets/BTC?range=2y&granularity=daily", "/assets/compare?assets=BTC,ETH,SOL&range=2y",
)


def coin(i: int) -> str:
    return TICKERS[i] if i < len(TICKERS) else f"SIM{i}"


def venue_markets(venue: Exchange, count: int) -> list[Market]:
    """The venue's perps named as the venue names them (scaled tickers included)."""
    listed = []
    for i in range(count):
        base = coin(i)
        if venue == "bybit":
            raw = f"1000{base}" if base in SCALED else base
            listed.append(Market(venue, f"{raw}USDT", "linear", "trading", raw, "USDT"))
            if i < 12:
                listed.append(Market(venue, f"{base}USD", "inverse", "trading", base, "USD"))
            if i < 30:
                listed.append(Market(venue, f"{base}PERP", "linear", "trading", base, "USDC"))
        elif venue == "woox":
            raw = f"1000{base}" if base in SCALED else base
            listed.append(Market(venue, f"PERP_{raw}_USDT", "linear", "trading", raw, "USDT"))
        elif venue == "hyperliquid":
            name = f"k{base}" if base in SCALED else base
            listed.append(Market(venue, name, "linear", "trading", base, "USDC"))
        else:
            listed.append(Market(venue, f"{base}-USD-PERP", "linear", "trading", base, "USD"))
    return listed


async def seed(dsn: str, days: int, scale: float) -> int:
    pool = await create_pool(dsn, min_size=1, max_size=4)
    now = datetime.now(UTC)
    today = now.date()
    stored = 0
    try:
        for venue, count in COUNTS.items():
            listed = venue_markets(venue, max(1, round(count * scale)))
            await markets.upsert_markets(pool, venue, listed, now)
            await assets.assign_assets(pool, venue, listed)
            rows = [
                DailyVolume(venue, m.symbol, today - timedelta(days=d), Decimal(1_000_000 + d * 37 + n), "bench")
                for n, m in enumerate(listed)
                for d in range(1, days + 1)
            ]
            for start in range(0, len(rows), 25_000):
                await daily.upsert_daily_volumes(pool, rows[start : start + 25_000], now)
            stored += len(rows)
            for m in listed:
                done, first = today - timedelta(days=1), today - timedelta(days=days)
                await checkpoints.save_checkpoint(pool, venue, m.symbol, checkpoints.DEFAULT_JOB, done, first)
            volumes = tuple(MarketVolume(m.symbol, Decimal(5_000_000 - n)) for n, m in enumerate(listed))
            # 47 h of hourly per-market samples first (as a worker running two days leaves), so the
            # render pays for the 24 h change look-up at its real size; the current poll comes last.
            for hours in range(47, 0, -1):
                at = now - timedelta(hours=hours)
                await snapshots.insert_snapshot(pool, CurrentSnapshot(venue, at, "bench", volumes), taken_at=at)
            await snapshots.insert_snapshot(pool, CurrentSnapshot(venue, now, "bench", volumes), taken_at=now)
            await status.record_success(pool, venue, now)
        async with pool.acquire() as conn:
            await conn.execute("ANALYZE")
    finally:
        await pool.close()
    return stored


async def p50(runs: int, call: Callable[[], Awaitable[object]]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[2:])


async def measure(dsn: str, redis_url: str, days: int, runs: int) -> dict[str, float]:
    settings = load_settings(database_url=dsn, redis_url=redis_url, redis_prefix=f"bench-{secrets.token_hex(4)}")
    app = create_app(settings)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=days - 1)
    figures: dict[str, float] = {}
    async with app.test_app() as test_app:
        client = test_app.test_client()

        def page(path: str) -> Callable[[], Awaitable[object]]:
            async def get() -> object:
                response = await client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return await response.get_data()

            return get

        pool = app.extensions["pool"]

        async def history_query() -> object:
            async with pool.acquire() as conn:
                return await assets.select_asset_period_volumes(conn, "BTC", start, today, "daily", list(COUNTS))

        figures["query: BTC daily history, 2 years (select_asset_period_volumes)"] = await p50(runs, history_query)
        api = f"/api/assets/BTC/historical?start_date={start}&end_date={today}&granularity=daily"
        figures[f"GET {api}"] = await p50(runs, page(api))
        for path in PAGES:
            figures[f"render {path}"] = await p50(runs, page(path))
    return figures


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the markets per venue")
    args = parser.parse_args()
    server = os.environ.get("PERPVOL_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("PERPVOL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    dsn = with_database(server, f"perpvol_bench_{secrets.token_hex(4)}")
    admin = await asyncpg.connect(server)
    await admin.execute(f"CREATE DATABASE {quote_ident(database_name(dsn))}")
    try:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()
        started = time.perf_counter()
        rows = await seed(dsn, args.days, args.scale)
        print(f"seeded {rows:,} market-day rows ({args.days} days) in {time.perf_counter() - started:.1f}s")
        figures = await measure(dsn, redis_url, args.days, args.runs)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(database_name(dsn))} WITH (FORCE)")
        await admin.close()
    ok = True
    for name, ms in figures.items():
        budget = QUERY_BUDGET_MS if name.startswith("query") else RENDER_BUDGET_MS if name == "render /assets" else None
        flag = "" if budget is None else ("ok" if ms < budget else "OVER") + f" (budget {budget:.0f} ms)"
        ok &= budget is None or ms < budget
        print(f"p50 {ms:7.2f} ms  {name}  {flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
