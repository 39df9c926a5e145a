"""Backfill benchmark: 2 years x every market x 4 venues through the real ingest path (connectors with
their real client-side rate limits -> the simulator in process -> PostgreSQL), printing wall time beside
the rate-limit floor, rows written per second and the peak RSS of the process; then the storage write
alone: one backfill-sized `upsert_daily_volumes` (40 markets x 730 days) in rows per second (budget
20,000 rows/s; tests/webapp/test_queries.py checks it is a fixed number of statements, not its speed).

    .venv/bin/python bench/backfill.py [--days 730] [--venues bybit,woox,hyperliquid,paradex]
                                       [--database postgresql://postgres@127.0.0.1:5432/postgres]

A fresh database is created for the run and dropped afterwards. Hyperliquid's 1200-weight-per-minute
limit makes it the long pole (several minutes); pass --venues to leave it out.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx
import redis.asyncio as aioredis

from core.records import DailyVolume
from core.settings import Settings
from exchanges.base import EXCHANGES
from exchanges.registry import connector_class, make_client
from exchanges.sim.app import SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims
from storage.db import create_pool, drop_database, ensure_database, with_database
from storage.migrate import migrate
from storage.queries import daily
from workers import ingest


async def run(args: argparse.Namespace) -> None:
    dsn = with_database(args.database, f"perpvol_bench_{secrets.token_hex(4)}")
    await ensure_database(dsn)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=dsn,
        REDIS_URL=args.redis,
        PERPVOL_HISTORY_DAYS=args.days,
        PERPVOL_REDIS_PREFIX=f"perpvol-bench-{secrets.token_hex(3)}",
    )
    pool = await create_pool(dsn, max_size=8)
    redis = aioredis.Redis.from_url(args.redis)
    try:
        await migrate(pool)
        model = SimModel(seed=1, history_days=max(800, args.days))
        app = SimulatorApp(model, venue_sims(model), enforce_limits=False)
        venues = [v for v in args.venues.split(",") if v]
        connectors = {
            v: connector_class(v)(make_client(v, settings, transport=httpx.ASGITransport(app=app)))  # type: ignore[arg-type]
            for v in venues
        }
        deps = ingest.Deps(settings, pool, redis, connectors, "bench")  # type: ignore[arg-type]
        started = time.perf_counter()
        per_venue = await asyncio.gather(*(_one(deps, v) for v in venues))
        wall = time.perf_counter() - started
        rows = await daily.count_daily_rows(pool)
        floor = max(f for _, _, f in per_venue)
        print(f"backfill of {args.days} days, venues: {', '.join(venues)}")
        for venue, (elapsed, requests, venue_floor) in zip(venues, per_venue, strict=True):
            print(
                f"  {venue:<12} {elapsed:8.1f} s  {requests:6d} requests  rate-limit floor {venue_floor:8.1f} s"
            )
        print(f"  wall time {wall:.1f} s (floor {floor:.1f} s: venues run in parallel)")
        print(f"  {rows} market-day rows, {rows / wall:,.0f} rows/s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS {peak:.0f} MiB (this process: worker code + in-process simulator)")
        for connector in connectors.values():
            await connector.aclose()
        print(f"  storage write alone: {await write_speed(pool):,.0f} rows/s (budget 20,000), "
              "one upsert of 40 markets x 730 days")
    finally:
        await redis.aclose()
        await pool.close()
        await drop_database(dsn)


async def write_speed(pool: asyncpg.Pool) -> float:
    """Rows per second of one backfill-sized write (new symbols, so every row is an insert), best of 3."""
    today = datetime.now(UTC).date()
    best = 0.0
    for run in range(3):
        rows = [
            DailyVolume("bybit", f"BENCH{run}M{m}USDT", today - timedelta(days=d), Decimal(f"{m}.{d}"),
                        "bench", estimated=False, complete=True)
            for m in range(40) for d in range(730)
        ]
        started = time.perf_counter()
        await daily.upsert_daily_volumes(pool, rows, datetime.now(UTC))
        best = max(best, len(rows) / (time.perf_counter() - started))
    return best


async def _one(deps: ingest.Deps, venue: str) -> tuple[float, int, float]:
    started = time.perf_counter()
    await ingest.backfill_exchange(deps, venue)  # type: ignore[arg-type]
    client = deps.connectors[venue].client  # type: ignore[index]
    floor = max(0.0, (client.weight_sent - client.limiter.capacity) / client.limiter.rate)
    return time.perf_counter() - started, client.requests_sent, floor


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--venues", default=",".join(EXCHANGES))
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
