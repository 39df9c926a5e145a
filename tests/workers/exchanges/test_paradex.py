from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchanges.base import Market, ms_from_date, utc_from_ms
from exchanges.errors import PartialAnswerError, SchemaError, UnavailableError, VenueAPIError
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.paradex import KLINES, MARKETS, RATE_LIMIT, SUMMARY, ParadexConnector
from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.model import SimMarket, SimModel
from exchanges.sim.paradex import ParadexSim
from tests.exchanges_support import (
    SIM_NOW,
    TimeoutASGITransport,
    fixture_bytes,
    fixture_json,
    replay_client,
    sim_client,
)

VENUE = "paradex"
JUNE_15 = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
JULY_1_NOON = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def answer(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=fixture_bytes(VENUE, name), headers=headers)


def answer_json(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode())


def by_path(routes: dict[str, Callable[[], httpx.Response]], seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes[request.url.path]()

    return handler


def recorded_routes() -> dict[str, Callable[[], httpx.Response]]:
    return {
        MARKETS: lambda: answer("markets.json"),
        SUMMARY: lambda: answer("markets_summary_all.json"),
    }


def connector_for(handler: Handler, now: datetime = JUNE_15) -> ParadexConnector:
    return ParadexConnector(replay_client(VENUE, handler), now=lambda: now)


BTC = Market("paradex", "BTC-USD-PERP", "linear", "trading", "BTC", "USD")


# --- recorded responses ---------------------------------------------------------------------------


async def test_lists_only_perps_not_perpetual_options() -> None:
    connector = connector_for(by_path(recorded_routes(), []))
    markets = await connector.list_markets()
    assert [m.symbol for m in markets] == ["BTC-USD-PERP", "BODEN-USD-PERP"]
    assert {(m.kind, m.status, m.quote) for m in markets} == {("linear", "trading", "USD")}
    assert markets[1].base == "BODEN"
    assert markets[0].get("settlement_currency") == "USDC"


async def test_perp_that_opens_later_is_pending() -> None:
    before_boden = datetime(2024, 5, 1, tzinfo=UTC)
    markets = await connector_for(by_path(recorded_routes(), []), before_boden).list_markets()
    assert {m.symbol: m.status for m in markets} == {"BTC-USD-PERP": "trading", "BODEN-USD-PERP": "pending"}


async def test_current_counts_perp_rows_of_summary_in_usd() -> None:
    seen: list[httpx.Request] = []
    snapshot = await connector_for(by_path(recorded_routes(), seen)).fetch_current()
    volumes = {m.symbol: m.volume_usd for m in snapshot.markets}
    # The option row and the perp no longer in /markets are left out; a zero-volume perp stays.
    assert volumes == {"BTC-USD-PERP": Decimal("2611476.262600002"), "BODEN-USD-PERP": Decimal(0)}
    assert snapshot.total_usd == Decimal("2611476.262600002")
    assert snapshot.as_of == utc_from_ms(1718377962698)
    assert snapshot.window == "rolling_24h" and not snapshot.estimated
    assert "volume_24h" in snapshot.source
    summary = next(r for r in seen if r.url.path == SUMMARY)
    assert summary.url.params["market"] == "ALL"


async def test_current_fails_when_a_listed_perp_has_no_summary_row() -> None:
    body = fixture_json(VENUE, "markets_summary_all.json")
    body["results"] = [r for r in body["results"] if r["symbol"] != "BTC-USD-PERP"]
    routes = recorded_routes() | {SUMMARY: lambda: answer_json(body)}
    with pytest.raises(PartialAnswerError) as error:
        await connector_for(by_path(routes, [])).fetch_current()
    assert error.value.missing == {"BTC-USD-PERP"}
    assert "paradex" in str(error.value) and "1 of " in str(error.value) and "BTC-USD-PERP" in str(error.value)


async def test_missing_volume_field_raises_schema_error_naming_it() -> None:
    body = fixture_json(VENUE, "markets_summary_all.json")
    del body["results"][0]["volume_24h"]
    routes = recorded_routes() | {SUMMARY: lambda: answer_json(body)}
    with pytest.raises(SchemaError) as error:
        await connector_for(by_path(routes, [])).fetch_current()
    assert error.value.field == "volume_24h"


async def test_daily_sums_hourly_klines_into_utc_days_over_two_windows() -> None:
    seen: list[httpx.Request] = []

    def klines() -> httpx.Response:
        first = int(seen[-1].url.params["start_at"]) == ms_from_date(date(2024, 6, 1))
        return answer("markets_klines_btc_page1.json" if first else "markets_klines_btc_page2.json")

    connector = connector_for(by_path({KLINES: klines}, seen), JULY_1_NOON)
    days = await connector.fetch_daily(BTC, date(2024, 6, 1), date(2024, 7, 5))
    assert [(d.day, d.volume_usd, d.complete) for d in days] == [
        (date(2024, 6, 1), Decimal("3995315.75"), True),
        (date(2024, 6, 30), Decimal("1388413.2"), True),
        # The candle both pages carry counts once; today is still open.
        (date(2024, 7, 1), Decimal("2000000.00"), False),
    ]
    assert all(d.estimated and d.symbol == "BTC-USD-PERP" for d in days)
    params = [dict(r.url.params) for r in seen]
    assert params[0] == {
        "symbol": "BTC-USD-PERP",
        "resolution": "60",
        "start_at": str(ms_from_date(date(2024, 6, 1))),
        "end_at": str(ms_from_date(date(2024, 7, 1)) - 1),
    }
    # The range stops at today: the second window is 2024-07-01 only.
    assert params[1]["end_at"] == str(ms_from_date(date(2024, 7, 2)) - 1)
    assert len(seen) == 2


async def test_recorded_integer_candle_volume_is_read_exactly() -> None:
    connector = connector_for(
        by_path({KLINES: lambda: answer("markets_klines_ccxt_1m.json")}, []), JULY_1_NOON
    )
    days = await connector.fetch_daily(BTC, date(2024, 7, 1), date(2024, 7, 1))
    assert days == []  # the recorded candle (2024-07-03) lies outside the asked range
    later = connector_for(
        by_path({KLINES: lambda: answer("markets_klines_ccxt_1m.json")}, []), datetime(2024, 7, 4, tzinfo=UTC)
    )
    [day] = await later.fetch_daily(BTC, date(2024, 7, 3), date(2024, 7, 3))
    assert day.volume_usd == Decimal(4561) and day.complete


async def test_no_candles_means_no_days() -> None:
    connector = connector_for(by_path({KLINES: lambda: answer("markets_klines_empty.json")}, []))
    assert await connector.fetch_daily(BTC, date(2024, 6, 1), date(2024, 6, 3)) == []


async def test_candle_volume_that_is_not_a_number_is_a_schema_error() -> None:
    body = {"results": [[1717200000000, 67512.4, 67790.1, 67480.0, 67702.3, "n/a"]]}
    connector = connector_for(by_path({KLINES: lambda: answer_json(body)}, []))
    with pytest.raises(SchemaError) as error:
        await connector.fetch_daily(BTC, date(2024, 6, 1), date(2024, 6, 1))
    assert error.value.field == "results[][5]"


async def test_throttle_is_retried_then_succeeds() -> None:
    answers = iter([answer("error_rate_limited.json", 429, {"Retry-After": "0"}), answer("markets.json")])
    seen: list[httpx.Request] = []
    markets = await connector_for(by_path({MARKETS: lambda: next(answers)}, seen)).list_markets()
    assert len(markets) == 2 and len(seen) == 2


async def test_rate_limit_code_in_body_is_treated_as_throttle() -> None:
    answers = iter([answer("error_rate_limited.json", 400), answer("markets.json")])
    seen: list[httpx.Request] = []
    markets = await connector_for(by_path({MARKETS: lambda: next(answers)}, seen)).list_markets()
    assert len(markets) == 2 and len(seen) == 2


async def test_internal_error_body_is_retried() -> None:
    answers = iter([answer_json({"error": "INTERNAL_ERROR", "message": "oops"}, 400), answer("markets.json")])
    markets = await connector_for(by_path({MARKETS: lambda: next(answers)}, [])).list_markets()
    assert len(markets) == 2


async def test_error_body_raises_venue_api_error_without_retry() -> None:
    seen: list[httpx.Request] = []
    connector = connector_for(by_path({KLINES: lambda: answer("error_validation.json", 400)}, seen))
    with pytest.raises(VenueAPIError) as error:
        await connector.fetch_daily(BTC, date(2024, 6, 1), date(2024, 6, 1))
    assert error.value.code == "VALIDATION_ERROR" and len(seen) == 1
    onboarding = connector_for(by_path({MARKETS: lambda: answer("error_not_onboarded.json", 400)}, []))
    with pytest.raises(VenueAPIError, match="NOT_ONBOARDED"):
        await onboarding.list_markets()


# --- the simulator --------------------------------------------------------------------------------

TIMEOUT_POLICY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=0.2)


async def _no_sleep(_: float) -> None:
    return None


def timed_client(app: SimulatorApp) -> VenueClient:
    transport = TimeoutASGITransport(app=app)
    limiter = RateLimiter(rate=1e6, capacity=1e6)
    return VenueClient(
        VENUE, "http://sim.test", limiter, policy=TIMEOUT_POLICY, transport=transport, sleep=_no_sleep
    )


@pytest.fixture
def model() -> SimModel:
    return SimModel(seed=1, now=lambda: SIM_NOW)


@pytest.fixture
def app(model: SimModel) -> SimulatorApp:
    return SimulatorApp(model, [ParadexSim(model)], enforce_limits=False)


def sim_connector(app: SimulatorApp) -> ParadexConnector:
    return ParadexConnector(sim_client(VENUE, app), now=app.model.now)


def listed(model: SimModel) -> list[SimMarket]:
    return [m for m in model.markets(VENUE) if m.delisted is None]


def expected_current(model: SimModel) -> Decimal:
    return sum((model.rolling_24h_usd(m) for m in listed(model)), Decimal(0))


def as_market(m: SimMarket) -> Market:
    return Market("paradex", ParadexSim.symbol(m), "linear", "trading", m.base, "USD")


async def test_sim_current_total_equals_model_rolling_24h(app: SimulatorApp, model: SimModel) -> None:
    snapshot = await sim_connector(app).fetch_current()
    assert {m.symbol for m in snapshot.markets} == {ParadexSim.symbol(m) for m in listed(model)}
    assert snapshot.total_usd == expected_current(model)
    assert snapshot.as_of == SIM_NOW


async def test_sim_lists_neither_options_nor_delisted_perps(app: SimulatorApp, model: SimModel) -> None:
    markets = await sim_connector(app).list_markets()
    assert len(markets) == len(listed(model)) and all(m.symbol.endswith("-USD-PERP") for m in markets)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as http:
        rows = (await http.get(MARKETS)).json()["results"]
    assert {r["asset_kind"] for r in rows} == {"PERP", "PERP_OPTION"}


async def test_sim_two_years_of_days_equal_model(app: SimulatorApp, model: SimModel) -> None:
    today = SIM_NOW.date()
    start = today - timedelta(days=730)
    connector = sim_connector(app)
    for m in (model.markets(VENUE)[0], model.markets(VENUE)[30]):
        days = {d.day: d for d in await connector.fetch_daily(as_market(m), start, today)}
        expected = {
            start + timedelta(days=i): model.daily_usd(m, start + timedelta(days=i))
            for i in range(731)
            if m.trading_on(start + timedelta(days=i))
        }
        assert {day: d.volume_usd for day, d in days.items()} == expected
        assert days[today].complete is False and days[today - timedelta(days=1)].complete


async def test_sim_delisted_market_keeps_history_for_days_it_traded(
    model: SimModel, app: SimulatorApp
) -> None:
    gone = next(m for m in model.markets(VENUE) if m.delisted is not None)
    assert gone.delisted is not None
    start, end = gone.delisted - timedelta(days=20), gone.delisted + timedelta(days=5)
    days = await sim_connector(app).fetch_daily(as_market(gone), start, end)
    assert [d.day for d in days] == [start + timedelta(days=i) for i in range(20)]
    assert all(d.volume_usd == model.daily_usd(gone, d.day) for d in days)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="throttle", venue=VENUE, count=2, retry_after=0),
        Fault(kind="error5xx", venue=VENUE, count=2, status=502),
        Fault(kind="truncated", venue=VENUE, count=1),
        Fault(kind="malformed", venue=VENUE, count=1),
        Fault(kind="timeout", venue=VENUE, count=1, ms=400),
    ],
    ids=lambda f: f.kind,
)
async def test_sim_transient_faults_are_retried_and_totals_stay_exact(
    fault: Fault, app: SimulatorApp, model: SimModel
) -> None:
    retries = fault.count or 0
    app.faults.append(fault)
    client = timed_client(app)
    snapshot = await ParadexConnector(client, now=model.now).fetch_current()
    assert snapshot.total_usd == expected_current(model)
    # /v1/markets and /v1/markets/summary once each, plus one more request per injected fault.
    assert client.requests_sent == 2 + retries and fault.count == 0


async def test_sim_missing_field_is_a_schema_error_naming_it(app: SimulatorApp) -> None:
    app.faults.append(Fault(kind="missing_field", venue=VENUE, path=SUMMARY, count=1, field="volume_24h"))
    with pytest.raises(SchemaError) as error:
        await sim_connector(app).fetch_current()
    assert error.value.field == "volume_24h"


async def test_sim_missing_klines_results_is_a_schema_error(app: SimulatorApp, model: SimModel) -> None:
    app.faults.append(Fault(kind="missing_field", venue=VENUE, path=KLINES, count=1, field="results"))
    with pytest.raises(SchemaError) as error:
        await sim_connector(app).fetch_daily(
            as_market(model.markets(VENUE)[0]), date(2026, 11, 1), SIM_NOW.date()
        )
    assert error.value.field == "results"


async def test_sim_persistent_5xx_gives_unavailable(app: SimulatorApp) -> None:
    app.faults.append(Fault(kind="error5xx", venue=VENUE))
    with pytest.raises(UnavailableError):
        await ParadexConnector(timed_client(app), now=app.model.now).fetch_current()


async def test_sim_answers_bad_parameters_with_paradex_error_bodies(
    app: SimulatorApp, model: SimModel
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as http:
        bad = await http.get(
            KLINES, params={"symbol": "BTC-USD-PERP", "resolution": "2", "start_at": 0, "end_at": 1}
        )
        missing = await http.get(SUMMARY)
    assert bad.status_code == 400 and bad.json()["error"] == "INVALID_REQUEST_PARAMETER"
    assert missing.status_code == 400 and missing.json()["error"] == "VALIDATION_ERROR"
    unknown = Market("paradex", "NOPE-USD-PERP", "linear", "trading", "NOPE", "USD")
    with pytest.raises(VenueAPIError) as error:
        await sim_connector(app).fetch_daily(unknown, date(2026, 11, 1), date(2026, 11, 2))
    assert error.value.code == "MARKET_NOT_FOUND"


async def test_sim_rate_limit_answers_429_and_connector_recovers(model: SimModel) -> None:
    app = SimulatorApp(model, [ParadexSim(model)], enforce_limits=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as http:
        answers = await asyncio.gather(*(http.get(MARKETS) for _ in range(60)))
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled and len(throttled) < 60
    assert throttled[0].headers["Retry-After"] == "1" and "x-ratelimit-limit" in throttled[0].headers
    connector = ParadexConnector(sim_client(VENUE, app, limiter=RateLimiter(*RATE_LIMIT)), now=model.now)
    markets = await asyncio.wait_for(connector.list_markets(), 5)
    assert len(markets) == len(listed(model))


async def test_sim_speaks_paradex_types_and_mixes_options_into_summary(app: SimulatorApp) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as http:
        summary = (await http.get(SUMMARY, params={"market": "ALL"})).json()["results"]
        params: dict[str, str | int] = {
            "symbol": "BTC-USD-PERP",
            "resolution": "60",
            "start_at": 1763600000000,
            "end_at": 1763610000000,
        }
        klines = (await http.get(KLINES, params=params)).json()["results"]
    assert any(not r["symbol"].endswith("-PERP") for r in summary)
    perp = next(r for r in summary if r["symbol"] == "BTC-USD-PERP")
    assert isinstance(perp["volume_24h"], str) and "E" not in perp["mark_price"]
    assert isinstance(perp["created_at"], int)
    assert klines and all(len(row) == 6 and isinstance(row[0], int) for row in klines)
    assert all(isinstance(v, (int, float)) for row in klines for v in row[1:])
    assert [row[0] for row in klines] == sorted(row[0] for row in klines)
