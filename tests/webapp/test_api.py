"""The JSON API against a real PostgreSQL and Redis: figures, periods, completeness and every error."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from core.settings import Settings
from exchanges.base import CurrentSnapshot, DailyVolume, Exchange, Market, MarketVolume
from storage.current_cache import current_key, encode
from storage.queries import checkpoints, daily, markets, snapshots, status
from tests.conftest import make_settings
from webapp.app import create_app

NOW = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def get_json(client: Client, path: str, status_code: int = 200) -> Any:
    response = await client.get(path)
    assert response.status_code == status_code, await response.get_data(as_text=True)
    assert response.content_type == "application/json"
    return await response.get_json()


def day_row(exchange: Exchange, symbol: str, day: date, usd: str, complete: bool = True) -> DailyVolume:
    return DailyVolume(exchange, symbol, day, Decimal(usd), source="test kline", complete=complete)


async def store_days(db: asyncpg.Pool, rows: list[DailyVolume]) -> None:
    await daily.upsert_daily_volumes(db, rows, fetched_at=NOW)


def days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


# ---- /api/volume/current ----


async def test_current_volume_without_data_lists_every_venue_as_stale(client: Client) -> None:
    doc = await get_json(client, "/api/volume/current")
    assert [v["exchange"] for v in doc["exchanges"]] == ["bybit", "woox", "hyperliquid", "paradex"]
    assert all(v["stale"] and v["volume_usd"] is None for v in doc["exchanges"])
    assert doc["total_usd"] is None and doc["complete"] is False
    assert doc["no_data_reason"] == "no figures yet: the first poll has not finished"
    assert doc["window"] == "rolling_24h" and doc["unit"] == "USD" and doc["served_from"] == "database"


async def test_current_volume_when_every_venue_fails_has_a_null_total_and_says_no_exchange_is_reachable(
    client: Client, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    for exchange in ("bybit", "woox", "hyperliquid", "paradex"):
        await status.record_failure(db, exchange, now, f"{exchange}: [Errno -2] Name or service not known")
    doc = await get_json(client, "/api/volume/current")
    assert doc["total_usd"] is None and doc["excluded"] == ["bybit", "woox", "hyperliquid", "paradex"]
    assert doc["no_data_reason"] == "cannot reach any exchange"


async def test_current_volume_sums_fresh_venues_and_lists_top_markets(
    client: Client, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    for exchange, figures in {"bybit": ("10.5", "2"), "hyperliquid": ("7.25",)}.items():
        snap = CurrentSnapshot(
            exchange,  # type: ignore[arg-type]
            as_of=now,
            source=f"{exchange} tickers",
            markets=tuple(MarketVolume(f"M{i}", Decimal(v)) for i, v in enumerate(figures)),
        )
        await snapshots.insert_snapshot(db, snap, taken_at=now)
        await status.record_success(db, exchange, now)
    doc = await get_json(client, "/api/volume/current?markets=2")
    assert doc["total_usd"] == "19.75"
    bybit = doc["exchanges"][0]
    assert bybit["volume_usd"] == "12.5" and bybit["stale"] is False and bybit["source"] == "bybit tickers"
    assert [(m["exchange"], m["volume_usd"]) for m in doc["top_markets"]] == [
        ("bybit", "10.5"),
        ("hyperliquid", "7.25"),
    ]
    assert doc["excluded"] == ["woox", "paradex"]


@pytest.mark.parametrize("query", ["markets=0", "markets=101", "markets=abc", "markets=1&markets=2"])
async def test_current_volume_rejects_bad_market_counts(client: Client, query: str) -> None:
    body = await get_json(client, f"/api/volume/current?{query}", 400)
    assert body["error"] == "invalid_request" and body["detail"][0]["loc"] == ["markets"]


# ---- /api/volume/historical ----


async def test_weekly_periods_start_monday_and_sum_exactly(
    client: Client, db: asyncpg.Pool
) -> None:
    # 2024-01-01 is a Monday; 0.1 + 0.2 must be exactly 0.3, never a float.
    rows = [day_row("bybit", "BTCUSDT", d, "0.1") for d in days(date(2024, 1, 1), 14)]
    rows += [day_row("bybit", "ETHUSDT", d, "0.2") for d in days(date(2024, 1, 1), 14)]
    rows += [day_row("woox", "PERP_BTC_USDT", d, "1000000000.000001") for d in days(date(2024, 1, 1), 14)]
    await store_days(db, rows)
    doc = await get_json(
        client,
        "/api/volume/historical?start_date=2024-01-01&end_date=2024-01-14&granularity=weekly"
        "&exchange=bybit,woox",
    )
    assert doc["exchanges"] == ["bybit", "woox"] and doc["week_start"] == "monday"
    assert [p["period_start"] for p in doc["periods"]] == ["2024-01-01", "2024-01-08"]
    week = doc["periods"][0]
    assert week["period_end"] == "2024-01-07" and week["days_expected"] == 7
    bybit, woox = week["exchanges"]
    assert bybit["volume_usd"] == str(Decimal("0.3") * 7) == "2.1"
    assert woox["volume_usd"] == "7000000000.000007"
    assert week["total_usd"] == "7000000002.100007"
    assert week["complete"] is True and bybit["markets"] == 2 and bybit["days_covered"] == 7


async def test_monthly_periods_split_on_calendar_months_and_clip_to_range(
    client: Client, db: asyncpg.Pool
) -> None:
    await store_days(db, [day_row("paradex", "BTC-USD-PERP", d, "1.5") for d in days(date(2024, 1, 30), 4)])
    doc = await get_json(
        client,
        "/api/volume/historical?start_date=2024-01-30&end_date=2024-02-02&granularity=monthly"
        "&exchange=paradex",
    )
    jan, feb = doc["periods"]
    assert (jan["period_start"], jan["period_end"], jan["days_expected"]) == ("2024-01-30", "2024-01-31", 2)
    assert (feb["period_start"], feb["period_end"], feb["days_expected"]) == ("2024-02-01", "2024-02-02", 2)
    assert jan["exchanges"][0]["volume_usd"] == "3.0" and feb["total_usd"] == "3.0"


async def test_gap_days_are_flagged_never_silent_zero(client: Client, db: asyncpg.Pool) -> None:
    week = days(date(2024, 1, 1), 7)
    await store_days(db, [day_row("bybit", "BTCUSDT", d, "5") for d in week if d != date(2024, 1, 3)])
    doc = await get_json(
        client, "/api/volume/historical?start_date=2024-01-01&end_date=2024-01-07&exchange=bybit,woox"
    )
    by_day = {p["period_start"]: p for p in doc["periods"]}
    gap = by_day["2024-01-03"]
    assert gap["total_usd"] is None and gap["complete"] is False and gap["gaps"] == ["bybit", "woox"]
    assert gap["exchanges"][0] == {
        "exchange": "bybit", "volume_usd": None, "days_covered": 0, "days_expected": 1,
        "days_incomplete": 0, "markets": 0, "markets_pending": 0, "estimated": False, "complete": False,
    }
    # A venue with no stored day is null and flagged, while the total keeps the venues that have data.
    assert by_day["2024-01-02"]["total_usd"] == "5" and by_day["2024-01-02"]["gaps"] == ["woox"]
    weekly = await get_json(
        client, "/api/volume/historical?start_date=2024-01-01&end_date=2024-01-07&granularity=weekly"
        "&exchange=bybit"
    )
    venue = weekly["periods"][0]["exchanges"][0]
    assert (venue["volume_usd"], venue["days_covered"], venue["complete"]) == ("30", 6, False)


async def test_open_day_and_unfinished_backfill_mark_periods_incomplete(
    client: Client, db: asyncpg.Pool
) -> None:
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    await store_days(db, [day_row("woox", "PERP_BTC_USDT", today, "1", complete=False)])
    await store_days(db, [day_row("woox", "PERP_BTC_USDT", yesterday, "2")])
    listed = [Market("woox", s, "linear", "trading", s, "USDT") for s in ("PERP_BTC_USDT", "PERP_ETH_USDT")]
    await markets.upsert_markets(db, "woox", listed, NOW)
    job = checkpoints.DEFAULT_JOB
    await checkpoints.save_checkpoint(db, "woox", "PERP_BTC_USDT", job, yesterday, date(2024, 1, 1))
    doc = await get_json(client, f"/api/volume/historical?start_date={yesterday}&exchange=woox")
    before, now = (p["exchanges"][0] for p in doc["periods"])
    assert (before["markets_pending"], before["complete"]) == (1, False)  # ETH has no history yet
    assert (now["days_incomplete"], now["complete"]) == (1, False)


async def test_default_range_is_the_last_365_days(client: Client) -> None:
    doc = await get_json(client, "/api/volume/historical")
    today = datetime.now(UTC).date()
    assert doc["end_date"] == today.isoformat()
    assert doc["start_date"] == (today - timedelta(days=364)).isoformat()
    assert len(doc["periods"]) == 365 and doc["granularity"] == "daily"
    assert all(p["total_usd"] is None and not p["complete"] for p in doc["periods"])


async def test_historical_as_csv_by_accept_header_and_by_suffix(
    client: Client, db: asyncpg.Pool
) -> None:
    await store_days(db, [day_row("bybit", "BTCUSDT", date(2024, 1, 1), "12.34")])
    query = "start_date=2024-01-01&end_date=2024-01-01&exchange=bybit"
    by_accept = await client.get(f"/api/volume/historical?{query}", headers={"Accept": "text/csv"})
    by_suffix = await client.get(f"/api/volume/historical.csv?{query}")
    for response in (by_accept, by_suffix):
        assert response.status_code == 200 and response.mimetype == "text/csv"
        table = list(csv.DictReader(io.StringIO(await response.get_data(as_text=True))))
        assert [(r["exchange"], r["volume_usd"], r["complete"]) for r in table] == [
            ("bybit", "12.34", "true"),
            ("total", "12.34", "true"),
        ]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("start_date=2024-13-01", "invalid_request"),
        ("end_date=yesterday", "invalid_request"),
        ("start_date=2024-02-01&end_date=2024-01-01", "invalid_range"),
        ("end_date=2999-01-01", "invalid_range"),
        ("granularity=hourly", "invalid_request"),
        ("exchange=bybit,binance", "unknown_exchange"),
        ("start_date=2016-01-01&end_date=2026-11-20", "range_too_large"),
        ("end_date=0001-01-01", "invalid_range"),
        ("start_date=20250101", "invalid_request"),
    ],
)
async def test_historical_rejects_bad_input_with_json_400(
    client: Client, query: str, error: str
) -> None:
    body = await get_json(client, f"/api/volume/historical?{query}", 400)
    assert body["error"] == error and body["detail"]


async def test_unknown_paths_and_methods_answer_json(client: Client) -> None:
    missing = await get_json(client, "/api/nope", 404)
    assert missing["error"] == "not_found"
    response = await client.post("/api/exchanges")
    assert response.status_code == 405 and (await response.get_json())["error"] == "method_not_allowed"


# ---- /api/exchanges ----


async def test_exchanges_report_health_and_backfill_progress(
    client: Client, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    yesterday = now.date() - timedelta(days=1)
    await status.record_success(db, "bybit", now)
    await status.record_failure(db, "woox", now, "HTTP 429 from https://api.woox.io: rate limited")
    listed = [Market("bybit", s, "linear", "trading", s, "USDT") for s in ("BTCUSDT", "ETHUSDT")]
    await markets.upsert_markets(db, "bybit", listed, now)
    await checkpoints.save_checkpoint(db, "bybit", "BTCUSDT", checkpoints.DEFAULT_JOB, yesterday, yesterday)
    await store_days(db, [day_row("bybit", "BTCUSDT", yesterday, "1")])
    doc = await get_json(client, "/api/exchanges")
    bybit, woox, hyperliquid, _ = doc["exchanges"]
    assert bybit["healthy"] is True and bybit["backfill"] == {
        "markets_total": 2, "markets_done": 1, "fraction": 0.5, "error": None, "error_at": None, "retry_at": None,
    }
    assert bybit["history_first_day"] == yesterday.isoformat()
    assert woox["healthy"] is False and "rate limited" in woox["last_error"]
    assert woox["consecutive_failures"] == 1
    assert hyperliquid["last_attempt"] is None and hyperliquid["healthy"] is False


# ---- storage down ----


async def test_postgres_down_answers_503_json_and_current_falls_back_to_cache(
    settings: Settings, redis: Any
) -> None:
    doc: dict[str, Any] = {"as_of": "2024-03-01T00:00:00Z", "data_mode": "real", "exchanges": []}
    await redis.set(current_key(settings), encode(doc))
    down = make_settings(
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/none",
        REDIS_URL=settings.redis_url,
        PERPVOL_REDIS_PREFIX=settings.redis_prefix,
    )
    app: Quart = create_app(down)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        body = await get_json(client, "/api/exchanges", 503)
        assert body["error"] == "unavailable"
        current = await get_json(client, "/api/volume/current")
        assert current["served_from"] == "cache" and current["as_of"] == doc["as_of"]


async def test_docs_use_vendored_swagger_ui_and_openapi_lists_the_api(client: Client) -> None:
    page = await (await client.get("/docs")).get_data(as_text=True)
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert (await client.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js")).status_code == 200
    spec = await get_json(client, "/openapi.json")
    documented = {"/api/volume/current", "/api/volume/historical", "/api/exchanges", "/public/latest-volume"}
    assert documented <= set(spec["paths"])
    assert "UTC" in spec["paths"]["/api/volume/historical"]["get"]["description"]
