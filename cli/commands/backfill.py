"""`perpvol backfill`, run in the CLI process against the configured storage."""

from __future__ import annotations

import os
import socket
import sys

from redis.asyncio import Redis

from cli.commands.run import prepare_database
from core.settings import Settings
from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from exchanges.registry import make_connector
from storage.db import create_pool
from workers import ingest


async def run_backfill(settings: Settings, exchanges: tuple[Exchange, ...], days: int | None) -> list[str]:
    """Backfill each venue in turn; return the venues that failed (their checkpoints are kept)."""
    await prepare_database(settings)
    pool = await create_pool(settings.database_url or "", max_size=8)
    redis = Redis.from_url(settings.redis_url or "")
    # Shares the venue budget with any running workers through Redis.
    connectors = {name: make_connector(name, settings, redis=redis) for name in exchanges}
    worker_id = f"cli:{socket.gethostname()}:{os.getpid()}"
    deps = ingest.Deps(settings, pool, redis, dict(connectors), worker_id)
    failed: list[str] = []
    try:
        for exchange in exchanges:
            print(f"backfilling {exchange} ({days or settings.history_days} days)…", file=sys.stderr)
            try:
                rows = await ingest.backfill_exchange(deps, exchange, days)
            except ExchangeError as exc:
                print(f"  {exchange}: stopped: {exc} (run again to resume)", file=sys.stderr)
                failed.append(exchange)
                continue
            print(f"  {exchange}: {rows} daily rows written", file=sys.stderr)
    finally:
        for connector in connectors.values():
            await connector.aclose()
        await redis.aclose()
        await pool.close()
    return failed
