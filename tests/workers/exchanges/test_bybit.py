from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote

import httpx
import pytest

from exchanges.base import Market, MarketKind
from exchanges.bybit import RATE_LIMIT, BybitConnector
from exchanges.errors import (
    ExchangeError,
    SchemaError,
    UnavailableError,
    VenueAPIError,
)
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.bybit import BybitSim
from exchanges.sim.model import SimMarket, SimModel
from tests.exchanges_support import (
    SIM_NOW,
    TimeoutASGITransport,
    fixture_bytes,
    fixture_json,
    replay_client,
    sim_client,
)

Handler = Callable[[httpx.Request], httpx.Response]


def _json(name: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, content=fixture_bytes("bybit", name), headers=headers)


def _instruments(request: httpx.Request) -> httpx.Response:
    params = request.url.params
    category, status, cursor = params["category"], params["status"], params.get("cursor")
    if category == "inverse":
        name = "inverse" if status == "Trading" else "empty"
        return _json(f"market_instruments_info_{name}.json")
    pages = {
        ("Trading", None): "market_instruments_info_linear_page1.json",
        ("Trading", "first=BTC-26DEC25&last=BTCUSDT"): "market_instruments_info_linear_page2.json",
        ("PreLaunch", None): "market_instruments_info_linear_prelaunch.json",
        ("Closed", None): "market_instruments_info_linear_closed.json",
    }
    return _json(pages.get((status, cursor), "market_instruments_info_empty.json"))


def _routes(**overrides: Handler) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in overrides:
            return overrides[path](request)
        if path == "/v5/market/instruments-info":
            return _instruments(request)
        if path == "/v5/market/tickers":
            return _json(f"market_tickers_{request.url.params['category']}.json")
        if path == "/v5/market/kline":
            name = {"BTCUSDT": "linear_btcusdt", "BTCUSD": "inverse_btcusd"}[request.url.params["symbol"]]
            return _json(f"market_kline_{name}.json")
        return httpx.Response(404, text="404 page not found")

    return handle


def _connector(handler: Handler) -> BybitConnector:
    return BybitConnector(replay_client("bybit", handler))


def _market(symbol: str, category: str, launch_ms: str = "1585526400000") -> Market:
    kind: MarketKind = "linear" if category == "linear" else "inverse"
    extra = (("category", category), ("launch_ms", launch_ms))
    return Market("bybit", symbol, kind, "trading", "BTC", "USDT", extra)


# --- recorded responses --------------------------------------------------------------------------


async def test_lists_only_perpetuals_of_both_categories_with_their_status() -> None:
    sent: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.query.decode())
        return _instruments(request)

    markets = await _connector(_routes(**{"/v5/market/instruments-info": record})).list_markets()

    by_symbol = {m.symbol: m for m in markets}
    assert set(by_symbol) == {"BTCUSDT", "BTCPERP", "ETHUSDT", "BIOUSDT", "RNDRUSDT", "BTCUSD"}
    assert (by_symbol["BTCUSD"].kind, by_symbol["BTCUSD"].get("category")) == ("inverse", "inverse")
    assert by_symbol["BTCPERP"].quote == "USDC"
    assert by_symbol["BIOUSDT"].status == "pending"
    assert by_symbol["RNDRUSDT"].status == "delisted"
    assert by_symbol["BTCUSDT"].status == "trading"
    # The cursor comes back URL-encoded and must go out encoded exactly once.
    assert any("cursor=first%3DBTC-26DEC25%26last%3DBTCUSDT" in q for q in sent)
    assert not any("%253D" in q for q in sent)


async def test_current_takes_turnover_for_linear_and_volume_for_inverse() -> None:
    snapshot = await _connector(_routes()).fetch_current()

    volumes = {m.symbol: m.volume_usd for m in snapshot.markets}
    assert volumes == {
        "BTCUSDT": Decimal("5312764403.2173"),
        "ETHUSDT": Decimal("3120988123.5561"),
        "BTCPERP": Decimal("37618422.9104"),
        "BIOUSDT": Decimal("0"),
        "BTCUSD": Decimal("13713832.0000"),
    }
    assert snapshot.total_usd == Decimal("8485084781.6838")
    assert not snapshot.estimated
    assert snapshot.as_of == datetime(2025, 10, 13, 10, 46, 9, 801000, tzinfo=UTC)
    assert "turnover24h" in snapshot.source and "volume24h" in snapshot.source


async def test_current_drops_dated_futures_listed_in_tickers() -> None:
    snapshot = await _connector(_routes()).fetch_current()

    symbols = {m.symbol for m in snapshot.markets}
    assert "BTC-26DEC25" not in symbols and "BTCUSDZ25" not in symbols


async def test_daily_linear_uses_turnover_and_leaves_the_open_day_incomplete() -> None:
    market = _market("BTCUSDT", "linear")
    rows = await _connector(_routes()).fetch_daily(market, date(2025, 11, 18), date(2025, 11, 21))

    assert [(r.day, r.volume_usd, r.complete) for r in rows] == [
        (date(2025, 11, 18), Decimal("6495417726.9024"), True),
        (date(2025, 11, 19), Decimal("7220718841.1193"), True),
        (date(2025, 11, 20), Decimal("5591337127.4406"), True),
        (date(2025, 11, 21), Decimal("1177624810.8854"), False),
    ]
    assert not any(r.estimated for r in rows)


async def test_daily_inverse_uses_volume_in_usd_contracts() -> None:
    market = _market("BTCUSD", "inverse")
    rows = await _connector(_routes()).fetch_daily(market, date(2025, 11, 19), date(2025, 11, 20))

    assert [(r.day, r.volume_usd) for r in rows] == [
        (date(2025, 11, 19), Decimal("603197722")),
        (date(2025, 11, 20), Decimal("517322810")),
    ]


async def test_daily_pages_backwards_in_windows_of_at_most_1000_days_without_duplicates() -> None:
    windows: list[tuple[int, int]] = []

    def kline(request: httpx.Request) -> httpx.Response:
        start, end = int(request.url.params["start"]), int(request.url.params["end"])
        windows.append((start, end))
        # Each page also repeats the day after its window: the connector must keep one row per day.
        days = range(start, end + 2, 86_400_000)
        rows = [[str(ms), "1", "1", "1", "1", "2", "10"] for ms in reversed(days)]
        body = {"retCode": 0, "retMsg": "OK", "result": {"symbol": "BTCUSDT", "category": "linear",
                "list": rows}, "retExtInfo": {}, "time": 1763738830446}
        return httpx.Response(200, json=body)

    first, last = date(2019, 1, 1), date(2025, 11, 20)
    rows = await _connector(_routes(**{"/v5/market/kline": kline})).fetch_daily(
        _market("BTCUSDT", "linear", launch_ms="1546300800000"), first, last
    )

    assert len(windows) == 3 and windows[0][0] > windows[1][0] > windows[2][0]
    assert all((end + 1 - start) <= 1000 * 86_400_000 for start, end in windows)
    assert [r.day for r in rows] == [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert sum((r.volume_usd for r in rows), Decimal(0)) == Decimal(10) * len(rows)


async def test_daily_does_not_ask_for_days_before_launch() -> None:
    asked: list[int] = []

    def kline(request: httpx.Request) -> httpx.Response:
        asked.append(int(request.url.params["start"]))
        return _json("market_kline_linear_btcusdt.json")

    market = _market("BTCUSDT", "linear", launch_ms="1763424000000")
    connector = _connector(_routes(**{"/v5/market/kline": kline}))
    await connector.fetch_daily(market, date(2020, 1, 1), date(2025, 11, 21))

    assert asked == [1763424000000]


async def test_missing_turnover_is_a_schema_error_naming_the_field() -> None:
    def tickers(request: httpx.Request) -> httpx.Response:
        body = fixture_json("bybit", "market_tickers_linear.json")
        del body["result"]["list"][1]["turnover24h"]
        return httpx.Response(200, json=body)

    with pytest.raises(SchemaError) as caught:
        await _connector(_routes(**{"/v5/market/tickers": tickers})).fetch_current()
    assert caught.value.field == "turnover24h"


async def test_kline_row_with_a_non_numeric_volume_is_a_schema_error() -> None:
    def kline(request: httpx.Request) -> httpx.Response:
        body = fixture_json("bybit", "market_kline_inverse_btcusd.json")
        body["result"]["list"][0][5] = "n/a"
        return httpx.Response(200, json=body)

    with pytest.raises(SchemaError) as caught:
        await _connector(_routes(**{"/v5/market/kline": kline})).fetch_daily(
            _market("BTCUSD", "inverse"), date(2025, 11, 19), date(2025, 11, 21)
        )
    assert caught.value.field == "result.list[][5]"


async def test_too_many_visits_is_retried_after_the_reset_timestamp_then_succeeds() -> None:
    answers = iter(["throttle"])
    delays: list[float] = []

    def kline(request: httpx.Request) -> httpx.Response:
        if next(answers, None):
            # Reset 250 ms after the body's own `time`.
            return _json("error_too_many_visits.json", {"X-Bapi-Limit-Reset-Timestamp": "1763738830696"})
        return _json("market_kline_linear_btcusdt.json")

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    client = VenueClient(
        "bybit",
        "https://example.invalid",
        RateLimiter(1e6, 1e6),
        policy=RetryPolicy(attempts=3, base_delay=0.001, max_delay=1.0, timeout=2.0),
        transport=httpx.MockTransport(_routes(**{"/v5/market/kline": kline})),
        sleep=sleep,
    )
    market = _market("BTCUSDT", "linear")
    rows = await BybitConnector(client).fetch_daily(market, date(2025, 11, 18), date(2025, 11, 21))

    assert len(rows) == 4
    assert delays == [pytest.approx(0.25)]
    assert client.requests_sent == 2


async def test_error_code_in_body_is_a_venue_api_error() -> None:
    def kline(request: httpx.Request) -> httpx.Response:
        return _json("error_not_supported_symbols.json")

    with pytest.raises(VenueAPIError) as caught:
        await _connector(_routes(**{"/v5/market/kline": kline})).fetch_daily(
            _market("NOPEUSDT", "linear"), date(2025, 11, 1), date(2025, 11, 2)
        )
    assert caught.value.code == "10001"
    assert "Not supported symbols" in str(caught.value)


async def test_cloudfront_403_is_a_clear_error_and_not_retried() -> None:
    calls = 0

    def forbidden(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(403, content=fixture_bytes("bybit", "error_403_cloudfront.html"))

    with pytest.raises(ExchangeError) as caught:
        await _connector(forbidden).fetch_current()
    assert not caught.value.retryable
    assert "403" in str(caught.value) and "10 minutes" in str(caught.value)
    assert calls == 1


# --- simulator -----------------------------------------------------------------------------------


def _sim(enforce_limits: bool = False) -> tuple[SimModel, SimulatorApp, BybitSim]:
    model = SimModel(seed=1, now=lambda: SIM_NOW)
    sim = BybitSim(model)
    return model, SimulatorApp(model, [sim], enforce_limits=enforce_limits), sim


def _timed_client(app: SimulatorApp, policy: RetryPolicy) -> VenueClient:
    transport = TimeoutASGITransport(app=app)
    return VenueClient("bybit", "http://sim.test", RateLimiter(1e6, 1e6), policy=policy, transport=transport)


def _model_market(model: SimModel, base: str, kind: str) -> SimMarket:
    return next(m for m in model.markets("bybit") if m.base == base and m.kind == kind)


def _rolling_total(model: SimModel) -> Decimal:
    return sum((model.rolling_24h_usd(m) for m in model.markets("bybit")), Decimal(0))


async def test_sim_current_total_equals_the_models_rolling_24h() -> None:
    model, app, _ = _sim()
    connector = BybitConnector(sim_client("bybit", app))

    snapshot = await connector.fetch_current()

    assert snapshot.total_usd == _rolling_total(model)
    assert snapshot.as_of == SIM_NOW
    active = [m for m in model.markets("bybit") if m.delisted is None]
    assert len(snapshot.markets) == len(active)


async def test_sim_lists_inverse_and_delisted_perps_but_no_futures() -> None:
    model, app, _ = _sim()
    markets = await BybitConnector(sim_client("bybit", app)).list_markets()

    assert len(markets) == len(model.markets("bybit"))
    assert sum(m.kind == "inverse" for m in markets) == 10
    delisted = [m for m in model.markets("bybit") if m.delisted is not None]
    assert sum(m.status == "delisted" for m in markets) == len(delisted)


@pytest.mark.parametrize(("base", "kind"), [("BTC", "linear"), ("ETH", "inverse")])
async def test_sim_two_years_of_daily_volume_equal_the_model(base: str, kind: str) -> None:
    model, app, _ = _sim()
    connector = BybitConnector(sim_client("bybit", app))
    market = next(m for m in await connector.list_markets() if m.base == base and m.kind == kind)
    sim_market = _model_market(model, base, kind)
    first, last = SIM_NOW.date() - timedelta(days=730), SIM_NOW.date()

    rows = await connector.fetch_daily(market, first, last)

    assert [r.day for r in rows] == [first + timedelta(days=n) for n in range(731)]
    assert all(r.volume_usd == model.daily_usd(sim_market, r.day) for r in rows)
    assert [r.complete for r in rows].count(False) == 1 and not rows[-1].complete


async def test_sim_delisted_market_keeps_history_for_the_days_it_traded() -> None:
    model, app, _ = _sim()
    connector = BybitConnector(sim_client("bybit", app))
    market = next(m for m in await connector.list_markets() if m.status == "delisted")
    sim_market = _model_market(model, market.base, "linear")
    assert sim_market.delisted is not None

    rows = await connector.fetch_daily(market, model.genesis, SIM_NOW.date())

    assert rows and rows[-1].day == sim_market.delisted - timedelta(days=1)
    assert all(r.volume_usd == model.daily_usd(sim_market, r.day) > 0 for r in rows)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="throttle", venue="bybit", count=3),
        Fault(kind="error5xx", venue="bybit", count=2, status=502),
        Fault(kind="truncated", venue="bybit", count=2),
        Fault(kind="malformed", venue="bybit", count=2),
        Fault(kind="timeout", venue="bybit", count=1, ms=500),
    ],
    ids=lambda f: f.kind,
)
async def test_sim_transient_faults_are_retried_and_the_total_stays_exact(fault: Fault) -> None:
    model, app, _ = _sim()
    app.faults.append(fault)
    policy = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, timeout=0.2)
    connector = BybitConnector(_timed_client(app, policy))

    snapshot = await connector.fetch_current()

    assert snapshot.total_usd == _rolling_total(model)
    assert fault.count == 0


async def test_sim_persistent_5xx_gives_up_with_unavailable() -> None:
    _, app, _ = _sim()
    app.faults.append(Fault(kind="error5xx", venue="bybit"))
    policy = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=0.2)

    with pytest.raises(UnavailableError):
        await BybitConnector(sim_client("bybit", app, policy=policy)).fetch_current()


async def test_sim_missing_field_is_a_schema_error_never_a_smaller_total() -> None:
    _, app, _ = _sim()
    connector = BybitConnector(sim_client("bybit", app))
    await connector.list_markets()
    app.faults.append(Fault(kind="missing_field", venue="bybit", field="turnover24h", count=1))

    with pytest.raises(SchemaError) as caught:
        await connector.fetch_current()
    assert caught.value.field == "turnover24h"


async def test_sim_answers_an_unknown_symbol_like_bybit() -> None:
    _, app, _ = _sim()
    with pytest.raises(VenueAPIError, match="Not supported symbols"):
        await BybitConnector(sim_client("bybit", app)).fetch_daily(
            _market("NOPEUSDT", "linear"), date(2026, 1, 1), date(2026, 1, 5)
        )


async def test_sim_rate_limit_answers_too_many_visits_and_the_client_recovers() -> None:
    model, app, sim = _sim(enforce_limits=True)
    sim.rate, sim.burst = 50.0, 3.0  # a small bucket so that a short burst overflows it
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as raw:
        answers = await asyncio.gather(
            *(raw.get("/v5/market/tickers", params={"category": "inverse"}) for _ in range(8))
        )
    throttled = [a for a in answers if a.json()["retCode"] == 10006]
    assert throttled and all(a.status_code == 200 for a in throttled)
    assert throttled[0].json()["retMsg"] == "Too many visits!"
    reset = int(throttled[0].headers["X-Bapi-Limit-Reset-Timestamp"])
    assert reset > throttled[0].json()["time"]

    policy = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.02, timeout=2.0)
    snapshot = await BybitConnector(sim_client("bybit", app, policy=policy)).fetch_current()
    assert snapshot.total_usd == _rolling_total(model)


def test_client_rate_limit_stays_below_bybits_600_per_5_seconds() -> None:
    rate, burst = RATE_LIMIT
    assert rate <= 0.8 * 600 / 5 and burst <= 600


def test_fixtures_keep_bybit_types() -> None:
    body = json.loads(fixture_bytes("bybit", "market_tickers_inverse.json"))
    assert isinstance(body["retCode"], int) and isinstance(body["time"], int)
    assert all(isinstance(v, str) for v in body["result"]["list"][0].values())


async def test_sim_pages_instruments_with_an_encoded_cursor_and_serves_klines_newest_first() -> None:
    model, app, _ = _sim()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as raw:
        symbols: list[str] = []
        cursor = ""
        while True:
            params = {"category": "linear", "limit": "60"} | ({"cursor": unquote(cursor)} if cursor else {})
            result = (await raw.get("/v5/market/instruments-info", params=params)).json()["result"]
            symbols += [item["symbol"] for item in result["list"]]
            cursor = result["nextPageCursor"]
            if not cursor:
                break
            assert cursor.startswith("first%3D")
        kline = (await raw.get("/v5/market/kline", params={"symbol": "BTCUSDT", "interval": "D"})).json()
        bad = (await raw.get("/v5/market/instruments-info", params={"category": "spot"})).json()

    active_linear = [m for m in model.markets("bybit") if m.kind == "linear" and m.delisted is None]
    assert len(symbols) == len(set(symbols)) == len(active_linear) + 1  # + the dated USDC future
    rows = kline["result"]["list"]
    assert len(rows) == 200 and int(rows[0][0]) > int(rows[1][0])
    assert kline["result"]["category"] == "linear"
    assert (bad["retCode"], bad["retMsg"]) == (10001, "Illegal category")
