"""Live-feed fan-out: N WebSocket clients on one web process, latency from Redis PUBLISH to receipt.

    .venv/bin/python bench/fanout.py                  # 1000, 5000, 10000 clients; 5 updates each step
    .venv/bin/python bench/fanout.py --clients 2000 --updates 3

Starts `uvicorn --factory webapp.asgi:app` (one process) on loopback, opens the clients in this
process, publishes realistic current-volume documents on the live channel the way `refresh_current`
does, and prints p50/p99/max delivery latency per step. Bounded: every wait has a timeout. Needs Redis
(REDIS_URL, default redis://127.0.0.1:6379/15); PostgreSQL is not used.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.current_volume import VenueFigure, build_current  # noqa: E402

SEQ_BYTES = re.compile(rb'"bench_seq":(\d+)')
CONNECT_CONCURRENCY = 200
DELIVERY_TIMEOUT = 30.0


def document(seq: int) -> bytes:
    now = datetime.now(UTC)
    figures = [
        VenueFigure(name, Decimal(usd) + seq, now, now, 100, False, f"{name} tickers")
        for name, usd in [("bybit", "11873456712.12"), ("woox", "412345678.9"),
                          ("hyperliquid", "8123456789.12"), ("paradex", "923456789.5")]
    ]
    doc: dict[str, Any] = build_current(figures, now=now, stale_seconds=86400, data_mode="real")
    doc["bench_seq"] = seq
    return json.dumps(doc, separators=(",", ":")).encode()


class FrameSniffer(asyncio.Protocol):
    """A minimal WebSocket client: after the handshake it only looks for `"bench_seq":N` in the bytes.

    Server frames are unmasked, so the marker is visible in the raw stream; parsing frames with a full
    client library would make this process, not the server, the bottleneck at 10,000 connections.
    """

    def __init__(self, received: dict[int, list[float]], upgraded: asyncio.Future[None]) -> None:
        self.received = received
        self.upgraded = upgraded
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(  # type: ignore[attr-defined]
            f"GET /ws/live-volume HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.upgraded.done():
            if b" 101 " not in data.split(b"\r\n", 1)[0]:
                self.upgraded.set_exception(ConnectionError(data[:200].decode(errors="replace")))
                return
            self.upgraded.set_result(None)
        chunk = self.tail + data
        for match in SEQ_BYTES.finditer(chunk):
            self.received.setdefault(int(match.group(1)), []).append(now)
        self.tail = chunk[-40:] if not SEQ_BYTES.search(chunk[-40:]) else b""


class Clients:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[asyncio.Transport] = []
        self.received: dict[int, list[float]] = {}

    async def grow(self, total: int) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        loop = asyncio.get_running_loop()

        async def one() -> None:
            async with gate:
                upgraded: asyncio.Future[None] = loop.create_future()
                transport, _ = await loop.create_connection(
                    lambda: FrameSniffer(self.received, upgraded), "127.0.0.1", self.port
                )
                await asyncio.wait_for(upgraded, 60)
            self.sockets.append(transport)

        await asyncio.gather(*(one() for _ in range(total - len(self.sockets))))

    async def close(self) -> None:
        for transport in self.sockets:
            transport.close()


async def measure(clients: Clients, redis: Any, channel: str, updates: int, first_seq: int) -> dict[str, Any]:
    latencies: list[float] = []
    delivered = 0
    for seq in range(first_seq, first_seq + updates):
        payload = document(seq)
        sent = time.perf_counter()
        await redis.publish(channel, payload)
        deadline = sent + DELIVERY_TIMEOUT
        # polling the receive counters is the measurement
        while len(clients.received.get(seq, [])) < len(clients.sockets) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        got = clients.received.get(seq, [])
        delivered += len(got)
        latencies.extend(t - sent for t in got)
        await asyncio.sleep(0.5)
    latencies.sort()
    return {
        "clients": len(clients.sockets),
        "delivered": f"{delivered}/{len(clients.sockets) * updates}",
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
    }


def server_command(server: str, port: int) -> list[str]:
    if server == "granian":
        granian = str(Path(sys.executable).parent / "granian")
        return [granian, "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning", "webapp.asgi:app"]
    ws = server.removeprefix("uvicorn-") if server.startswith("uvicorn-") else "auto"
    return [sys.executable, "-m", "uvicorn", "--factory", "webapp.asgi:app", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--log-level", "warning", "--ws", ws]


def start_server(server: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Its own process group, so stop_server can end the server's workers too.
    return subprocess.Popen(server_command(server, port), cwd=ROOT, env=env, start_new_session=True)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the whole group: a granian worker can hang in its own shutdown with
    thousands of WebSockets open (granian issues #875, #884), and nothing may outlive the bench."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=15)


async def wait_until_up(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"the web process did not start on port {port}")


async def main(args: argparse.Namespace) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    prefix = f"perpvol-bench-{os.getpid()}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    env = dict(os.environ, REDIS_URL=redis_url, PERPVOL_REDIS_PREFIX=prefix,
               DATABASE_URL="postgresql://bench@127.0.0.1:1/unreachable",
               # Every bench client comes from 127.0.0.1: lift the per-address stream cap for them.
               PERPVOL_LIVE_STREAMS_PER_CLIENT=str(max(args.clients) + 100))
    server = start_server(args.server, args.port, env)
    redis = aioredis.from_url(redis_url)
    clients = Clients(args.port)
    try:
        await wait_until_up(args.port)
        print(f"{os.cpu_count()} cores; one {args.server} process; {args.updates} updates per step")
        print(f"{'clients':>8} {'delivered':>14} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'connect s':>10}")
        seq = 1
        for total in args.clients:
            began = time.perf_counter()
            await asyncio.wait_for(clients.grow(total), 300)
            connect = time.perf_counter() - began
            await asyncio.sleep(1.0)
            row = await measure(clients, redis, f"{prefix}:live", args.updates, seq)
            seq += args.updates
            print(f"{row['clients']:>8} {row['delivered']:>14} {row['p50_ms']!s:>8} {row['p99_ms']!s:>8} "
                  f"{row['max_ms']!s:>8} {connect:>10.1f}", flush=True)
    finally:
        await clients.close()
        await redis.aclose()
        stop_server(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--port", type=int, default=18083)
    parser.add_argument(
        "--server", default="uvicorn", help="uvicorn, uvicorn-websockets-sansio, uvicorn-wsproto or granian"
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parser.parse_args()))
