"""Dashboard budgets: server render p50 of each page with two years of history, and the overview's
HTML+CSS+JS gzipped (the chart library excluded: it loads only where a chart is shown).

    .venv/bin/python bench/pages.py [--days 730] [--markets 25] [--runs 40]

Uses PostgreSQL at PERPVOL_BENCH_DATABASE_URL (default: the local server) in a scratch database that is
dropped afterwards, and Redis at PERPVOL_BENCH_REDIS_URL (default redis://127.0.0.1:6379/15).
Budgets (issue 5): p50 < 30 ms per page; overview < 100 KB gzipped.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import load_settings  # noqa: E402
from exchanges.base import CurrentSnapshot, DailyVolume, Market, MarketVolume  # noqa: E402
from storage.db import create_pool, database_name, quote_ident, with_database  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.queries import checkpoints, daily, markets, snapshots, status  # noqa: E402
from webapp.app import create_app  # noqa: E402

PAGES = [
    "/",
    "/history",
    "/history?range=2y&granularity=daily",
    "/history?range=2y&granularity=weekly",
    "/markets",
    "/markets?sort=market&dir=asc&q=BTC",
    "/status",
    "/embed",
]
CHART_LIBRARY = re.compile(r"vendor/vega")
BUDGET_MS = 30.0
BUDGET_KB = 100.0
VENUES = ("bybit", "woox", "hyperliquid", "paradex")


async def seed(dsn: str, days: int, per_venue: int) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=4)
    now = datetime.now(UTC)
    today = now.date()
    try:
        for venue in VENUES:
            symbols = [f"{venue.upper()}-{i:03d}" for i in range(per_venue)]
            listed = [Market(venue, s, "linear", "trading", s.split("-")[1], "USD") for s in symbols]  # type: ignore[arg-type]
            await markets.upsert_markets(pool, venue, listed, now)
            rows = [
                DailyVolume(venue, s, today - timedelta(days=d), Decimal(1_000_000 + d * 37 + i), source="bench")
                for s in symbols
                for i, d in enumerate(range(1, days + 1))
            ]
            for start in range(0, len(rows), 20_000):
                await daily.upsert_daily_volumes(pool, rows[start : start + 20_000], now)
            for s in symbols:
                await checkpoints.save_checkpoint(
                    pool, venue, s, checkpoints.DEFAULT_JOB, today - timedelta(days=1), today - timedelta(days=days)
                )
            snap = CurrentSnapshot(
                venue,
                as_of=now,  # type: ignore[arg-type]
                source="bench",
                markets=tuple(MarketVolume(s, Decimal("1234567.89")) for s in symbols),
            )
            await snapshots.insert_snapshot(pool, snap, taken_at=now)
            await status.record_success(pool, venue, now)
    finally:
        await pool.close()


async def measure(dsn: str, redis_url: str, runs: int) -> tuple[dict[str, float], dict[str, int]]:
    settings = load_settings(database_url=dsn, redis_url=redis_url, redis_prefix=f"bench-{secrets.token_hex(4)}")
    app = create_app(settings)
    p50: dict[str, float] = {}
    sizes: dict[str, int] = {}
    async with app.test_app() as test_app:
        client = test_app.test_client()
        for path in PAGES:
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                response = await client.get(path)
                body = await response.get_data()
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            p50[path] = statistics.median(timings[2:])
        html = await (await client.get("/")).get_data(as_text=True)
        sizes["html"] = len(gzip.compress(html.encode(), 6))
        for src in re.findall(r'(?:src|href)="(/static/[^"?]+)', html):
            if CHART_LIBRARY.search(src) or not src.endswith((".js", ".css")):
                continue
            asset = await (await client.get(src)).get_data()
            sizes[src] = len(gzip.compress(asset, 6))
        del body
    return p50, sizes


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--markets", type=int, default=25, help="markets per venue")
    parser.add_argument("--runs", type=int, default=40)
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
        await seed(dsn, args.days, args.markets)
        print(f"seeded {args.days} days x {args.markets} markets x 4 venues in {time.perf_counter() - started:.1f}s")
        p50, sizes = await measure(dsn, redis_url, args.runs)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(database_name(dsn))} WITH (FORCE)")
        await admin.close()
    ok = True
    for path, ms in p50.items():
        flag = "ok" if ms < BUDGET_MS else "OVER"
        ok &= ms < BUDGET_MS
        print(f"render p50 {ms:7.2f} ms  {flag:4}  {path}")
    total_kb = sum(sizes.values()) / 1024
    for name, size in sizes.items():
        print(f"  gz {size / 1024:7.1f} KB  {name}")
    print(
        f"overview HTML+CSS+JS gzipped (no chart library): {total_kb:.1f} KB "
        f"({'ok' if total_kb < BUDGET_KB else 'OVER'}, budget {BUDGET_KB:.0f} KB)"
    )
    return 0 if ok and total_kb < BUDGET_KB else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
