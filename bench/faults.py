"""Fault matrix, end to end: the simulator (in process) for the venues, the local PostgreSQL and Redis for
the rest, perpvol's own ingest, cache, serving and live-feed code in between. One line per fault:

    held                   every figure stayed right and fresh
    degraded-but-correct   the faulty part was flagged (stale, excluded, error shown), nothing wrong counted
    wrong figure           a figure was counted that the venues did not say, or an old one passed as fresh
    no recovery            after the fault cleared, perpvol did not come back on its own

    .venv/bin/python -m bench.faults [--database postgresql://postgres@127.0.0.1:5432/postgres]
                                       [--redis redis://127.0.0.1:6379/15] [--only NAME,...]

Each fault gets a fresh database (dropped afterwards) and its own Redis key prefix. Bounded: every fault
has a time limit (a fault that overruns it counts as "no recovery"); the whole matrix takes ~1 minute.
Exit status 1 when any fault ends "wrong figure" or "no recovery".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from arq import Retry

from core.current_volume import rejudge
from core.settings import Settings
from exchanges.base import EXCHANGES
from exchanges.http import RateLimiter, RetryPolicy
from exchanges.registry import connector_class, make_client
from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims
from storage.current_cache import build_from_db, cached_current, live_channel, serve_current
from storage.db import create_pool, drop_database, ensure_database, with_database
from storage.migrate import migrate
from storage.queries import status
from tests.exchanges_support import TimeoutASGITransport
from tests.faults.support import TcpProxy, refusing_postgres
from webapp.broadcast import Hub, Update
from workers import ingest, jobs
from workers.worker import serve_worker

HELD, DEGRADED, WRONG, NO_RECOVERY = "held", "degraded-but-correct", "wrong figure", "no recovery"
STALE_SECONDS = 30
FAULT_SECONDS = 60.0


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Rig:
    """One fault's world: simulator, database, Redis prefix, worker dependencies on a shared clock."""

    settings: Settings
    sim: SimulatorApp
    clock: Clock
    deps: ingest.Deps
    redis: aioredis.Redis


@contextlib.asynccontextmanager
async def rig(args: argparse.Namespace) -> AsyncIterator[Rig]:
    dsn = with_database(args.database, f"perpvol_faults_{secrets.token_hex(4)}")
    await ensure_database(dsn)
    prefix = f"perpvol-faults-{secrets.token_hex(4)}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=dsn,
        REDIS_URL=args.redis,
        PERPVOL_REDIS_PREFIX=prefix,
        PERPVOL_STALE_SECONDS=STALE_SECONDS,
        PERPVOL_HISTORY_DAYS=5,
        PERPVOL_LEASE_SECONDS=5,
        PERPVOL_HTTP_TIMEOUT=1,
    )
    clock = Clock(datetime.now(UTC) - timedelta(minutes=5))
    model = SimModel(seed=11, now=clock, history_days=30, scale=0.1)
    sim = SimulatorApp(model, venue_sims(model), enforce_limits=False)
    pool = await create_pool(dsn, min_size=1, max_size=6)
    redis = aioredis.Redis.from_url(args.redis)
    connectors = {}
    for name in EXCHANGES:
        client = make_client(
            name, settings, transport=TimeoutASGITransport(app=sim), limiter=RateLimiter(1e6, 1e6)
        )
        client.policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=1.0)
        connectors[name] = connector_class(name)(client)
    deps = ingest.Deps(settings, pool, redis, connectors, "bench", lease_retry_seconds=0.2, poll_budget=4.0)
    deps.now = clock
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield Rig(settings, sim, clock, deps, redis)
    finally:
        for connector in connectors.values():
            await connector.aclose()
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await pool.close()
        await drop_database(dsn)


async def truth(r: Rig) -> dict[str, Decimal]:
    """What each venue says right now, asked without the corrupting faults (a skewed clock is the
    venue's own truth, so it stays)."""
    kept = r.sim.faults[:]
    r.sim.faults[:] = [f for f in kept if f.kind == "skew"]
    try:
        figures = {}
        for name, connector in r.deps.connectors.items():
            clean = connector_class(name)(connector.client)
            figures[name] = (await clean.fetch_current()).total_usd
        return figures
    finally:
        r.sim.faults[:] = kept


def judge_doc(doc: dict[str, Any], right: dict[str, Decimal]) -> tuple[bool, set[str]]:
    """(no wrong figure, venues flagged stale)."""
    counted = [v for v in doc["exchanges"] if not v["stale"]]
    correct = all(Decimal(v["volume_usd"]) == right[v["exchange"]] for v in counted)
    total = sum((Decimal(v["volume_usd"]) for v in counted), Decimal(0))
    # No venue counted: no total at all (null), never "0".
    stated = Decimal(doc["total_usd"]) if doc["total_usd"] is not None else None
    consistent = stated == (total if counted else None) and set(doc["excluded"]) == {
        v["exchange"] for v in doc["exchanges"] if v["stale"]
    }
    return correct and consistent, {v["exchange"] for v in doc["exchanges"] if v["stale"]}


async def poll_fault(r: Rig, faults: list[Fault]) -> str:
    """Healthy poll, then one poll under `faults`, then one after they cleared."""
    await ingest.poll_all(r.deps)
    r.clock.at += timedelta(seconds=15)
    r.sim.faults[:] = faults
    await ingest.poll_all(r.deps)
    right = await truth(r)
    ok, stale = judge_doc(await build_from_db(r.deps.pool, r.settings, r.clock.at), right)
    r.sim.faults.clear()
    r.clock.at += timedelta(seconds=15)
    await ingest.poll_all(r.deps)
    recovered_ok, still_stale = judge_doc(
        await build_from_db(r.deps.pool, r.settings, r.clock.at), await truth(r)
    )
    if not ok or not recovered_ok:
        return WRONG
    if still_stale:
        return NO_RECOVERY
    return DEGRADED if stale else HELD


async def postgres_outage(r: Rig) -> str:
    """The cached document served while PostgreSQL refuses connections, judged at serving time."""
    r.clock.at = datetime.now(UTC) - timedelta(seconds=STALE_SECONDS * 2)
    await ingest.poll_all(r.deps)
    raw = await cached_current(r.redis, r.settings)
    if raw is None:
        return WRONG
    async with refusing_postgres() as dsn:
        down = await create_pool(dsn, min_size=0)
        try:
            doc = await serve_current(down, r.settings, json.loads(raw))
        finally:
            await down.close()
    counted_old = [v for v in doc["exchanges"] if not v["stale"] and v["age_seconds"] > STALE_SECONDS]
    if doc["served_from"] != "cache" or counted_old:
        return WRONG
    r.clock.at = datetime.now(UTC)
    await ingest.poll_all(r.deps)
    back = await serve_current(r.deps.pool, r.settings, None)
    return DEGRADED if not back["excluded"] else NO_RECOVERY


async def live_rejudged(r: Rig) -> str:
    """Nothing published after the worker died: the live feed must flag the figures stale by itself."""
    r.clock.at = datetime.now(UTC) - timedelta(seconds=STALE_SECONDS - 2)
    await ingest.poll_all(r.deps)

    def judge(doc: dict[str, Any]) -> dict[str, Any]:
        return rejudge(doc, now=datetime.now(UTC), stale_seconds=STALE_SECONDS)

    async def load() -> bytes | None:
        return await cached_current(r.redis, r.settings)

    hub = Hub(r.settings.redis_url or "", live_channel(r.settings), judge=judge, judge_seconds=0.2)
    await hub.start(load)
    try:
        async with hub.subscribe() as sub:
            first = await asyncio.wait_for(sub.next(), 5)
            if not isinstance(first, Update) or first.doc["excluded"]:
                return WRONG
            pushed = await asyncio.wait_for(sub.next(), 10)  # the hub's heartbeat comes after 15 s
    except TimeoutError:
        return WRONG  # the frozen figure stayed "live"
    finally:
        await hub.stop()
    return DEGRADED if isinstance(pushed, Update) and len(pushed.doc["excluded"]) == 4 else WRONG


async def backfill_failure(r: Rig) -> str:
    r.sim.faults[:] = [Fault(kind="error5xx", venue="woox", path="/v3/public/klineHistory")]
    try:
        await jobs.backfill_history({"deps": r.deps, "job_try": 1}, "woox")
        return WRONG
    except Retry:
        pass
    async with r.deps.pool.acquire() as conn:
        row = next(s for s in await status.select_venue_status(conn) if s.exchange == "woox")
        leases = await conn.fetchval("SELECT count(*) FROM backfill_claims")
    if row.backfill_error is None or leases:
        return WRONG
    r.sim.faults.clear()
    await jobs.backfill_history({"deps": r.deps, "job_try": 2}, "woox")
    async with r.deps.pool.acquire() as conn:
        row = next(s for s in await status.select_venue_status(conn) if s.exchange == "woox")
    return DEGRADED if row.backfill_error is None else NO_RECOVERY


async def worker_redis_stop(r: Rig) -> str:
    """A standalone worker while Redis stops and starts (through a loopback proxy that cuts it)."""
    target = urlsplit(r.settings.redis_url or "")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    port = await proxy.start()
    dead = "http://127.0.0.1:9"
    settings = r.settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{port}{target.path}", "bybit_url": dead, "woox_url": dead,
                "hyperliquid_url": dead, "paradex_url": dead}
    )
    health = f"{r.settings.redis_prefix}:arq:health"
    stop = asyncio.Event()
    worker = asyncio.create_task(serve_worker(settings, stop=stop, handle_signals=False, max_backoff=1.0))
    try:
        await until(lambda: r.redis.exists(health), 20)
        proxy.down()
        await asyncio.sleep(2)
        if worker.done():
            return NO_RECOVERY
        await r.redis.delete(health)
        proxy.restore()
        await until(lambda: r.redis.exists(health), 20)
        return DEGRADED if not worker.done() else NO_RECOVERY
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker, 30)
        await proxy.close()


async def until(check: Callable[[], Awaitable[object]], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


def poll(*faults: Fault) -> Callable[[Rig], Awaitable[str]]:
    return lambda r: poll_fault(r, list(faults))


MATRIX: dict[str, Callable[[Rig], Awaitable[str]]] = {
    "latency 300ms (bybit)": poll(Fault(kind="latency", venue="bybit", ms=300)),
    "timeout (woox)": poll(Fault(kind="timeout", venue="woox", ms=3000)),
    "throttle once (paradex)": poll(Fault(kind="throttle", venue="paradex", count=1)),
    # Retry-After outlasts the poll's budget: the venue waits its turn, then counts again.
    "throttle, Retry-After 8 (woox)": poll(Fault(kind="throttle", venue="woox", retry_after=8)),
    "HTTP 503 (hyperliquid)": poll(Fault(kind="error5xx", venue="hyperliquid")),
    "malformed body (paradex)": poll(Fault(kind="malformed", venue="paradex")),
    "truncated body (bybit)": poll(Fault(kind="truncated", venue="bybit")),
    "missing field 24hAmount (woox)": poll(Fault(kind="missing_field", venue="woox", field="24hAmount")),
    "partial answer (bybit tickers)": poll(Fault(kind="partial", venue="bybit", path="/v5/market/tickers")),
    "partial answer (woox)": poll(Fault(kind="partial", venue="woox", path="/v3/public/futures")),
    "partial answer (hyperliquid)": poll(Fault(kind="partial", venue="hyperliquid", path="/info")),
    "partial answer (paradex summary)": poll(Fault(kind="partial", venue="paradex", path="/v1/markets/summary")),
    "clock 3 min ahead (hyperliquid)": poll(Fault(kind="skew", venue="hyperliquid", ms=180_000)),
    "clock 3 h behind (bybit)": poll(Fault(kind="skew", venue="bybit", ms=-3 * 3_600_000)),
    "every venue down": poll(Fault(kind="error5xx")),
    "PostgreSQL refusing connections": postgres_outage,
    "worker dead, live feed left alone": live_rejudged,
    "backfill venue 5xx": backfill_failure,
    "Redis stop/start (worker)": worker_redis_stop,
}


async def main(args: argparse.Namespace) -> int:
    chosen = [n for n in MATRIX if not args.only or any(o.strip() in n for o in args.only.split(","))]
    width = max(len(n) for n in chosen)
    bad = 0
    started = time.monotonic()
    for name in chosen:
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(FAULT_SECONDS), rig(args) as r:
                outcome = await MATRIX[name](r)
        except TimeoutError:
            outcome = NO_RECOVERY + f" (over {FAULT_SECONDS:g}s)"
        bad += outcome.startswith((WRONG, NO_RECOVERY))
        print(f"{name:<{width}}  {outcome:<22}  {time.monotonic() - t0:5.1f}s", flush=True)
    print(f"{len(chosen)} faults, {bad} wrong or unrecovered, {time.monotonic() - started:.0f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    # The faults make perpvol log warnings by design; the table is the output.
    logging.disable(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--only", default="", help="comma-separated parts of fault names")
    sys.exit(asyncio.run(main(parser.parse_args())))
