"""`/api/assets*` against a real PostgreSQL and Redis: assets roll up markets across venues and kinds,
scaled tickers count for the real coin, unmapped volume is listed, and everything adds up."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client

from core.settings import Settings
from exchanges.base import CurrentSnapshot, DailyVolume, Exchange, Market, MarketVolume
from storage.queries import assets, checkpoints, daily, markets, snapshots, status
from webapp.app import create_app

LISTED: dict[Exchange, list[tuple[str, str, str]]] = {
    # symbol, kind, venue base coin
    "bybit": [("BTCUSDT", "linear", "BTC"), ("BTCUSD", "inverse", "BTC"), ("BTCPERP", "linear", "BTC"),
              ("1000PEPEUSDT", "linear", "1000PEPE"), ("100XUSDT", "linear", "100X")],
    "woox": [("PERP_BTC_USDT", "linear", "BTC"), ("PERP_1000PEPE_USDT", "linear", "1000PEPE")],
    "hyperliquid": [("BTC", "linear", "BTC"), ("kPEPE", "linear", "PEPE")],
    "paradex": [("ETH-USD-PERP", "linear", "ETH")],
}
CURRENT: dict[Exchange, dict[str, str]] = {
    "bybit": {"BTCUSDT": "100.5", "BTCUSD": "20", "BTCPERP": "4", "1000PEPEUSDT": "7.25", "100XUSDT": "3"},
    "woox": {"PERP_BTC_USDT": "10", "PERP_1000PEPE_USDT": "1"},
    "hyperliquid": {"BTC": "50", "kPEPE": "2", "NEWCOIN": "0.5"},
    "paradex": {"ETH-USD-PERP": "30"},
}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings, accounts=False)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def get_json(client: Client, path: str, status_code: int = 200) -> Any:
    response = await client.get(path)
    assert response.status_code == status_code, await response.get_data(as_text=True)
    assert response.content_type == "application/json"
    return await response.get_json()


async def store(db: asyncpg.Pool, *, stale: tuple[Exchange, ...] = ()) -> None:
    now = datetime.now(UTC)
    for exchange, listed in LISTED.items():
        rows = [Market(exchange, s, k, "trading", b, "USDT") for s, k, b in listed]  # type: ignore[arg-type]
        await markets.upsert_markets(db, exchange, rows, now)
        await assets.assign_assets(db, exchange, rows)
    for exchange, figures in CURRENT.items():
        taken = now - timedelta(hours=1) if exchange in stale else now
        snap = CurrentSnapshot(
            exchange, taken, "test", tuple(MarketVolume(s, Decimal(v)) for s, v in figures.items())
        )
        await snapshots.insert_snapshot(db, snap, taken_at=taken)
        await status.record_success(db, exchange, taken)


async def test_assets_roll_up_venues_kinds_and_scaled_tickers_and_add_up_to_the_total(
    client: Client, db: asyncpg.Pool
) -> None:
    await store(db)
    doc = await get_json(client, "/api/assets")
    current = await get_json(client, "/api/volume/current")
    assert doc["total_usd"] == current["total_usd"] == "228.25"
    by_asset = {a["asset"]: a for a in doc["assets"]}
    assert [a["asset"] for a in doc["assets"]] == ["BTC", "ETH", "PEPE"]
    btc = by_asset["BTC"]
    # Linear USDT, USDC and inverse markets of BTC on Bybit are one asset; other venues add theirs.
    assert btc["volume_usd"] == "184.5" and btc["markets"] == 5
    assert [(v["exchange"], v["volume_usd"], v["markets"]) for v in btc["exchanges"]] == [
        ("bybit", "124.5", 3), ("woox", "10", 1), ("hyperliquid", "50", 1),
    ]
    assert btc["share"] == str((Decimal("184.5") / Decimal("228.25")).quantize(Decimal("0.000001")))
    assert by_asset["PEPE"]["volume_usd"] == "10.25" and by_asset["PEPE"]["markets"] == 3
    # 100X (a scale or a name?) and a symbol missing from the market list are listed, never guessed.
    assert doc["unmapped_usd"] == "3.5"
    unmapped = {(u["exchange"], u["symbol"]) for u in doc["unmapped"]}
    assert unmapped == {("bybit", "100XUSDT"), ("hyperliquid", "NEWCOIN")}
    parts = sum((Decimal(a["volume_usd"]) for a in doc["assets"]), Decimal(doc["unmapped_usd"]))
    assert parts == Decimal(doc["total_usd"])


async def test_a_stale_venue_is_shown_per_asset_but_left_out_of_every_sum(
    client: Client, db: asyncpg.Pool
) -> None:
    await store(db, stale=("hyperliquid",))
    doc = await get_json(client, "/api/assets")
    assert doc["excluded"] == ["hyperliquid"] and doc["total_usd"] == "175.75"
    btc = next(a for a in doc["assets"] if a["asset"] == "BTC")
    assert btc["volume_usd"] == "134.5" and btc["complete"] is False
    hyperliquid = next(v for v in btc["exchanges"] if v["exchange"] == "hyperliquid")
    assert hyperliquid == {
        "exchange": "hyperliquid", "label": "Hyperliquid", "volume_usd": "50", "share": None,
        "stale": True, "markets": 1,
    }
    assert doc["unmapped_usd"] == "3"
    parts = sum((Decimal(a["volume_usd"]) for a in doc["assets"]), Decimal(doc["unmapped_usd"]))
    assert parts == Decimal(doc["total_usd"])


async def test_asset_detail_lists_each_market_with_its_multiplier(client: Client, db: asyncpg.Pool) -> None:
    await store(db)
    doc = await get_json(client, "/api/assets/pepe")
    assert doc["asset"] == "PEPE" and doc["volume_usd"] == "10.25" and doc["total_usd"] == "228.25"
    markets_by_venue = {v["exchange"]: [(m["symbol"], m["multiplier"]) for m in v["markets"]] for v in doc["exchanges"]}
    assert markets_by_venue == {
        "bybit": [("1000PEPEUSDT", "1000")], "woox": [("PERP_1000PEPE_USDT", "1000")],
        "hyperliquid": [("kPEPE", "1000")],
    }


@pytest.mark.parametrize(("path", "status_code", "error"), [
    ("/api/assets/DOGE", 404, "unknown_asset"),
    ("/api/assets/BTC-USD", 400, "invalid_asset"),
    ("/api/assets/DOGE/historical", 404, "unknown_asset"),
    ("/api/assets/BTC/historical?granularity=hourly", 400, "invalid_request"),
    ("/api/assets/BTC/historical?start_date=2024-02-01&end_date=2024-01-01", 400, "invalid_range"),
    ("/api/assets?limit=0", 400, "invalid_request"),
])
async def test_bad_asset_requests_answer_4xx_json(
    client: Client, db: asyncpg.Pool, path: str, status_code: int, error: str
) -> None:
    await store(db)
    body = await get_json(client, path, status_code)
    assert body["error"] == error and body["detail"]


async def test_asset_history_sums_its_markets_on_every_venue_with_completeness_and_csv(
    client: Client, db: asyncpg.Pool
) -> None:
    await store(db)
    first = date(2024, 1, 1)
    rows = []
    for n in range(7):
        day = first + timedelta(days=n)
        rows += [DailyVolume("bybit", "BTCUSDT", day, Decimal("1.5"), "t")]
        rows += [DailyVolume("bybit", "BTCUSD", day, Decimal(1), "t")]
        rows += [DailyVolume("bybit", "1000PEPEUSDT", day, Decimal(100), "t")]  # another asset: not counted
        if n < 5:  # Hyperliquid misses two days: a gap, not a zero
            rows.append(DailyVolume("hyperliquid", "BTC", day, Decimal("0.25"), "t", estimated=True))
    await daily.upsert_daily_volumes(db, rows, datetime.now(UTC))
    for exchange, symbol in (("bybit", "BTCUSDT"), ("bybit", "BTCUSD"), ("hyperliquid", "BTC")):
        await checkpoints.save_checkpoint(db, exchange, symbol, checkpoints.DEFAULT_JOB, date(2024, 1, 7), first)
    query = "start_date=2024-01-01&end_date=2024-01-07&granularity=weekly&exchange=bybit,hyperliquid"
    doc = await get_json(client, f"/api/assets/BTC/historical?{query}")
    [week] = doc["periods"]
    assert doc["asset"] == "BTC" and week["total_usd"] == "18.75"
    bybit, hyperliquid = week["exchanges"]
    assert (bybit["volume_usd"], bybit["days_covered"], bybit["markets"], bybit["complete"]) == ("17.5", 7, 2, False)
    # Bybit's BTCPERP has no stored history: pending, so the week is not complete.
    assert bybit["markets_pending"] == 1
    assert (hyperliquid["volume_usd"], hyperliquid["days_covered"], hyperliquid["estimated"]) == ("1.25", 5, True)
    assert week["complete"] is False and week["gaps"] == ["bybit", "hyperliquid"]
    response = await client.get(f"/api/assets/BTC/historical.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "perpvol-BTC-weekly" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(await response.get_data(as_text=True))))
    assert [(r["exchange"], r["volume_usd"]) for r in table] == [
        ("bybit", "17.5"), ("hyperliquid", "1.25"), ("total", "18.75"),
    ]


async def test_public_asset_is_the_widgets_cross_venue_figure_with_open_cors(
    client: Client, db: asyncpg.Pool
) -> None:
    await store(db)
    response = await client.get("/public/asset/btc")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"].startswith("public, max-age=5")
    doc = await response.get_json()
    assert (doc["asset"], doc["total_usd"], doc["complete"], doc["window"]) == ("BTC", "184.5", True, "rolling_24h")
    assert [(v["exchange"], v["volume_usd"], v["stale"]) for v in doc["exchanges"]] == [
        ("bybit", "124.5", False), ("woox", "10", False), ("hyperliquid", "50", False),
    ]
    missing = await client.get("/public/asset/NOPE")
    assert missing.status_code == 404 and (await missing.get_json())["error"] == "unknown_asset"


async def test_assets_can_be_searched_and_limited_while_the_totals_stay_whole(
    client: Client, db: asyncpg.Pool
) -> None:
    await store(db)
    doc = await get_json(client, "/api/assets?q=e&limit=1")
    assert (doc["asset_count"], doc["matches"]) == (3, 2)
    assert [a["asset"] for a in doc["assets"]] == ["ETH"]
    assert doc["total_usd"] == "228.25"
    assert (await get_json(client, "/api/assets?q=BTC-USD", 400))["error"] == "invalid_request"


async def test_without_any_counted_venue_the_totals_are_null_not_zero(client: Client) -> None:
    doc = await get_json(client, "/api/assets")
    assert (doc["total_usd"], doc["unmapped_usd"], doc["assets"], doc["asset_count"]) == (None, None, [], 0)
    assert doc["excluded"] == ["bybit", "woox", "hyperliquid", "paradex"]
    page = await client.get("/assets")
    assert page.status_code == 200 and "No market figures yet." in await page.get_data(as_text=True)
