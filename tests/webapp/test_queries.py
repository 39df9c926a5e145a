from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from exchanges.base import CurrentSnapshot, DailyVolume, Market, MarketVolume
from storage.queries import checkpoints, daily, markets, snapshots, status

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
D0 = date(2024, 5, 1)


def market(symbol: str, status_: str = "trading", **extra: str) -> Market:
    return Market("bybit", symbol, "linear", status_, symbol[:-4], "USDT", tuple(extra.items()))  # type: ignore[arg-type]


def day_row(
    symbol: str, day: date, volume: str, *, estimated: bool = False, complete: bool = True
) -> DailyVolume:
    return DailyVolume("bybit", symbol, day, Decimal(volume), "kline turnover", estimated, complete)


def snapshot(as_of: datetime, **volumes: str) -> CurrentSnapshot:
    rows = tuple(MarketVolume(symbol, Decimal(v)) for symbol, v in volumes.items())
    return CurrentSnapshot("bybit", as_of, "tickers turnover24h", rows)


async def test_venues_are_seeded_in_display_order(db: asyncpg.Pool) -> None:
    rows = await status.select_venue_status(db)
    assert [(r.exchange, r.label) for r in rows] == [
        ("bybit", "Bybit"),
        ("woox", "WOO X"),
        ("hyperliquid", "Hyperliquid"),
        ("paradex", "Paradex"),
    ]


async def test_markets_round_trip_and_upsert_reports_new_ones(db: asyncpg.Pool) -> None:
    btc = market("BTCUSDT", category="linear")
    assert await markets.upsert_markets(db, "bybit", [btc, market("ETHUSDT")], T0) == 2
    assert await markets.upsert_markets(db, "bybit", [btc], T0 + timedelta(hours=1)) == 0
    rows = await markets.select_markets(db, "bybit")
    assert [r.symbol for r in rows] == ["BTCUSDT", "ETHUSDT"]
    assert rows[0].to_market() == btc
    assert rows[0].extra == {"category": "linear"}
    assert (rows[0].first_seen, rows[0].last_seen) == (T0, T0 + timedelta(hours=1))
    with pytest.raises(ValueError, match="another exchange"):
        await markets.upsert_markets(db, "woox", [btc], T0)


async def test_delisted_markets_keep_their_history(db: asyncpg.Pool) -> None:
    await markets.upsert_markets(db, "bybit", [market("BTCUSDT"), market("LUNAUSDT")], T0)
    await daily.upsert_daily_volumes(db, [day_row("LUNAUSDT", D0, "5")], T0)
    later = T0 + timedelta(days=1)
    assert await markets.mark_missing_markets_delisted(db, "bybit", ["BTCUSDT"], later) == ["LUNAUSDT"]
    assert await markets.mark_missing_markets_delisted(db, "bybit", ["BTCUSDT"], later) == []
    assert await markets.mark_missing_markets_delisted(db, "bybit", [], later) == []

    luna = {r.symbol: r for r in await markets.select_markets(db)}["LUNAUSDT"]
    assert (luna.status, luna.delisted_at) == ("delisted", later)
    assert await markets.count_markets(db, "bybit") == 2
    assert await markets.count_markets(db, "bybit", include_delisted=False) == 1
    assert [r.volume_usd for r in await daily.select_market_daily(db, "bybit", "LUNAUSDT", D0, D0)] == [
        Decimal("5")
    ]
    # Relisted: status comes back and delisted_at is cleared.
    await markets.upsert_markets(db, "bybit", [market("LUNAUSDT")], later)
    assert (await markets.select_markets(db, include_delisted=False))[-1].delisted_at is None


async def test_upserting_the_same_day_rows_twice_gives_the_same_totals(db: asyncpg.Pool) -> None:
    rows = [
        day_row("BTCUSDT", D0, "1234567890.12345678"),
        day_row("ETHUSDT", D0, "0.00000001", estimated=True),
        day_row("BTCUSDT", D0 + timedelta(days=1), "10", complete=False),
    ]
    for _ in range(2):
        assert await daily.upsert_daily_volumes(db, rows, T0) == 3
    venue_days = await daily.select_venue_daily(db, D0, D0 + timedelta(days=1))
    assert [(v.day, v.volume_usd, v.markets, v.estimated, v.complete) for v in venue_days] == [
        (D0, Decimal("1234567890.12345679"), 2, True, True),
        (D0 + timedelta(days=1), Decimal("10"), 1, False, False),
    ]
    assert await daily.count_daily_rows(db, "bybit") == 3
    bounds = await daily.select_daily_bounds(db)
    assert (bounds["bybit"].first_day, bounds["bybit"].last_day) == (D0, D0 + timedelta(days=1))


async def test_venue_total_follows_a_revised_market_figure(db: asyncpg.Pool) -> None:
    await daily.upsert_daily_volumes(db, [day_row("BTCUSDT", D0, "100"), day_row("ETHUSDT", D0, "50")], T0)
    await daily.upsert_daily_volumes(db, [day_row("BTCUSDT", D0, "80.5")], T0 + timedelta(hours=1))
    await daily.upsert_daily_volumes(db, [day_row("SOLUSDT", D0, "0.25")], T0 + timedelta(hours=2))
    (venue_day,) = await daily.select_venue_daily(db, D0, D0, ["bybit"])
    market_sum = await db.fetchval("SELECT sum(volume_usd) FROM daily_market_volume WHERE day = $1", D0)
    assert venue_day.volume_usd == market_sum == Decimal("130.75")
    assert venue_day.markets == 3
    assert await daily.select_venue_daily(db, D0, D0, ["woox"]) == []


async def test_parallel_writers_of_one_venue_day_lose_no_market(db: asyncpg.Pool) -> None:
    symbols = [f"C{i}USDT" for i in range(8)]
    await asyncio.gather(*(daily.upsert_daily_volumes(db, [day_row(s, D0, "1")], T0) for s in symbols))
    (venue_day,) = await daily.select_venue_daily(db, D0, D0)
    assert (venue_day.volume_usd, venue_day.markets) == (Decimal(8), 8)


async def _statements_of_one_write(conn: asyncpg.Connection, rows: list[DailyVolume]) -> list[str]:
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    conn.add_query_logger(log)
    try:
        assert await daily.upsert_daily_volumes(conn, rows, T0) == len(rows)
    finally:
        conn.remove_query_logger(log)
    return sent


async def test_a_backfill_sized_write_is_a_fixed_number_of_statements_not_one_per_row(db: asyncpg.Pool) -> None:
    # Its speed is measured in bench/backfill.py (rows per second); here, that it is built for speed:
    # 29,200 market-days go to PostgreSQL in as many statements as 10 do (arrays unnested server-side).
    rows = [day_row(f"M{m}USDT", D0 - timedelta(days=d), f"{m}.{d}") for m in range(40) for d in range(730)]
    async with db.acquire() as conn:
        await daily.upsert_daily_volumes(conn, rows[:10], T0)  # statements prepared, types introspected
        few = await _statements_of_one_write(conn, rows[:10])
        many = await _statements_of_one_write(conn, rows)
    assert len(many) == len(few) <= 5, many
    assert await daily.count_daily_rows(db) == len(rows)
    (venue_day,) = await daily.select_venue_daily(db, D0, D0)
    assert venue_day.markets == 40


async def test_duplicate_snapshot_is_ignored(db: asyncpg.Pool) -> None:
    first = snapshot(T0, BTCUSDT="100.5", ETHUSDT="50")
    assert await snapshots.insert_snapshot(db, first, T0 + timedelta(seconds=1))
    assert not await snapshots.insert_snapshot(db, first, T0 + timedelta(seconds=20))
    (latest,) = await snapshots.select_latest_snapshots(db)
    assert (latest.volume_usd, latest.markets, latest.taken_at) == (
        Decimal("150.5"),
        2,
        T0 + timedelta(seconds=1),
    )
    top = await snapshots.select_top_markets(db, 10)
    assert [(m.symbol, m.volume_usd) for m in top] == [
        ("BTCUSDT", Decimal("100.5")),
        ("ETHUSDT", Decimal(50)),
    ]


async def test_current_markets_follow_the_newest_snapshot_only(db: asyncpg.Pool) -> None:
    await markets.upsert_markets(db, "bybit", [market("SOLUSDT")], T0)
    await snapshots.insert_snapshot(db, snapshot(T0 + timedelta(minutes=1), SOLUSDT="7"), T0 + timedelta(minutes=1))
    # A poll fetched earlier that lands late goes into the history but does not replace newer figures.
    await snapshots.insert_snapshot(db, snapshot(T0, BTCUSDT="1"), T0)
    top = await snapshots.select_top_markets(db, 10, "bybit")
    assert [(m.symbol, m.volume_usd, m.base) for m in top] == [("SOLUSDT", Decimal(7), "SOL")]
    near = await snapshots.select_snapshot_near(db, "bybit", T0 + timedelta(seconds=30))
    assert near is not None and near.as_of == T0
    assert await snapshots.select_snapshot_near(db, "bybit", T0 - timedelta(days=1)) is None


async def test_venue_status_counts_consecutive_failures(db: asyncpg.Pool) -> None:
    await status.record_failure(db, "woox", T0, "HTTP 503 from /v3/public/futures")
    await status.record_failure(db, "woox", T0 + timedelta(seconds=15), "timeout")
    rows = {r.exchange: r for r in await status.select_venue_status(db)}
    assert list(rows) == ["bybit", "woox", "hyperliquid", "paradex"]
    woox = rows["woox"]
    assert (woox.consecutive_failures, woox.last_error, woox.last_success) == (2, "timeout", None)
    await status.record_success(db, "woox", T0 + timedelta(seconds=30))
    woox = {r.exchange: r for r in await status.select_venue_status(db)}["woox"]
    assert (woox.consecutive_failures, woox.last_success) == (0, T0 + timedelta(seconds=30))
    assert woox.last_error_at == T0 + timedelta(seconds=15)
    assert rows["bybit"].last_attempt is None


async def test_checkpoint_never_moves_backward(db: asyncpg.Pool) -> None:
    start = date(2023, 1, 1)
    saved = await checkpoints.save_checkpoint(
        db, "bybit", "BTCUSDT", "daily_backfill", date(2023, 6, 1), start
    )
    assert saved.done_through == date(2023, 6, 1)
    saved = await checkpoints.save_checkpoint(
        db, "bybit", "BTCUSDT", "daily_backfill", date(2023, 3, 1), start
    )
    assert saved.done_through == date(2023, 6, 1)
    found = await checkpoints.select_checkpoint(db, "bybit", "BTCUSDT", "daily_backfill")
    assert found is not None and found.done_through == date(2023, 6, 1)
    assert await checkpoints.select_checkpoint(db, "bybit", "ETHUSDT", "daily_backfill") is None


async def test_backfill_progress_weighs_days_stored(db: asyncpg.Pool) -> None:
    await markets.upsert_markets(db, "bybit", [market("BTCUSDT"), market("ETHUSDT")], T0)
    through = date(2024, 1, 10)
    start = date(2024, 1, 1)
    await checkpoints.save_checkpoint(db, "bybit", "BTCUSDT", "daily_backfill", through, start)
    await checkpoints.save_checkpoint(db, "bybit", "ETHUSDT", "daily_backfill", date(2024, 1, 5), start)
    progress = await checkpoints.select_backfill_progress(db, through=through)
    assert list(progress) == ["bybit", "woox", "hyperliquid", "paradex"]
    bybit = progress["bybit"]
    assert (bybit.markets_total, bybit.markets_done) == (2, 1)
    assert bybit.fraction == pytest.approx(0.75)
    assert progress["woox"].fraction == 0


async def test_claim_excludes_a_second_worker_until_it_expires(db: asyncpg.Pool) -> None:
    key = ("bybit", "BTCUSDT", "daily_backfill")
    assert await checkpoints.try_claim(db, *key, "worker-a", 60, at=T0)
    assert not await checkpoints.try_claim(db, *key, "worker-b", 60, at=T0 + timedelta(seconds=59))
    assert await checkpoints.try_claim(db, *key, "worker-a", 60, at=T0 + timedelta(seconds=30))  # renew
    assert not await checkpoints.try_claim(db, *key, "worker-b", 60, at=T0 + timedelta(seconds=80))
    # worker-a was killed: its lease runs out and worker-b takes the market over.
    assert await checkpoints.try_claim(db, *key, "worker-b", 60, at=T0 + timedelta(seconds=90))
    assert not await checkpoints.release_claim(db, *key, "worker-a")
    assert await checkpoints.release_claim(db, *key, "worker-b")
    assert await checkpoints.try_claim(db, *key, "worker-c", 60)
    assert await checkpoints.release_claim(db, *key, "worker-c")


async def test_concurrent_claims_have_one_winner(db: asyncpg.Pool) -> None:
    results = await asyncio.gather(
        *(checkpoints.try_claim(db, "woox", "PERP_BTC_USDT", "daily_backfill", f"w{i}", 60) for i in range(4))
    )
    assert sorted(results) == [False, False, False, True]
