from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest

from exchanges.base import Market, ms_from_date, utc_from_ms
from exchanges.errors import SchemaError, UnavailableError, VenueAPIError
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.model import SimMarket, SimModel
from exchanges.sim.woox import WooxSim, symbol_of
from exchanges.woox import RATE_LIMIT, WooxConnector
from tests.exchanges_support import SIM_NOW, TimeoutASGITransport, fixture_json, replay_client, sim_client

BTC = Market("woox", "PERP_BTC_USDT", "linear", "trading", "BTC", "USDT")
Handler = Callable[[httpx.Request], httpx.Response]


def ok(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=fixture_json("woox", name))


def replay(handler: Handler) -> WooxConnector:
    return WooxConnector(replay_client("woox", handler))


def kline_pages(sent: list[str | None]) -> Handler:
    """Page 1 for the newest candles, page 2 before 2025-07-02, then nothing."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v3/public/klineHistory"
        assert request.url.params["type"] == "1d" and request.url.params["symbol"] == "PERP_BTC_USDT"
        before = request.url.params.get("before")
        sent.append(before)
        if before in (None, *(str(ms_from_date(date(2025, 7, d))) for d in (4, 5))):
            return ok("kline_history_1d_page1.json")
        if before == str(ms_from_date(date(2025, 7, 2))):
            return ok("kline_history_1d_page2.json")
        return ok("kline_history_empty.json")

    return handler


# --- recorded responses ---------------------------------------------------------------------------


async def test_current_volume_is_the_24h_usdt_amount_of_each_perp() -> None:
    connector = replay(lambda request: ok("futures.json"))
    snapshot = await connector.fetch_current()
    assert {m.symbol: m.volume_usd for m in snapshot.markets} == {
        "PERP_BTC_USDT": Decimal("1944183"),
        "PERP_ETH_USDT": Decimal("11518400.5"),
    }
    assert snapshot.total_usd == Decimal("13462583.5")
    assert snapshot.as_of == utc_from_ms(1786691115608)
    assert not snapshot.estimated and "24hAmount" in snapshot.source


async def test_zero_volume_perps_are_kept_and_a_string_timestamp_is_read() -> None:
    snapshot = await replay(lambda request: ok("futures_zero_volume.json")).fetch_current()
    volumes = {m.symbol: m.volume_usd for m in snapshot.markets}
    assert volumes["PERP_NEWCOIN_USDT"] == Decimal(0)
    assert snapshot.total_usd == Decimal("13462583.5")
    assert snapshot.as_of == utc_from_ms(1786691115608)


async def test_list_markets_keeps_only_perps_and_maps_their_status() -> None:
    markets = await replay(lambda request: ok("instruments.json")).list_markets()
    assert [(m.symbol, m.base, m.quote, m.kind, m.status) for m in markets] == [
        ("PERP_BTC_USDT", "BTC", "USDT", "linear", "trading"),
        ("PERP_ETH_USDT", "ETH", "USDT", "linear", "trading"),
        ("PERP_1000PEPE_USDT", "1000PEPE", "USDT", "linear", "trading"),
        ("PERP_LUNA_USDT", "LUNA", "USDT", "linear", "suspended"),
    ]
    assert markets[3].get("status") == "SUSPENDED"


async def test_daily_history_pages_back_with_the_exclusive_before_cursor() -> None:
    sent: list[str | None] = []
    days = await replay(kline_pages(sent)).fetch_daily(BTC, date(2025, 6, 1), date(2025, 7, 4))
    assert [(d.day, d.volume_usd, d.complete) for d in days] == [
        (date(2025, 6, 30), Decimal("268802553.25"), True),
        (date(2025, 7, 1), Decimal("354991207.8"), True),
        (date(2025, 7, 2), Decimal("440212303.35"), True),
        (date(2025, 7, 3), Decimal("331029457.1"), True),
        (date(2025, 7, 4), Decimal("33944811.62"), False),
    ]
    assert sent[1:] == [str(ms_from_date(date(2025, 7, 2))), str(ms_from_date(date(2025, 6, 30)))]
    assert not any(d.estimated for d in days)


async def test_daily_history_keeps_only_the_requested_days_and_stops_at_start() -> None:
    sent: list[str | None] = []
    days = await replay(kline_pages(sent)).fetch_daily(BTC, date(2025, 7, 1), date(2025, 7, 3))
    assert [(d.day, d.volume_usd) for d in days] == [
        (date(2025, 7, 1), Decimal("354991207.8")),
        (date(2025, 7, 2), Decimal("440212303.35")),
        (date(2025, 7, 3), Decimal("331029457.1")),
    ]
    assert len(sent) == 2


@pytest.mark.parametrize("field", ["amount", "startTimestamp", "endTimestamp"])
async def test_a_candle_without_a_required_field_is_a_schema_error_naming_it(field: str) -> None:
    body = fixture_json("woox", "kline_history_1d_page1.json")
    del body["data"]["rows"][1][field]
    connector = replay(lambda request: httpx.Response(200, json=body))
    with pytest.raises(SchemaError) as caught:
        await connector.fetch_daily(BTC, date(2025, 7, 2), date(2025, 7, 4))
    assert caught.value.field == field


async def test_a_non_numeric_amount_is_a_schema_error_not_a_partial_total() -> None:
    body = fixture_json("woox", "futures.json")
    body["data"]["rows"][1]["24hAmount"] = "n/a"
    with pytest.raises(SchemaError, match="24hAmount"):
        await replay(lambda request: httpx.Response(200, json=body)).fetch_current()


async def test_a_candle_not_starting_at_utc_midnight_is_a_schema_error() -> None:
    body = fixture_json("woox", "kline_history_1d_page1.json")
    body["data"]["rows"][0]["startTimestamp"] += 8 * 3_600_000
    with pytest.raises(SchemaError) as caught:
        await replay(lambda request: httpx.Response(200, json=body)).fetch_daily(
            BTC, date(2025, 7, 2), date(2025, 7, 4)
        )
    assert caught.value.field == "startTimestamp"


async def test_a_cursor_the_venue_ignores_is_an_error_not_an_endless_loop() -> None:
    connector = replay(lambda request: ok("kline_history_1d_page1.json"))
    with pytest.raises(SchemaError) as caught:
        await connector.fetch_daily(BTC, date(2025, 1, 1), date(2025, 7, 4))
    assert caught.value.field == "before"


@pytest.mark.parametrize("status", [200, 429])
async def test_a_rate_limit_answer_is_retried_then_succeeds(status: int) -> None:
    answers = iter([ok("error_rate_limit.json", status), ok("futures.json")])
    connector = replay(lambda request: next(answers))
    snapshot = await connector.fetch_current()
    assert snapshot.total_usd == Decimal("13462583.5")
    assert connector.client.requests_sent == 2


async def test_an_internal_error_with_a_string_code_is_retried() -> None:
    answers = iter([ok("error_internal_string_code.json"), ok("futures.json")])
    snapshot = await replay(lambda request: next(answers)).fetch_current()
    assert snapshot.total_usd == Decimal("13462583.5")


async def test_an_invalid_parameter_answer_is_a_venue_api_error_without_retry() -> None:
    connector = replay(lambda request: ok("error_invalid_param.json", 400))
    with pytest.raises(VenueAPIError) as caught:
        await connector.fetch_daily(BTC, date(2025, 7, 1), date(2025, 7, 2))
    assert caught.value.code == "-1005" and "symbol must not be blank" in str(caught.value)
    assert connector.client.requests_sent == 1


# --- the simulator ----------------------------------------------------------------------------------

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=0.2)


def asgi(app: SimulatorApp) -> Any:
    # SimulatorApp types its ASGI scope as dict; httpx asks for MutableMapping (same protocol).
    return cast(Any, app)


def real_client(app: SimulatorApp, policy: RetryPolicy, limiter: RateLimiter | None = None) -> VenueClient:
    return VenueClient(
        "woox",
        "http://sim.test",
        limiter or RateLimiter(1e6, 1e6),
        policy=policy,
        transport=TimeoutASGITransport(app=asgi(app)),
    )


def sim_app(*, history_days: int = 800, enforce_limits: bool = False) -> SimulatorApp:
    model = SimModel(seed=1, now=lambda: SIM_NOW, history_days=history_days)
    return SimulatorApp(model, [WooxSim(model)], enforce_limits=enforce_limits)


def as_market(m: SimMarket) -> Market:
    return Market("woox", symbol_of(m), "linear", "trading", m.base, m.quote)


def expected_days(model: SimModel, m: SimMarket, start: date, end: date) -> dict[date, Decimal]:
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return {d: model.daily_usd(m, d) for d in days if m.trading_on(d) and d >= model.genesis}


async def test_sim_current_total_equals_the_model_rolling_24h_of_every_market() -> None:
    app = sim_app()
    connector = WooxConnector(sim_client("woox", app))
    snapshot = await connector.fetch_current()
    markets = app.model.markets("woox")
    assert snapshot.total_usd == sum((app.model.rolling_24h_usd(m) for m in markets), Decimal(0))
    by_symbol = {m.symbol: m.volume_usd for m in snapshot.markets}
    assert by_symbol["PERP_ETH_USDT"] == app.model.rolling_24h_usd(markets[1])
    assert snapshot.as_of == SIM_NOW


async def test_sim_lists_active_perps_and_no_spot_pairs() -> None:
    app = sim_app()
    markets = await WooxConnector(sim_client("woox", app)).list_markets()
    active = [m for m in app.model.markets("woox") if m.delisted is None]
    assert [m.symbol for m in markets] == [symbol_of(m) for m in active]
    assert {m.status for m in markets} == {"trading"}


async def test_sim_two_years_of_daily_history_equal_the_model_per_day() -> None:
    app = sim_app()
    connector = WooxConnector(sim_client("woox", app))
    start, end = SIM_NOW.date() - timedelta(days=730), SIM_NOW.date()
    btc = app.model.markets("woox")[0]
    days = await connector.fetch_daily(as_market(btc), start, end)
    assert {d.day: d.volume_usd for d in days} == expected_days(app.model, btc, start, end)
    assert [d.day for d in days] == sorted(d.day for d in days)
    assert [d.day for d in days if not d.complete] == [end]
    assert days[-1].volume_usd == app.model.usd_between(btc, SIM_NOW.replace(hour=0, minute=0), SIM_NOW)


async def test_sim_delisted_markets_still_return_history_for_days_they_traded() -> None:
    app = sim_app()
    gone = next(m for m in app.model.markets("woox") if m.delisted is not None)
    assert gone.delisted is not None
    start, end = gone.delisted - timedelta(days=60), gone.delisted + timedelta(days=5)
    days = await WooxConnector(sim_client("woox", app)).fetch_daily(as_market(gone), start, end)
    assert {d.day: d.volume_usd for d in days} == expected_days(app.model, gone, start, end)
    assert max(d.day for d in days) == gone.delisted - timedelta(days=1)


async def test_sim_history_older_than_999_days_is_paged_through_100_row_pages() -> None:
    app = sim_app(history_days=1300)
    connector = WooxConnector(sim_client("woox", app))
    btc = app.model.markets("woox")[0]
    start = app.model.genesis
    days = await connector.fetch_daily(as_market(btc), start, SIM_NOW.date())
    assert {d.day: d.volume_usd for d in days} == expected_days(app.model, btc, start, SIM_NOW.date())
    assert connector.client.requests_sent >= 4


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="throttle", venue="woox", count=2),
        Fault(kind="error5xx", venue="woox", count=2),
        Fault(kind="truncated", venue="woox", count=1),
        Fault(kind="malformed", venue="woox", count=1),
        Fault(kind="timeout", venue="woox", count=1, ms=500),
    ],
    ids=lambda fault: fault.kind,
)
async def test_sim_transient_faults_are_retried_and_totals_stay_exact(fault: Fault) -> None:
    app = sim_app()
    app.faults.append(fault)
    connector = WooxConnector(real_client(app, FAST))
    snapshot = await connector.fetch_current()
    expected = sum((app.model.rolling_24h_usd(m) for m in app.model.markets("woox")), Decimal(0))
    assert snapshot.total_usd == expected
    assert connector.client.requests_sent > 1


@pytest.mark.parametrize("field", ["24hAmount", "symbol", "rows", "timestamp"])
async def test_sim_missing_field_in_current_volume_is_a_schema_error_naming_it(field: str) -> None:
    app = sim_app()
    app.faults.append(Fault(kind="missing_field", venue="woox", field=field))
    with pytest.raises(SchemaError) as caught:
        await WooxConnector(real_client(app, FAST)).fetch_current()
    assert caught.value.field == field


async def test_sim_missing_amount_in_history_is_a_schema_error_naming_it() -> None:
    app = sim_app()
    app.faults.append(Fault(kind="missing_field", venue="woox", path="/v3/public/kline", field="amount"))
    with pytest.raises(SchemaError) as caught:
        await WooxConnector(real_client(app, FAST)).fetch_daily(BTC, date(2026, 11, 1), date(2026, 11, 20))
    assert caught.value.field == "amount"


async def test_sim_persistent_5xx_gives_up_with_unavailable_error() -> None:
    app = sim_app()
    app.faults.append(Fault(kind="error5xx", venue="woox", status=502))
    connector = WooxConnector(real_client(app, FAST))
    with pytest.raises(UnavailableError, match="HTTP 502"):
        await connector.fetch_current()
    assert connector.client.requests_sent == FAST.attempts


async def test_sim_rejects_a_history_request_without_symbol_like_the_venue() -> None:
    app = sim_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi(app)), base_url="http://sim.test"
    ) as http:
        response = await http.get("/v3/public/klineHistory", params={"type": "1d"})
    assert response.status_code == 400
    assert response.json() == {"success": False, "code": -1005, "message": "symbol must not be blank"}
    unknown = Market("woox", "PERP_NOPE_USDT", "linear", "trading", "NOPE", "USDT")
    with pytest.raises(VenueAPIError) as caught:
        await WooxConnector(sim_client("woox", app)).fetch_daily(
            unknown, date(2026, 11, 1), date(2026, 11, 2)
        )
    assert caught.value.code == "-1005"


def test_sim_serves_only_v3_paths() -> None:
    sim = WooxSim(SimModel(seed=1, now=lambda: SIM_NOW))
    assert sim.owns("GET", "/v3/public/futures")
    assert not any(sim.owns("GET", p) for p in ("/v5/market/tickers", "/v1/markets", "/info"))


async def test_sim_rate_limit_answers_like_woox_and_the_client_recovers() -> None:
    app = sim_app(enforce_limits=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi(app)), base_url="http://sim.test"
    ) as http:
        answers = await asyncio.gather(*(http.get("/v3/public/futures") for _ in range(25)))
    throttled = [r for r in answers if r.status_code == 429]
    assert len(throttled) >= 10
    assert json.loads(throttled[0].content) == {
        "success": False,
        "code": -1003,
        "message": "Rate limit exceed.",
    }
    # The bucket is empty now: the connector's next call is throttled, backs off and gets through.
    policy = RetryPolicy(attempts=8, base_delay=0.1, max_delay=0.3, timeout=2.0)
    connector = WooxConnector(real_client(app, policy))
    snapshot = await connector.fetch_current()
    assert snapshot.total_usd > 0


async def test_the_connector_rate_limit_keeps_a_backfill_under_the_venue_limit() -> None:
    app = sim_app(enforce_limits=True)
    no_retry = RetryPolicy(attempts=1, timeout=2.0)
    connector = WooxConnector(real_client(app, no_retry, RateLimiter(*RATE_LIMIT)))
    markets = await connector.list_markets()
    await connector.fetch_current()
    for market in markets[:8]:
        await connector.fetch_daily(market, date(2026, 10, 1), date(2026, 11, 20))
    assert connector.client.requests_sent == 10
