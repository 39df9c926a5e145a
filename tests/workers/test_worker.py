"""The arq worker as deployed: its cron poll and start-up backfill, run as a burst worker against real
PostgreSQL and Redis with the simulator on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
import redis.asyncio as aioredis
from arq.worker import Worker

from core.settings import SettingsError
from storage.current_cache import cached_current
from storage.queries import daily, snapshots, status
from tests.conftest import make_settings
from workers.worker import poll_schedule, worker_settings


async def test_burst_worker_polls_every_venue_and_backfills_on_start(
    sim_url: str, db_dsn: str, db: asyncpg.Pool, redis_url: str, redis_prefix: str, redis: aioredis.Redis
) -> None:
    settings = make_settings(
        DATABASE_URL=db_dsn,
        REDIS_URL=redis_url,
        PERPVOL_REDIS_PREFIX=redis_prefix,
        PERPVOL_HISTORY_DAYS=3,
        # The simulator runs with --no-rate-limit; keep the client's limiter out of the way too.
        PERPVOL_RATE_LIMIT_SCALE=100,
        **{f"PERPVOL_{v}_URL": sim_url for v in ("BYBIT", "WOOX", "HYPERLIQUID", "PARADEX")},
    )
    worker = Worker(**worker_settings(settings), burst=True, poll_delay=0.05)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_failed == 0
    latest = {row.exchange: row for row in await snapshots.select_latest_snapshots(db)}
    assert set(latest) == {"bybit", "woox", "hyperliquid", "paradex"}
    assert all(row.volume_usd > 0 for row in latest.values())
    health = await status.select_venue_status(db)
    assert all(h.last_success is not None and h.last_error is None for h in health)
    cached = await cached_current(redis, settings)
    assert cached is not None and b'"complete":true' in cached
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = await daily.select_venue_daily(db, yesterday, yesterday)
    assert {d.exchange for d in days if d.volume_usd > Decimal(0)} == {"bybit", "woox", "hyperliquid", "paradex"}


@pytest.mark.parametrize(
    ("seconds", "minute", "second"), [(15, None, {0, 15, 30, 45}), (120, set(range(0, 60, 2)), {0})]
)
def test_poll_interval_becomes_a_cron_schedule(seconds: int, minute: set[int] | None, second: set[int]) -> None:
    assert poll_schedule(seconds) == (minute, second)


def test_a_poll_interval_that_cannot_be_scheduled_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="PERPVOL_POLL_SECONDS"):
        poll_schedule(7)
