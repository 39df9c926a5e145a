"""The per-venue estimate error (median and worst absolute % of the candle estimate against the exact day
read at 00:00 UTC) is the same figure on the Status page, `/api/exchanges` and `perpvol status`."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client

from cli.commands.status import collect_status, print_status
from core.records import DailyVolume
from core.settings import Settings
from storage.queries import daily, exact_days
from webapp.app import create_app
from webapp.views.api import Exchanges

D1 = date(2026, 11, 20)
D2 = date(2026, 11, 21)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def seed_two_exact_days(db: asyncpg.Pool) -> None:
    """Hyperliquid BTC: estimates 900 and 1100 against exact figures of 1000 (10% each) and 1000 (10%),
    ETH on the second day: estimate 150 against exact 100, so that day is (1100+150)/(1000+100) off."""
    estimates = [
        DailyVolume("hyperliquid", "BTC", D1, Decimal(900), "candle v×typical price", estimated=True),
        DailyVolume("hyperliquid", "BTC", D2, Decimal(1100), "candle v×typical price", estimated=True),
        DailyVolume("hyperliquid", "ETH", D2, Decimal(150), "candle v×typical price", estimated=True),
    ]
    at = datetime(2026, 11, 22, tzinfo=UTC)
    await daily.upsert_daily_volumes(db, estimates, at)
    await exact_days.apply_exact_day(db, "hyperliquid", D1, datetime(2026, 11, 21, 0, 0, 7, tzinfo=UTC),
                                     [("BTC", Decimal(1000))])
    await exact_days.apply_exact_day(db, "hyperliquid", D2, at + timedelta(seconds=3),
                                     [("BTC", Decimal(1000)), ("ETH", Decimal(100))])


# (1250 - 1100) / 1100 = 13.636…%; the median of 10% and 13.64% is 11.82%.
EXPECTED = {"days": 2, "median_pct": "11.82", "worst_pct": "13.64", "worst_day": D2.isoformat()}


async def test_api_exchanges_reports_each_venues_estimate_error_over_the_days_with_both_figures(
    client: Client, db: asyncpg.Pool
) -> None:
    await seed_two_exact_days(db)
    response = await client.get("/api/exchanges")
    doc = await response.get_json()
    errors = {v["exchange"]: v["estimate_error"] for v in doc["exchanges"]}
    assert errors == {"bybit": None, "woox": None, "hyperliquid": EXPECTED, "paradex": None}
    Exchanges.model_validate(doc)
    page = await (await client.get("/status")).get_data(as_text=True)
    assert "11.82%" in page and "13.64%" in page


async def test_openapi_documents_the_estimate_error_of_api_exchanges(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    schemas = spec["components"]["schemas"]
    assert "estimate_error" in schemas["VenueHealth"]["properties"]
    assert set(schemas["EstimateErrorModel"]["properties"]) == {"days", "median_pct", "worst_pct", "worst_day"}


async def test_perpvol_status_reports_the_estimate_error_in_text_and_json(
    db: asyncpg.Pool, settings: Settings
) -> None:
    await seed_two_exact_days(db)
    doc = await collect_status(db, settings)
    errors = {row["exchange"]: row["estimate_error"] for row in doc["exchanges"]}
    assert errors["hyperliquid"] == EXPECTED and errors["bybit"] is None
    out = io.StringIO()
    print_status(doc, out)
    assert "estimate error: median 11.82%, worst 13.64% (2026-11-21) over 2 exact days" in out.getvalue()
