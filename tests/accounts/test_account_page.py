"""The account volume page: daily/weekly/monthly history chart and the share of each venue's market volume."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from quart import Quart

from exchanges.private.base import Fill
from storage.credential_keys import load_keyring
from storage.queries import fills
from tests.accounts.conftest import SECRET, signed_up
from tests.accounts.support import store_credential
from webapp.charts import next_period, own_share_chart, own_volume_chart
from webapp.views.account import page_start


def _at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


async def _seed(web: Quart, db: asyncpg.Pool) -> Any:
    client = await signed_up(web, "chart@example.com")
    user_id: int = await db.fetchval("SELECT id FROM users WHERE email = 'chart@example.com'")
    cipher = await load_keyring(db, SECRET)
    bybit = await store_credential(db, cipher, user_id, "bybit", "ChartBybitKey001", "s")
    woox = await store_credential(db, cipher, user_id, "woox", "ChartWooxKey0001", "s")
    await fills.insert_fills(
        db,
        user_id,
        "bybit",
        bybit,
        [
            Fill("b-1", "ETHUSDT", _at("2026-11-10"), Decimal("250.00")),
            Fill("b-2", "ETHUSDT", _at("2026-11-17", 9), Decimal("1000.25")),
            Fill("b-3", "BTCUSDT", _at("2026-11-19", 23), Decimal("500.00")),
        ],
    )
    await fills.insert_fills(
        db, user_id, "woox", woox, [Fill("w-1", "PERP_BTC_USDT", _at("2026-11-18"), Decimal("300"))]
    )
    # The venue's whole market per UTC day (Bybit only: WOO X's share is unknown and must show as such).
    days = [date(2026, 11, 10)] + [date(2026, 11, d) for d in range(16, 21)]
    await db.executemany(
        "INSERT INTO daily_venue_volume VALUES ('bybit', $1, 250000, 500, false, true, now())", [(d,) for d in days]
    )
    return client


def _spec(html: str, element_id: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert match, element_id
    spec: dict[str, Any] = json.loads(match.group(1))
    return spec


async def test_weekly_chart_and_share_of_each_venues_market_volume(web: Quart, db: asyncpg.Pool) -> None:
    client = await _seed(web, db)
    response = await client.get("/account?interval=week")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    # Strict CSP: every script is a file or inert JSON data for static/js/charts.js.
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="' in tag or 'type="application/json"' in tag, tag
    assert 'data-chart="account-volume-spec"' in html and 'data-chart="account-share-spec"' in html
    assert "js/charts.js" in html

    volume = _spec(html, "account-volume-spec")
    rows = {(r["period"], r["venue"]): r for r in volume["datasets"]["own"]}
    assert set(rows) == {("2026-11-09", "Bybit"), ("2026-11-16", "Bybit"), ("2026-11-16", "WOO X")}
    this_week = rows[("2026-11-16", "Bybit")]
    assert this_week["next"] == "2026-11-23" and this_week["volume"] == 1500.25 and this_week["fills"] == 2
    # 1500.25 of the 5 stored market days (1,250,000): 0.12002 %.
    assert this_week["share"] == 0.0012002 and this_week["share_text"] == "0.1200%"
    assert rows[("2026-11-09", "Bybit")]["share"] == 0.001
    assert rows[("2026-11-16", "WOO X")]["share"] is None
    assert volume["encoding"]["x2"]["field"] == "next" and volume["encoding"]["y2"]["field"] == "y1"

    share = _spec(html, "account-share-spec")
    assert [(r["period"], r["venue"], r["share"]) for r in share["datasets"]["own"]] == [
        ("2026-11-09", "Bybit", 0.001),
        ("2026-11-16", "Bybit", 0.0012002),
    ]
    assert share["encoding"]["y"]["field"] == "share" and share["encoding"]["y"]["axis"]["format"] == "~%"
    # The table beside the chart: exact own figures, the venue's market volume and the share.
    assert "$1500.25" in html and "0.1200%" in html and "0.1000%" in html and "$1.25M" in html
    assert 'aria-current="page">Weekly' in html
    assert "interval=week&amp;start=2026-08-31&amp;end=2026-11-20" in html  # the CSV of the same range


async def test_daily_and_monthly_views_cover_whole_periods(web: Quart, db: asyncpg.Pool) -> None:
    client = await _seed(web, db)
    daily = _spec(await (await client.get("/account")).get_data(as_text=True), "account-volume-spec")
    assert {r["period"] for r in daily["datasets"]["own"]} == {"2026-11-10", "2026-11-17", "2026-11-18", "2026-11-19"}
    late = next(r for r in daily["datasets"]["own"] if r["period"] == "2026-11-19")
    assert late["next"] == "2026-11-20" and late["share"] == 0.002  # the fill at 23:00 UTC counts on its UTC day
    monthly = _spec(await (await client.get("/account?interval=month")).get_data(as_text=True), "account-volume-spec")
    totals = {(r["period"], r["next"], r["venue"]): r["volume"] for r in monthly["datasets"]["own"]}
    assert totals == {("2026-11-01", "2026-12-01", "Bybit"): 1750.25, ("2026-11-01", "2026-12-01", "WOO X"): 300.0}
    # Anything else falls back to daily rather than failing.
    assert (await client.get("/account?interval=year")).status_code == 200


async def test_without_fills_the_page_shows_no_chart_but_a_hint(web: Quart) -> None:
    client = await signed_up(web, "empty@example.com")
    html = await (await client.get("/account")).get_data(as_text=True)
    assert "account-volume-spec" not in html and "Add an exchange key" in html
    assert html.count('id="embed"') == 1  # the embed section appears once, in the page body


def test_periods_and_page_ranges() -> None:
    assert next_period(date(2026, 12, 1), "month") == date(2027, 1, 1)
    assert next_period(date(2026, 11, 16), "week") == date(2026, 11, 23)
    friday = date(2026, 11, 20)
    assert page_start(friday, "day") == date(2026, 10, 22)
    assert page_start(friday, "week") == date(2026, 8, 31) and page_start(friday, "week").weekday() == 0
    assert page_start(friday, "month") == date(2025, 12, 1)
    assert page_start(date(2026, 1, 5), "month") == date(2025, 2, 1)


def test_own_charts_render_with_vega_lite() -> None:
    import vl_convert as vlc

    rows = [
        {"period_start": "2026-11-16", "exchange": "bybit", "volume_usd": "10.00", "fills": 1,
         "market_volume_usd": "1000.00", "share": "0.0100000"},
        {"period_start": "2026-11-16", "exchange": "paradex", "volume_usd": "5.00", "fills": 2,
         "market_volume_usd": None, "share": None},
    ]  # fmt: skip
    for spec in (own_volume_chart(rows, "week"), own_share_chart(rows, "week")):
        assert "<svg" in vlc.vegalite_to_svg(dict(spec, width=600, autosize={"type": "pad"}))
    assert [r["venue"] for r in own_share_chart(rows, "week")["datasets"]["own"]] == ["Bybit"]
