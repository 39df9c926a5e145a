"""Completeness means every market listed that day is stored, on every surface that reports it: the
Status page, /api/exchanges, `perpvol status` (and History's gaps, which count pending markets too)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client

from core.settings import Settings
from exchanges.base import DailyVolume, Market
from storage.queries import checkpoints, daily, markets
from storage.queries.dashboard import Completeness, select_completeness
from webapp.app import create_app

ROOT = Path(__file__).resolve().parents[2]
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


def _market(symbol: str) -> Market:
    return Market("bybit", symbol, "linear", "trading", symbol[:-4], "USDT", ())


async def seed_half_backfilled(db: asyncpg.Pool) -> None:
    """Bybit lists BTCUSDT and ETHUSDT. Its venue total is stored for the last 10 days, but ETHUSDT's
    history stops 5 days ago: the last 5 totals are BTCUSDT alone and must not count as complete."""
    await markets.upsert_markets(db, "bybit", [_market("BTCUSDT"), _market("ETHUSDT")], datetime.now(UTC))
    rows = []
    for back in range(10):
        day = YESTERDAY - timedelta(days=back)
        rows.append(DailyVolume("bybit", "BTCUSDT", day, Decimal("100"), source="test"))
        if back >= 5:
            rows.append(DailyVolume("bybit", "ETHUSDT", day, Decimal("50"), source="test"))
    await daily.upsert_daily_volumes(db, rows, fetched_at=datetime.now(UTC))
    start = YESTERDAY - timedelta(days=9)
    await checkpoints.save_checkpoint(db, "bybit", "BTCUSDT", "daily_backfill", YESTERDAY, start)
    await checkpoints.save_checkpoint(db, "bybit", "ETHUSDT", "daily_backfill", YESTERDAY - timedelta(days=5), start)


async def test_a_day_counts_as_complete_only_when_every_listed_market_is_stored(db: asyncpg.Pool) -> None:
    await seed_half_backfilled(db)
    start = YESTERDAY - timedelta(days=29)
    counted = await select_completeness(db, start, YESTERDAY, ["bybit", "woox"])
    assert counted == {"bybit": Completeness(5, 30), "woox": Completeness(0, 30)}
    # Once ETHUSDT's backfill reaches yesterday, the stored days are complete.
    await checkpoints.save_checkpoint(db, "bybit", "ETHUSDT", "daily_backfill", YESTERDAY, start)
    await daily.upsert_daily_volumes(
        db,
        [
            DailyVolume("bybit", "ETHUSDT", YESTERDAY - timedelta(days=b), Decimal("50"), source="test")
            for b in range(5)
        ],
        fetched_at=datetime.now(UTC),
    )
    assert (await select_completeness(db, start, YESTERDAY, ["bybit"]))["bybit"] == Completeness(10, 30)


async def test_a_delisted_market_holds_back_only_the_days_it_was_listed(db: asyncpg.Pool) -> None:
    await seed_half_backfilled(db)
    await checkpoints.save_checkpoint(db, "bybit", "ETHUSDT", "daily_backfill", YESTERDAY, YESTERDAY)
    # OLDUSDT's history stops 9 days ago and it was delisted 7 days ago: days -8 and -7 lack it.
    await markets.upsert_markets(db, "bybit", [_market("OLDUSDT")], datetime.now(UTC))
    await db.execute(
        "UPDATE markets SET status = 'delisted', delisted_at = $1 WHERE symbol = 'OLDUSDT'",
        datetime.combine(YESTERDAY - timedelta(days=7), datetime.min.time(), UTC),
    )
    await checkpoints.save_checkpoint(
        db, "bybit", "OLDUSDT", "daily_backfill", YESTERDAY - timedelta(days=9), YESTERDAY - timedelta(days=20)
    )
    counted = await select_completeness(db, YESTERDAY - timedelta(days=9), YESTERDAY, ["bybit"])
    assert counted["bybit"] == Completeness(8, 10)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def test_status_page_and_api_exchanges_count_the_same_complete_days(
    client: Client, db: asyncpg.Pool, settings: Settings
) -> None:
    await seed_half_backfilled(db)
    expected = settings.history_days
    html = await (await client.get("/status")).get_data(as_text=True)
    assert f'<span class="num">5 of {expected}</span> UTC days since' in html
    api = await (await client.get("/api/exchanges")).get_json()
    bybit = next(v for v in api["exchanges"] if v["exchange"] == "bybit")
    assert bybit["completeness"]["days_complete"] == 5 and bybit["completeness"]["days_expected"] == expected
    assert bybit["completeness"]["through"] == YESTERDAY.isoformat()


async def test_perpvol_status_counts_the_same_complete_days(
    db: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    await seed_half_backfilled(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(
        {
            "DATABASE_URL": settings.database_url or "",
            "REDIS_URL": settings.redis_url or "",
            "PERPVOL_DATA_DIR": str(tmp_path),
        }
    )
    command = [sys.executable, "-m", "cli.main", "status"]

    def run(args: list[str]) -> str:
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True).stdout

    doc = json.loads(await asyncio.to_thread(run, [*command, "--json"]))
    bybit = next(v for v in doc["exchanges"] if v["exchange"] == "bybit")
    assert (bybit["days_complete"], bybit["days_expected"]) == (5, settings.history_days)
    table = await asyncio.to_thread(run, command)
    assert "complete days" in table and f"5 of {settings.history_days}" in table
