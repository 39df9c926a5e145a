"""The Assets, Asset and Compare pages against a real PostgreSQL and Redis: the API's figures rendered on
the server, search, htmx partials, the live `assets` event, chart exports and the Status page's list of
markets without an asset."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client

from core.settings import Settings
from exchanges.base import CurrentSnapshot, DailyVolume, Exchange, Market, MarketVolume
from storage.current_cache import build_from_db, encode
from storage.queries import assets, daily, markets, snapshots, status
from webapp.app import create_app
from webapp.broadcast import Update
from webapp.view_models import assets as assets_view_model
from webapp.views import assets_page

HX = {"HX-Request": "true"}
LISTED: dict[Exchange, list[tuple[str, str]]] = {
    "bybit": [("BTCUSDT", "BTC"), ("1000PEPEUSDT", "1000PEPE"), ("ETHUSDT", "ETH"), ("100XUSDT", "100X")],
    "hyperliquid": [("BTC", "BTC"), ("kPEPE", "PEPE")],
}
CURRENT: dict[Exchange, dict[str, str]] = {
    "bybit": {"BTCUSDT": "12345678901.23", "1000PEPEUSDT": "5000000", "ETHUSDT": "900000000", "100XUSDT": "7"},
    "hyperliquid": {"BTC": "7000000.125", "kPEPE": "1000000"},
}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings, accounts=False)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def seed(db: asyncpg.Pool) -> date:
    now = datetime.now(UTC)
    for exchange, listed in LISTED.items():
        rows = [Market(exchange, s, "linear", "trading", b, "USDT") for s, b in listed]
        await markets.upsert_markets(db, exchange, rows, now)
        await assets.assign_assets(db, exchange, rows)
    for exchange, figures in CURRENT.items():
        snap = CurrentSnapshot(exchange, now, "t", tuple(MarketVolume(s, Decimal(v)) for s, v in figures.items()))
        await snapshots.insert_snapshot(db, snap, taken_at=now)
        await status.record_success(db, exchange, now)
    today = now.date()
    days = [today - timedelta(days=n) for n in range(1, 31)]
    rows = [DailyVolume("bybit", "BTCUSDT", d, Decimal("1000.5"), "k") for d in days]
    rows += [DailyVolume("hyperliquid", "BTC", d, Decimal(250), "c", estimated=True) for d in days]
    rows += [DailyVolume("bybit", "ETHUSDT", d, Decimal(500), "k") for d in days]
    await daily.upsert_daily_volumes(db, rows, now)
    return today


async def text(client: Client, path: str, headers: dict[str, str] | None = None, code: int = 200) -> str:
    response = await client.get(path, headers=headers or {})
    assert response.status_code == code, await response.get_data(as_text=True)
    return await response.get_data(as_text=True)


async def test_assets_page_lists_assets_by_volume_with_the_venue_split(client: Client, db: asyncpg.Pool) -> None:
    await seed(db)
    html = await text(client, "/assets")
    rows = re.findall(r'<tr class="[^"]*" data-asset="([A-Z0-9]+)"', html)
    assert rows == ["BTC", "ETH", "PEPE"]
    assert 'sse-connect="/live/assets"' in html and 'sse-swap="assets"' in html
    # The split bar: Bybit then Hyperliquid, widths from the API's shares.
    btc = html[html.index('data-asset="BTC"'):html.index('data-asset="ETH"')]
    assert re.findall(r'<rect x="([\d.]+)" width="([\d.]+)"', btc)[0][0] == "0.000"
    assert "$12.35B" in btc and 'aria-current="page"' in html
    assert "1 listed" in html  # 100XUSDT is unmapped, never guessed


async def test_assets_search_is_an_htmx_partial_without_the_live_swap(client: Client, db: asyncpg.Pool) -> None:
    await seed(db)
    html = await text(client, "/assets?q=pe", HX)
    assert "<html" not in html and re.findall(r'data-asset="([A-Z0-9]+)"', html) == ["PEPE"]
    # A filtered table must not be overwritten by the next live update of the unfiltered one.
    assert "sse-swap" not in html
    assert "No asset matches" in await text(client, "/assets?q=zzz", HX)


async def test_live_assets_event_is_rendered_once_per_update(settings: Settings, db: asyncpg.Pool) -> None:
    await seed(db)
    app = create_app(settings, accounts=False)
    async with app.test_app():
        doc = await build_from_db(app.extensions["pool"], settings)
        update = Update(seq=3, payload=encode(doc))
        first = await assets_page.render_assets_events(app, update)
        again = await assets_page.render_assets_events(app, update)
    assert first is again
    assert re.findall(rb"^event: (\S+)$", first, re.M) == [b"assets"]
    assert b'id="assets-table"' in first and b"$12.35B" in first
    assert b'id="assets-panel"' not in first  # the region around it stays, so a search in flight lands


async def test_asset_page_shows_venues_markets_multipliers_and_history(client: Client, db: asyncpg.Pool) -> None:
    await seed(db)
    html = await text(client, "/assets/pepe")
    assert "1000PEPEUSDT" in html and "kPEPE" in html and "1000 PEPE" in html
    btc = await text(client, "/assets/BTC?range=30d&granularity=weekly")
    assert 'id="asset-spec"' in btc and '"title":"USD volume"' in btc
    share = await text(client, "/assets/BTC?range=30d&view=share")
    assert '"title":"Share of total"' in share
    assert "/api/assets/BTC/historical.csv?" in btc
    partial = await text(client, "/assets/BTC?range=90d", HX)
    assert partial.lstrip().startswith('<section id="asset-history"')
    assert "ETHUSDT" not in partial
    assert "no perp market" in await text(client, "/assets/DOGE", code=404)
    assert "no perp market" in await text(client, "/assets/BTC-USD", code=404)


async def test_asset_chart_downloads_as_png(client: Client, db: asyncpg.Pool) -> None:
    await seed(db)
    response = await client.get("/assets/BTC/chart.png?range=30d&view=share")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert (await response.get_data())[:8] == b"\x89PNG\r\n\x1a\n"
    assert "perpvol-BTC-share" in response.headers["Content-Disposition"]


async def test_compare_puts_up_to_five_known_assets_on_one_chart(client: Client, db: asyncpg.Pool) -> None:
    await seed(db)
    html = await text(client, "/assets/compare?assets=btc,eth,doge&range=30d&view=share")
    assert 'id="compare-spec"' in html and "Not a known asset: DOGE" in html
    spec = html[html.index('id="compare-spec">'):]
    assert '"asset":"BTC"' in spec and '"asset":"ETH"' in spec
    # BTC's share of all venues' volume on a day: (1000.5 + 250) / (1000.5 + 250 + 500).
    share = float(Decimal("1250.5") / Decimal("1750.5"))
    assert re.search(rf'"asset":"BTC","order":0,"volume":1250\.5,"share":{share:.6f}', spec)
    partial = await text(client, "/assets/compare?assets=BTC,ETH", HX)
    assert partial.lstrip().startswith('<section id="compare-panel"')


async def test_status_lists_markets_without_an_asset_with_the_reason(client: Client, db: asyncpg.Pool) -> None:
    await seed(db)
    html = await text(client, "/status")
    unmapped = html[html.index('id="unmapped"'):]
    assert "100XUSDT" in unmapped and "could be part of the name or a scale" in unmapped


async def test_asset_pages_keep_the_strict_content_security_policy(client: Client, db: asyncpg.Pool) -> None:
    await seed(db)
    for path in ("/assets", "/assets/BTC", "/assets/compare?assets=BTC,ETH"):
        response = await client.get(path)
        assert response.status_code == 200, path
        html = await response.get_data(as_text=True)
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
        assert all('type="application/json"' in attrs for attrs in inline), path
        assert " style=" not in html and "<style" not in html, path


def test_the_venue_split_bar_says_which_venue_is_stale_and_draws_only_counted_ones() -> None:
    item = {"exchanges": [
        {"exchange": "bybit", "label": "Bybit", "share": "0.75", "stale": False},
        {"exchange": "woox", "label": "WOO X", "share": "0.25", "stale": False},
        {"exchange": "paradex", "label": "Paradex", "share": None, "stale": True},
    ]}
    split = assets_view_model.split_segments(item)
    assert [(s["x"], s["w"]) for s in split["segments"]] == [("0.000", "75.000"), ("75.000", "25.000")]
    assert split["split_label"] == "Bybit 75.00%, WOO X 25.00%, Paradex stale, not counted"
    no_volume = {"exchanges": [{"exchange": "bybit", "label": "Bybit", "share": None, "stale": False}]}
    quiet = assets_view_model.split_segments(no_volume)
    assert quiet == {"segments": [], "split_label": "Bybit —"}


# ---- the embed configurator's asset field ----


async def test_embed_configurator_turns_the_asset_field_into_a_data_asset_snippet(
    client: Client, db: asyncpg.Pool
) -> None:
    await seed(db)
    page = await text(client, "/embed")
    assert '<input class="field w-28" type="text" name="asset"' in page
    html = html_lib.unescape(await text(client, "/embed?theme=dark&layout=badge&asset=pepe&refresh=60", HX))
    assert (
        '<script src="http://localhost/widget.js" data-theme="dark" data-layout="badge" data-asset="PEPE" '
        'data-refresh="60" async></script>'
    ) in html
    assert '["data-asset", "PEPE"]' in html  # the live preview loads the widget with it too
    assert "No stored market" not in html and "not an asset name" not in html


async def test_embed_configurator_says_when_the_asset_is_unknown_or_not_an_asset_name(
    client: Client, db: asyncpg.Pool
) -> None:
    await seed(db)
    unknown = html_lib.unescape(await text(client, "/embed?asset=NOPE", HX))
    assert 'data-asset="NOPE"' in unknown and "No stored market has the asset NOPE yet" in unknown
    raw = await text(client, "/embed?asset=BTC%3Cscript%3E", HX)
    assert "BTC<script>" not in raw and "BTC&lt;script&gt;” is not an asset name" in raw  # shown back, escaped
    assert "data-asset" not in html_lib.unescape(raw)


# ---- 24 h change per asset, from the hourly per-market samples ----


async def store_poll(db: asyncpg.Pool, exchange: Exchange, at: datetime, **figures: str) -> None:
    snap = CurrentSnapshot(exchange, at, "t", tuple(MarketVolume(s, Decimal(v)) for s, v in figures.items()))
    await snapshots.insert_snapshot(db, snap, taken_at=at)


def change_cells(html: str) -> dict[str, str]:
    rows = re.findall(r'data-asset="([A-Z0-9]+)">.*?data-change="[^"]*">([^<]*)</td>', html, re.S)
    return dict(rows)


async def test_assets_page_shows_each_assets_change_against_about_24_hours_earlier(
    client: Client, db: asyncpg.Pool
) -> None:
    then = datetime.now(UTC) - timedelta(hours=24, minutes=10)
    # ETHUSDT was not traded then: ETH has no figure to compare with.
    await store_poll(db, "bybit", then, BTCUSDT="10000000000", **{"1000PEPEUSDT": "2500000"})
    await store_poll(db, "hyperliquid", then, BTC="5000000", kPEPE="500000")
    await seed(db)
    cells = change_cells(await text(client, "/assets"))
    # BTC: (12345678901.23 + 7000000.125) against (10000000000 + 5000000) = +23.4651%.
    assert cells["BTC"] == "+23.47%" and cells["PEPE"] == "+100.00%" and cells["ETH"] == "—"
    assert "24 h change" in await text(client, "/assets?q=BT", HX)


async def test_an_assets_24h_change_is_unknown_when_a_venue_has_no_sample_from_then(
    client: Client, db: asyncpg.Pool
) -> None:
    await store_poll(db, "bybit", datetime.now(UTC) - timedelta(hours=24, minutes=10), BTCUSDT="1", ETHUSDT="450000000")
    await seed(db)
    cells = change_cells(await text(client, "/assets"))
    # BTC trades on Hyperliquid too, which has no sample from 24 h ago: not known. ETH is Bybit's alone.
    assert cells["BTC"] == "—" and cells["ETH"] == "+100.00%"


async def test_the_poll_keeps_one_sample_per_market_and_hour_and_prunes_those_older_than_48_hours(
    db: asyncpg.Pool
) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    await store_poll(db, "bybit", hour - timedelta(hours=50), BTCUSDT="1")
    await store_poll(db, "bybit", hour + timedelta(seconds=5), BTCUSDT="2", ETHUSDT="3")
    await store_poll(db, "bybit", hour + timedelta(seconds=20), BTCUSDT="9", ETHUSDT="9")  # same hour: kept out
    rows = await db.fetch("SELECT hour, symbol, volume_usd FROM market_volume_hourly ORDER BY symbol")
    assert [(r["hour"], r["symbol"], r["volume_usd"]) for r in rows] == [
        (hour, "BTCUSDT", Decimal(2)), (hour, "ETHUSDT", Decimal(3))
    ]
