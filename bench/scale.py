"""Scale-out proof: several `perpvol worker` and `perpvol web` processes on one PostgreSQL and Redis,
against the simulator with its venue-style rate limits on. Prints:

- backfill from empty: wall time beside the rate-limit floor of the slowest venue (the reference fetch's
  requests plus the polls every PERPVOL_POLL_SECONDS, at perpvol's budget per venue; also at the
  documented limits), weight and requests per kind sent vs needed, 429s the simulator sent (must be 0),
  (market, day) rows missing / unexpected / with another figure than a single-process
  reference fetch (must be 0), venue totals that differ from the sum of their markets (must be 0);
- one PUBLISH reaching live WebSocket clients on every web process: p50/p99 delivery per process;
- kill -9 of one worker during the backfill and of one web process during the fan-out: the backfill
  still completes exactly, the dropped clients reconnect (to another process) and get the next update;
- /public/latest-volume throughput with 1 and 2 web processes beside nginx serving the same bytes
  (needs wrk and nginx; skipped otherwise).

    .venv/bin/python bench/scale.py                          # 3 workers, 2 web, 730 days, 2,000 clients
    .venv/bin/python bench/scale.py --clients 10000
    .venv/bin/python bench/scale.py --days 30 --market-scale 0.2 --throughput-seconds 0   # quick

Loopback only; every wait is bounded (--timeout). A fresh database and Redis prefix per run, removed after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import httpx
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from fanout import FrameSniffer, document  # noqa: E402

from core.settings import Settings  # noqa: E402
from core.venues import VENUES  # noqa: E402
from exchanges.base import EXCHANGES  # noqa: E402
from exchanges.http import RateLimiter  # noqa: E402
from exchanges.registry import connector_class, make_client  # noqa: E402
from exchanges.simulator import build_simulator  # noqa: E402
from storage.db import drop_database, ensure_database, with_database  # noqa: E402
from storage.embedded import free_port  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.queries import checkpoints  # noqa: E402
from webapp.views.live import SSE_RETRY_MS  # noqa: E402
from workers.ingest import CHUNK_DAYS_CAP  # noqa: E402

PERPVOL = [sys.executable, "-m", "cli.main"]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
Key = tuple[str, str, date]


@dataclass
class Config:
    workers: int = 3
    webs: int = 2
    days: int = 730
    market_scale: float = 1.0
    clients: int = 2000
    updates: int = 5
    throughput_seconds: float = 5.0
    kill: bool = True
    seed: int = 7
    database: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis: str = "redis://127.0.0.1:6379/13"
    timeout: float = 1800.0


@dataclass
class Report:
    backfill_seconds: float = 0.0
    floor_seconds: dict[str, float] = field(default_factory=dict)
    # Per venue: weight (requests on venues that count requests) the reference needed and the run spent.
    needed: dict[str, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    needed_kinds: dict[str, int] = field(default_factory=dict)
    poll_weight: dict[str, float] = field(default_factory=dict)
    poll_seconds: float = 15.0
    documented_floor_seconds: dict[str, float] = field(default_factory=dict)
    documented_limit: dict[str, tuple[float, float]] = field(default_factory=dict)
    expected_rows: int = 0
    missing: int = 0
    unexpected: int = 0
    mismatch_sample: list[str] = field(default_factory=list)
    different: int = 0
    venue_total_mismatches: int = 0
    throttled: dict[str, int] = field(default_factory=dict)
    worker_killed_at: str = "-"
    fanout: list[dict[str, Any]] = field(default_factory=list)
    web_killed: bool = False
    dropped_clients: int = 0
    reconnected: int = 0
    reconnect_max_seconds: float = 0.0
    delivered_after_kill: str = "-"
    throughput: list[dict[str, Any]] = field(default_factory=list)


# ---- processes --------------------------------------------------------------------------------


class Processes:
    """Children in their own process groups (a granian web process has worker children)."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, text=True, start_new_session=True, **kw)
        self.running.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen[str]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def start_sim(procs: Processes, cfg: Config) -> str:
    proc = procs.start(
        [*PERPVOL, "sim", "--port", "0", "--seed", str(cfg.seed), "--history-days", str(_sim_days(cfg)),
         "--market-scale", str(cfg.market_scale)],
        dict(os.environ),
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    match = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
    if match is None:
        raise SystemExit("the simulator did not start")
    return match.group(0)


def _sim_days(cfg: Config) -> int:
    return max(800, cfg.days + 30)


async def wait_ready(url: str, seconds: float = 60) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} never became ready")


# ---- the reference: what one process with no limits fetches -------------------------------------


async def reference(cfg: Config, report: Report) -> dict[Key, Decimal]:
    """Every (venue, market, day before today) figure, fetched in process from an identical simulator
    (same seed, same clock), and what fetching it costs each venue's budget (`report.needed`)."""
    app = build_simulator(cfg.seed, enforce_limits=False, history_days=_sim_days(cfg), market_scale=cfg.market_scale)
    settings = Settings(_env_file=None, PERPVOL_HISTORY_DAYS=cfg.days)  # type: ignore[call-arg]
    today = datetime.now(UTC).date()
    start = today - timedelta(days=cfg.days)
    rows: dict[Key, Decimal] = {}
    for venue in EXCHANGES:
        client = make_client(venue, settings, transport=httpx.ASGITransport(app=app), limiter=RateLimiter(1e9, 1e9))
        connector = connector_class(venue)(client)
        chunk = min(CHUNK_DAYS_CAP, connector.backfill_chunk_days)
        for market in await connector.list_markets():
            cursor = start
            while cursor <= today:
                end = min(today, cursor + timedelta(days=chunk - 1))
                for row in await connector.fetch_daily(market, cursor, end):
                    if row.day < today:
                        rows[(venue, row.symbol, row.day)] = row.volume_usd
                cursor = end + timedelta(days=1)
        report.needed[venue] = client.weight_sent
        # One poll of the current figures: the workers keep polling every venue during the backfill,
        # from the same budget.
        await connector.fetch_current()
        report.poll_weight[venue] = client.weight_sent - report.needed[venue]
        await connector.aclose()
    report.needed_kinds = dict(app.kinds)
    # The simulator enforces each venue's documented limit (weight per second, burst).
    report.documented_limit = {v.venue: (v.rate, v.burst) for v in app.venues}
    report.poll_seconds = settings.poll_seconds
    return rows


def floor_seconds(needed: float, poll_weight: float, poll_seconds: float, limit: tuple[float, float]) -> float:
    """The least time in which a budget of `limit` (weight per second, burst) can send `needed` weight
    while polls take `poll_weight` of it every `poll_seconds`."""
    rate, burst = limit
    return max(0.0, needed - burst) / (rate - poll_weight / poll_seconds)


async def stored(pool: asyncpg.Pool, today: date) -> dict[Key, Decimal]:
    records = await pool.fetch(
        "SELECT exchange, symbol, day, volume_usd FROM daily_market_volume WHERE day < $1", today
    )
    return {(r["exchange"], r["symbol"], r["day"]): r["volume_usd"] for r in records}


async def backfill_finished(pool: asyncpg.Pool, today: date) -> bool:
    async with pool.acquire() as conn:
        progress = await checkpoints.select_backfill_progress(conn, through=today - timedelta(days=1))
    return all(p.markets_total > 0 and p.markets_done == p.markets_total for p in progress.values())


VENUE_MISMATCHES = """
SELECT count(*) FROM (
    SELECT exchange, day, sum(volume_usd) AS total FROM daily_market_volume GROUP BY exchange, day
) AS m
FULL JOIN daily_venue_volume AS v USING (exchange, day)
WHERE v.volume_usd IS DISTINCT FROM m.total
"""


# ---- backfill ---------------------------------------------------------------------------------


async def backfill_phase(cfg: Config, procs: Processes, env: dict[str, str], dsn: str, report: Report) -> None:
    expected = await reference(cfg, report)
    for venue, needed in report.needed.items():
        # perpvol's own budget per venue (core/venues.py: a share of the venue's documented limit) ...
        report.floor_seconds[venue] = floor_seconds(
            needed, report.poll_weight[venue], report.poll_seconds, VENUES[venue].public_limit
        )
        # ... and, for comparison, the documented limit itself (what the simulator enforces).
        report.documented_floor_seconds[venue] = floor_seconds(
            needed, report.poll_weight[venue], report.poll_seconds, report.documented_limit[venue]
        )
    report.expected_rows = len(expected)
    today = datetime.now(UTC).date()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        started = time.monotonic()
        workers = [procs.start([*PERPVOL, "worker"], env) for _ in range(cfg.workers)]
        deadline = started + cfg.timeout
        killed = not (cfg.kill and cfg.workers > 1)
        while time.monotonic() < deadline:
            count = await pool.fetchval("SELECT count(*) FROM daily_market_volume WHERE day < $1", today)
            if not killed and count >= max(1, len(expected) // 3):
                procs.kill9(workers[0])
                killed = True
                report.worker_killed_at = f"{count}/{len(expected)} rows"
            # Done when the workers say so (every market's checkpoint through yesterday, written with its
            # rows): a row count alone can be reached early by rows outside the reference.
            if count >= len(expected) and killed and await backfill_finished(pool, today):
                break
            await asyncio.sleep(0.05)
        report.backfill_seconds = time.monotonic() - started
        got = await stored(pool, today)
        report.missing = len(expected.keys() - got.keys())
        report.unexpected = len(got.keys() - expected.keys())
        # A few of each, so a failing run says which (venue, market, day) went wrong.
        report.mismatch_sample = sorted(map(str, expected.keys() ^ got.keys()))[:6]
        report.different = sum(1 for k in expected.keys() & got.keys() if expected[k] != got[k])
        report.venue_total_mismatches = int(await pool.fetchval(VENUE_MISMATCHES))
    finally:
        await pool.close()


# ---- live fan-out -----------------------------------------------------------------------------


class Client(FrameSniffer):
    """A raw WebSocket reader that keeps, per client, when the awaited bench update arrived, when its
    connection dropped and when its first `volume` message came.

    One bytes search per frame and no parsing: 10,000 clients share this process's loop and the 2 cores
    with the servers, so every microsecond here would show up as the servers' latency."""

    # The update being waited for (set by publish_and_wait), as its bytes appear in the frame.
    watching: ClassVar[int] = -1
    marker: ClassVar[bytes] = b"\x00"
    arrived: ClassVar[int] = 0

    def __init__(self, upgraded: asyncio.Future[None], port: int) -> None:
        # The base class's per-seq lists are not used here: arrivals are kept in `seqs` and `arrived`.
        super().__init__({}, upgraded)
        self.port = port
        self.seqs: dict[int, float] = {}
        self.lost_at: float | None = None
        self.first_data_at: float | None = None

    @classmethod
    def watch(cls, seq: int) -> None:
        cls.watching, cls.marker, cls.arrived = seq, b'"bench_seq":%d}' % seq, 0

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.upgraded.done():
            super().data_received(data)  # the handshake (and whatever came with it)
            if not self.upgraded.done() or self.upgraded.exception() is not None:
                return
        marker = Client.marker
        if marker in data or (self.tail and marker in self.tail + data[: len(marker)]):
            if Client.watching not in self.seqs:
                self.seqs[Client.watching] = now
                Client.arrived += 1
        self.tail = data[-len(marker) :]
        if self.first_data_at is None and b'"type":"volume"' in data:
            self.first_data_at = now

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_at = time.perf_counter()


async def connect(port: int) -> Client:
    loop = asyncio.get_running_loop()
    upgraded: asyncio.Future[None] = loop.create_future()
    _, protocol = await loop.create_connection(lambda: Client(upgraded, port), "127.0.0.1", port)
    await asyncio.wait_for(upgraded, 60)
    return protocol


async def connect_many(ports: list[int], total: int) -> list[Client]:
    gate = asyncio.Semaphore(200)

    async def one(i: int) -> Client:
        async with gate:
            return await connect(ports[i % len(ports)])

    return list(await asyncio.gather(*(one(i) for i in range(total))))


async def publish_and_wait(redis: aioredis.Redis, channel: str, seq: int, clients: list[Client]) -> float:
    payload = document(seq)
    Client.watch(seq)
    sent = time.perf_counter()
    await redis.publish(channel, payload)
    deadline = sent + 30
    # polling the receive counter is the measurement
    while Client.arrived < len(clients) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    return sent


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1)


async def fanout_phase(cfg: Config, procs: Processes, webs: list[tuple[subprocess.Popen[str], int]],
                       redis: aioredis.Redis, channel: str, report: Report) -> None:
    ports = [port for _, port in webs]
    clients = await connect_many(ports, cfg.clients)
    await asyncio.sleep(0.5)  # every client has had the latest document on connect
    by_port: dict[int, list[float]] = {port: [] for port in ports}
    for step in range(cfg.updates):
        seq = 1000 + step
        sent = await publish_and_wait(redis, channel, seq, clients)
        for client in clients:
            if (arrived := client.seqs.get(seq)) is not None:
                by_port[client.port].append(arrived - sent)
        await asyncio.sleep(0.2)
    for index, port in enumerate(ports):
        latencies = by_port[port]
        count = sum(1 for c in clients if c.port == port)
        report.fanout.append({
            "process": f"web {index + 1} (:{port})",
            "clients": count,
            "delivered": f"{len(latencies)}/{count * cfg.updates}",
            "p50_ms": _percentile(latencies, 0.5),
            "p99_ms": _percentile(latencies, 0.99),
        })
    if cfg.kill and len(webs) > 1:
        await kill_a_web_process(procs, webs, clients, redis, channel, report)
    for client in clients:
        if client.transport is not None:
            client.transport.close()


async def kill_a_web_process(procs: Processes, webs: list[tuple[subprocess.Popen[str], int]],
                             clients: list[Client], redis: aioredis.Redis, channel: str, report: Report) -> None:
    victim, victim_port = webs[-1]
    survivors = [port for _, port in webs[:-1]]
    killed_at = time.perf_counter()
    procs.kill9(victim)
    report.web_killed = True
    dropped = [c for c in clients if c.port == victim_port]
    report.dropped_clients = len(dropped)
    deadline = killed_at + 10
    # the kernel closes the dropped sockets; nothing to await but their protocols' flags
    while any(c.lost_at is None for c in dropped) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    # Each dropped client reconnects at once to a surviving process (what a proxy would route to) and
    # is back when that process sends it the latest document.
    replacements = await asyncio.gather(
        *(connect(survivors[i % len(survivors)]) for i in range(len(dropped))), return_exceptions=True
    )
    back = [r for r in replacements if isinstance(r, Client)]
    while any(r.first_data_at is None for r in back) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    times = [r.first_data_at - killed_at for r in back if r.first_data_at is not None]
    report.reconnected = len(times)
    report.reconnect_max_seconds = round(max(times), 3) if times else 0.0
    everyone = [c for c in clients if c.port != victim_port] + back
    seq = 5000
    await publish_and_wait(redis, channel, seq, everyone)
    report.delivered_after_kill = f"{sum(1 for c in everyone if seq in c.seqs)}/{len(everyone)}"
    for client in back:
        if client.transport is not None:
            client.transport.close()


# ---- throughput -------------------------------------------------------------------------------


def wrk(url: str, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{max(1, int(seconds))}s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return {"req_s": float(rps.group(1)) if rps else 0.0, "p50": p50.group(1) if p50 else "-",
            "p99": p99.group(1) if p99 else "-"}


@contextmanager
def nginx_serving(body: bytes) -> Iterator[str]:
    work = Path(tempfile.mkdtemp(prefix="perpvol-bench-nginx-"))
    port = free_port()
    (work / "latest-volume.json").write_bytes(body)
    (work / "nginx.conf").write_text(f"""
worker_processes auto; daemon off; pid {work}/nginx.pid; error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
    uwsgi_temp_path {work}; scgi_temp_path {work};
    server {{
        listen 127.0.0.1:{port};
        location = /public/latest-volume {{
            default_type application/json;
            add_header Cache-Control "public, max-age=5, stale-while-revalidate=30";
            add_header Access-Control-Allow-Origin "*";
            alias {work}/latest-volume.json;
        }}
    }}
}}
""")
    proc = subprocess.Popen([NGINX or "nginx", "-c", str(work / "nginx.conf")])
    try:
        for _ in range(50):
            try:
                httpx.get(f"http://127.0.0.1:{port}/public/latest-volume", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/public/latest-volume"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


async def throughput_phase(cfg: Config, procs: Processes, env: dict[str, str], one_port: int,
                           report: Report) -> None:
    if cfg.throughput_seconds <= 0 or not shutil.which("wrk"):
        return
    port = free_port()
    procs.start([*PERPVOL, "web", "--port", str(port), "--workers", "2"], env)
    await wait_ready(f"http://127.0.0.1:{port}")
    one = f"http://127.0.0.1:{one_port}/public/latest-volume"
    async with httpx.AsyncClient(timeout=5) as client:
        body = (await client.get(one)).content
    targets = [("perpvol, 1 web process", one), ("perpvol, 2 web processes", f"http://127.0.0.1:{port}/public/latest-volume")]
    with nginx_serving(body) if NGINX else _nothing() as nginx_url:
        if nginx_url:
            targets.append(("nginx, same bytes", nginx_url))
        for name, url in targets:
            report.throughput.append({"target": name, **await asyncio.to_thread(wrk, url, cfg.throughput_seconds)})


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


# ---- the run ----------------------------------------------------------------------------------


async def run_scale(cfg: Config) -> Report:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    report = Report()
    prefix = f"perpvol-scale-{secrets.token_hex(4)}"
    dsn = with_database(cfg.database, f"perpvol_scale_{secrets.token_hex(4)}")
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    procs = Processes()
    redis = aioredis.Redis.from_url(cfg.redis)
    data_dir = tempfile.mkdtemp(prefix="perpvol-scale-")
    try:
        sim = start_sim(procs, cfg)
        env = {
            **os.environ, "DATABASE_URL": dsn, "REDIS_URL": cfg.redis, "PERPVOL_REDIS_PREFIX": prefix,
            "PERPVOL_DATA_DIR": data_dir, "PERPVOL_HISTORY_DAYS": str(cfg.days), "PERPVOL_LEASE_SECONDS": "5",
            "PERPVOL_PUBLIC_RATE_LIMIT": "1000000000", "PERPVOL_HTTP_TIMEOUT": "10",
            # Every simulated client comes from 127.0.0.1: lift the per-address stream cap for them.
            "PERPVOL_LIVE_STREAMS_PER_CLIENT": str(2 * cfg.clients + 100), "PYTHONUNBUFFERED": "1",
            **{f"PERPVOL_{v.upper()}_URL": sim for v in EXCHANGES},
        }
        webs = []
        for _ in range(cfg.webs):
            port = free_port()
            webs.append((procs.start([*PERPVOL, "web", "--port", str(port)], env), port))
        for _, port in webs:
            await wait_ready(f"http://127.0.0.1:{port}")
        await backfill_phase(cfg, procs, env, dsn, report)
        async with httpx.AsyncClient(timeout=5) as client:
            health = (await client.get(f"{sim}/_sim/health")).json()
        report.throttled, report.spent, report.kinds = health["throttled"], health["weight"], health["kinds"]
        await fanout_phase(cfg, procs, webs, redis, f"{prefix}:live", report)
        await throughput_phase(cfg, procs, env, webs[0][1], report)
    finally:
        procs.stop_all()
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await drop_database(dsn)
        shutil.rmtree(data_dir, ignore_errors=True)
    return report


def print_report(cfg: Config, report: Report) -> None:
    floor = max(report.floor_seconds.values(), default=0.0)
    print(f"{os.cpu_count()} cores; {cfg.workers} workers + {cfg.webs} web processes; {cfg.days} days; "
          f"market scale {cfg.market_scale}; simulator rate limits on")
    print("backfill from empty")
    print(f"  wall time {report.backfill_seconds:.1f} s; rate-limit floor {floor:.1f} s "
          f"(ratio {report.backfill_seconds / floor:.2f})" if floor else
          f"  wall time {report.backfill_seconds:.1f} s; rate-limit floor 0 s (all within the bursts)")
    print(f"  floor per venue (perpvol's budget, core/venues.py; polls every {report.poll_seconds:g} s included): "
          + ", ".join(f"{v} {s:.1f} s" for v, s in report.floor_seconds.items()))
    print("  floor per venue at the documented limits (what the simulator enforces): " + ", ".join(
        f"{v} {s:.1f} s" for v, s in report.documented_floor_seconds.items()))
    print("  weight spent (all requests) / needed by the backfill alone: " + ", ".join(
        f"{v} {report.spent.get(v, 0):.0f}/{n:.0f}" for v, n in report.needed.items()))
    print("  requests per kind, made (needed by the backfill): " + ", ".join(
        f"{k} {n} ({report.needed_kinds.get(k, 0)})" for k, n in sorted(report.kinds.items())))
    print(f"  429s sent by the simulator: {sum(report.throttled.values())} {report.throttled}")
    print(f"  (market, day) rows: {report.expected_rows} expected; missing {report.missing}, unexpected "
          f"{report.unexpected}, different figure {report.different}; venue totals != sum of markets: "
          f"{report.venue_total_mismatches}")
    print(f"  worker killed (-9) at {report.worker_killed_at}")
    print(f"live fan-out: {cfg.clients} WebSocket clients over {cfg.webs} web processes, {cfg.updates} PUBLISHes")
    for row in report.fanout:
        print(f"  {row['process']:<20} {row['clients']:>6} clients  delivered {row['delivered']:>12}  "
              f"p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms")
    if report.web_killed:
        print(f"  web process killed (-9): {report.dropped_clients} clients dropped, {report.reconnected} back "
              f"within {report.reconnect_max_seconds:.2f} s (SSE retry interval {SSE_RETRY_MS / 1000:g} s); "
              f"next PUBLISH delivered {report.delivered_after_kill}")
    if report.throughput:
        print("/public/latest-volume, wrk -t2 -c64")
        nginx = next((t["req_s"] for t in report.throughput if t["target"].startswith("nginx")), None)
        for row in report.throughput:
            ratio = f"  {row['req_s'] / nginx:.2f} of nginx" if nginx else ""
            print(f"  {row['target']:<26} {row['req_s']:>10,.0f} req/s  p50 {row['p50']}  p99 {row['p99']}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Config()
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--webs", type=int, default=defaults.webs)
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--market-scale", type=float, default=defaults.market_scale)
    parser.add_argument("--clients", type=int, default=defaults.clients)
    parser.add_argument("--updates", type=int, default=defaults.updates)
    parser.add_argument("--throughput-seconds", type=float, default=defaults.throughput_seconds)
    parser.add_argument("--no-kill", action="store_true", help="do not kill -9 a worker and a web process")
    parser.add_argument("--database", default=defaults.database)
    parser.add_argument("--redis", default=defaults.redis)
    parser.add_argument("--timeout", type=float, default=defaults.timeout, help="bound on the backfill wait (s)")
    args = parser.parse_args()
    cfg = Config(
        workers=args.workers, webs=args.webs, days=args.days, market_scale=args.market_scale,
        clients=args.clients, updates=args.updates, throughput_seconds=args.throughput_seconds,
        kill=not args.no_kill, database=args.database, redis=args.redis, timeout=args.timeout,
    )
    try:
        # The bench's own 10,000 clients share the two cores with the servers: keep their loop cheap
        # (as bench/fanout.py does), so the figures are the servers' and not this process's backlog.
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print_report(cfg, asyncio.run(run_scale(cfg)))


if __name__ == "__main__":
    main()
