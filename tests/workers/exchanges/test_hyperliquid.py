from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchanges.base import Exchange, Market, ms_from_date
from exchanges.errors import SchemaError, UnavailableError, VenueAPIError
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.hyperliquid import (
    HISTORY_SOURCE,
    HOURLY_SOURCE,
    RATE_LIMIT,
    HyperliquidConnector,
)
from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.hyperliquid import HyperliquidSim, coin_of
from exchanges.sim.model import SimMarket, SimModel
from tests.exchanges_support import (
    SIM_NOW,
    TimeoutASGITransport,
    fixture_bytes,
    fixture_json,
    replay_client,
    sim_client,
)

VENUE: Exchange = "hyperliquid"
BTC = Market(VENUE, "BTC", "linear", "trading", "BTC", "USDC")
Handler = Callable[[httpx.Request], httpx.Response]
# The sim sets v = USD / typical price, rounded to the coin's szDecimals: the estimate may only differ by
# that rounding (a few cents). Against the real venue the typical price stands in for the day's VWAP,
# which we document as within ~2% on ordinary days.
SIM_ESTIMATE_TOLERANCE = Decimal("0.0001")
REAL_ESTIMATE_TOLERANCE = Decimal("0.02")
FAULT_POLICY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=0.2)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def ok(
    name: str, *, date_header: str | None = None, edit: Callable[[Any], Any] | None = None
) -> httpx.Response:
    body = fixture_json(VENUE, name)
    headers = {"Date": date_header} if date_header else {}
    return httpx.Response(200, json=edit(body) if edit else body, headers=headers)


def replay(handler: Handler) -> HyperliquidConnector:
    return HyperliquidConnector(replay_client(VENUE, handler))


def meta_handler(edit: Callable[[Any], Any] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/info"
        assert body_of(request) == {"type": "metaAndAssetCtxs"}  # no "dex": main DEX only
        return ok("meta_and_asset_ctxs.json", date_header="Tue, 04 Mar 2025 10:20:30 GMT", edit=edit)

    return handler


# --- recorded responses: current volume ----------------------------------------------------------


async def test_current_volume_is_day_notional_volume_of_each_listed_perp() -> None:
    snapshot = await replay(meta_handler()).fetch_current()
    assert {m.symbol: m.volume_usd for m in snapshot.markets} == {
        "BTC": Decimal("1169046.29406"),
        "ETH": Decimal("1426126.295175"),
        "HPOS": Decimal("809774.565507"),
    }
    assert snapshot.total_usd == Decimal("3404947.154742")
    assert not snapshot.estimated and snapshot.window == "rolling_24h"
    assert "dayNtlVlm" in snapshot.source


async def test_current_snapshot_is_dated_by_the_venue_date_header() -> None:
    snapshot = await replay(meta_handler()).fetch_current()
    assert snapshot.as_of == datetime(2025, 3, 4, 10, 20, 30, tzinfo=UTC)


async def test_current_snapshot_without_date_header_is_dated_now() -> None:
    before = datetime.now(UTC)
    snapshot = await replay(lambda r: ok("meta_and_asset_ctxs.json")).fetch_current()
    assert before - timedelta(seconds=1) <= snapshot.as_of <= datetime.now(UTC)


async def test_zero_volume_perps_are_kept_with_zero() -> None:
    def silence_hpos(body: Any) -> Any:
        body[1][2]["dayNtlVlm"] = "0.0"
        return body

    snapshot = await replay(meta_handler(silence_hpos)).fetch_current()
    assert [(m.symbol, m.volume_usd) for m in snapshot.markets][-1] == ("HPOS", Decimal("0.0"))


async def test_delisted_perp_counts_only_while_its_24h_volume_is_not_zero() -> None:
    def recently_delisted(body: Any) -> Any:
        body[1][3]["dayNtlVlm"] = "1234.5"
        return body

    quiet = await replay(meta_handler()).fetch_current()
    recent = await replay(meta_handler(recently_delisted)).fetch_current()
    assert "LOOM" not in {m.symbol for m in quiet.markets}
    assert recent.total_usd - quiet.total_usd == Decimal("1234.5")


async def test_markets_list_every_perp_with_delisted_status_and_asset_id() -> None:
    markets = await replay(meta_handler()).list_markets()
    assert [(m.symbol, m.status, m.kind, m.quote) for m in markets] == [
        ("BTC", "trading", "linear", "USDC"),
        ("ETH", "trading", "linear", "USDC"),
        ("HPOS", "trading", "linear", "USDC"),
        ("LOOM", "delisted", "linear", "USDC"),
    ]
    assert [m.get("asset_id") for m in markets] == ["0", "1", "2", "3"]


async def test_thousand_unit_coins_keep_their_venue_name() -> None:
    def rename_hpos(body: Any) -> Any:
        body[0]["universe"][2]["name"] = "kPEPE"
        return body

    markets = await replay(meta_handler(rename_hpos)).list_markets()
    assert (markets[2].symbol, markets[2].base, markets[2].get("unit")) == ("kPEPE", "PEPE", "1000")


async def test_missing_day_notional_volume_is_a_schema_error_naming_the_field() -> None:
    def drop(body: Any) -> Any:
        del body[1][1]["dayNtlVlm"]
        return body

    with pytest.raises(SchemaError) as error:
        await replay(meta_handler(drop)).fetch_current()
    assert error.value.field == "dayNtlVlm"


async def test_contexts_not_aligned_with_universe_is_a_schema_error() -> None:
    def drop_one_context(body: Any) -> Any:
        body[1].pop()
        return body

    with pytest.raises(SchemaError) as error:
        await replay(meta_handler(drop_one_context)).fetch_current()
    assert error.value.field == "assetCtxs"


async def test_non_numeric_volume_is_a_schema_error() -> None:
    def garble(body: Any) -> Any:
        body[1][0]["dayNtlVlm"] = "n/a"
        return body

    with pytest.raises(SchemaError, match="dayNtlVlm"):
        await replay(meta_handler(garble)).fetch_current()


async def test_throttled_answer_is_retried_until_it_succeeds() -> None:
    answers = [httpx.Response(429, content=fixture_bytes(VENUE, "throttled_429.json"))] * 2
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return answers.pop() if answers else meta_handler()(request)

    snapshot = await replay(handler).fetch_current()
    assert len(calls) == 3 and snapshot.total_usd == Decimal("3404947.154742")


async def test_malformed_request_answer_is_a_venue_api_error() -> None:
    text = fixture_bytes(VENUE, "info_error_422.txt")
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(422, content=text, headers={"content-type": "text/plain"})

    with pytest.raises(VenueAPIError) as error:
        await replay(handler).fetch_current()
    assert error.value.code == "422" and "Failed to deserialize" in str(error.value)
    assert len(calls) == 1  # not retried


async def test_unknown_coin_answer_gives_up_as_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=fixture_bytes(VENUE, "candle_snapshot_unknown_coin_500.json"))

    with pytest.raises(UnavailableError):
        await replay(handler).fetch_daily(BTC, date(2025, 1, 1), date(2025, 1, 2))


# --- recorded responses: daily history -----------------------------------------------------------


# Longer than one 1000-day window: the first page holds the 2024 days, the second the 2025 ones.
PAGED_FROM = date(2022, 1, 1)


def candle_pages(sent: list[dict[str, Any]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        assert body["type"] == "candleSnapshot"
        sent.append(body["req"])
        first = body["req"]["startTime"] == ms_from_date(PAGED_FROM)
        return ok("candle_snapshot_btc_1d_page1.json" if first else "candle_snapshot_btc_1d_page2.json")

    return handler


async def test_daily_volume_is_base_volume_times_typical_price_over_pages() -> None:
    sent: list[dict[str, Any]] = []
    rows = await replay(candle_pages(sent)).fetch_daily(BTC, PAGED_FROM, date(2025, 6, 29))
    assert [(r.day, r.volume_usd) for r in rows] == [
        (date(2024, 1, 1), Decimal("227437915.06")),
        (date(2024, 1, 2), Decimal("442350617.29")),
        (date(2024, 1, 3), Decimal("522166510.25")),
        (date(2025, 6, 27), Decimal("332825413.67")),
        (date(2025, 6, 28), Decimal("0.00")),
        (date(2025, 6, 29), Decimal("243144518.75")),
    ]
    assert all(r.estimated and r.complete and r.source == HISTORY_SOURCE for r in rows)
    assert [(s["coin"], s["interval"]) for s in sent] == [("BTC", "1d")] * 2
    # Two windows that meet without a gap or overlap, ending at the last millisecond of the end day.
    assert sent[0]["startTime"] == ms_from_date(PAGED_FROM)
    assert sent[0]["endTime"] == ms_from_date(PAGED_FROM + timedelta(days=1000)) - 1
    assert sent[1]["startTime"] == sent[0]["endTime"] + 1
    assert sent[1]["endTime"] == ms_from_date(date(2025, 6, 30)) - 1


async def test_daily_rows_are_deduplicated_and_limited_to_the_asked_days() -> None:
    handler: Handler = lambda request: ok("candle_snapshot_btc_1d_page1.json")  # noqa: E731
    rows = await replay(handler).fetch_daily(BTC, date(2024, 1, 2), date(2025, 12, 31))
    assert [r.day for r in rows] == [date(2024, 1, 2), date(2024, 1, 3)]


async def test_newest_candle_is_incomplete_while_the_venue_day_runs() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if body_of(request)["req"]["interval"] == "1h":
            return httpx.Response(200, json=[])  # no hours: the 1d figures stay
        return ok("candle_snapshot_btc_1d_page2.json", date_header="Sun, 29 Jun 2025 18:00:00 GMT")

    rows = await replay(handler).fetch_daily(BTC, date(2025, 6, 27), date(2025, 6, 29))
    assert [r.complete for r in rows] == [True, True, False]


# --- recorded responses: hourly candles narrow the days the venue still serves them for --------------

JUNE_29_EVENING = "Sun, 29 Jun 2025 18:00:00 GMT"  # 5000 hours back reaches 2024-12-05


def one_day_hours(sent: list[dict[str, Any]], edit: Callable[[Any], Any] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        req = body_of(request)["req"]
        sent.append(req)
        if req["interval"] == "1h":
            return ok("candle_snapshot_btc_1h_2025-06-27.json", date_header=JUNE_29_EVENING, edit=edit)
        first = req["startTime"] == ms_from_date(date(2024, 1, 1))
        page = "candle_snapshot_btc_1d_page1.json" if first else "candle_snapshot_btc_1d_page2.json"
        return ok(page, date_header=JUNE_29_EVENING)

    return handler


async def test_day_inside_the_hourly_window_is_the_sum_of_its_24_hours() -> None:
    sent: list[dict[str, Any]] = []
    rows = await replay(one_day_hours(sent)).fetch_daily(BTC, date(2025, 6, 27), date(2025, 6, 29))
    # Σ over the fixture's 24 hours of v × (o+h+l+c)/4 = 316234321.3666625 (the 1d candle says 332825413.67).
    assert [(r.day, r.volume_usd, r.source) for r in rows] == [
        (date(2025, 6, 27), Decimal("316234321.37"), HOURLY_SOURCE),
        (date(2025, 6, 28), Decimal("0.00"), HISTORY_SOURCE),  # no hourly candles: the 1d figure
        (date(2025, 6, 29), Decimal("243144518.75"), HISTORY_SOURCE),  # running day: 15 of 24 hours
    ]
    assert all(r.estimated for r in rows) and [r.complete for r in rows] == [True, True, False]
    assert "interval=1h" in HOURLY_SOURCE and "per hour" in HOURLY_SOURCE
    hourly = [s for s in sent if s["interval"] == "1h"]
    assert hourly == [
        {"coin": "BTC", "interval": "1h", "startTime": ms_from_date(date(2025, 6, 27)),
         "endTime": ms_from_date(date(2025, 6, 30)) - 1},
    ]  # fmt: skip


async def test_day_older_than_the_last_5000_hours_keeps_its_1d_estimate_without_an_hourly_request() -> None:
    sent: list[dict[str, Any]] = []
    rows = await replay(one_day_hours(sent)).fetch_daily(BTC, date(2024, 1, 1), date(2024, 1, 3))
    assert [(r.day, r.volume_usd, r.source) for r in rows] == [
        (date(2024, 1, 1), Decimal("227437915.06"), HISTORY_SOURCE),
        (date(2024, 1, 2), Decimal("442350617.29"), HISTORY_SOURCE),
        (date(2024, 1, 3), Decimal("522166510.25"), HISTORY_SOURCE),
    ]
    assert [s["interval"] for s in sent] == ["1d"]


async def test_day_with_a_missing_hour_keeps_its_1d_estimate() -> None:
    def drop_hour_13(body: Any) -> Any:
        return [c for c in body if c["t"] != ms_from_date(date(2025, 6, 27)) + 13 * 3_600_000]

    rows = await replay(one_day_hours([], drop_hour_13)).fetch_daily(BTC, date(2025, 6, 27), date(2025, 6, 27))
    assert [(r.day, r.volume_usd, r.source) for r in rows] == [
        (date(2025, 6, 27), Decimal("332825413.67"), HISTORY_SOURCE),
    ]


async def test_hourly_answer_with_a_daily_candle_is_a_schema_error_naming_i() -> None:
    def daily_interval(body: Any) -> Any:
        body[0]["i"] = "1d"
        return body

    with pytest.raises(SchemaError) as error:
        await replay(one_day_hours([], daily_interval)).fetch_daily(BTC, date(2025, 6, 27), date(2025, 6, 27))
    assert error.value.field == "i"


async def test_hourly_candles_are_rejected_rather_than_summed_as_days() -> None:
    with pytest.raises(SchemaError) as error:
        await replay(lambda r: ok("candle_snapshot_kpepe_1h.json")).fetch_daily(
            BTC, date(2023, 5, 21), date(2023, 5, 22)
        )
    assert error.value.field == "t"


async def test_candle_without_volume_is_a_schema_error_naming_v() -> None:
    def drop_v(body: Any) -> Any:
        del body[1]["v"]
        return body

    with pytest.raises(SchemaError) as error:
        await replay(lambda r: ok("candle_snapshot_btc_1d_page1.json", edit=drop_v)).fetch_daily(
            BTC, date(2024, 1, 1), date(2024, 1, 3)
        )
    assert error.value.field == "v"


def test_rate_limit_stays_below_the_venue_weight_budget() -> None:
    rate, burst = RATE_LIMIT
    assert rate * 60 + burst <= 0.8 * 1200  # the most weight the client can send in any minute


# --- simulator ------------------------------------------------------------------------------------


def sim(*, enforce_limits: bool = False) -> tuple[SimModel, SimulatorApp, HyperliquidSim]:
    model = SimModel(seed=1, now=lambda: SIM_NOW)
    venue = HyperliquidSim(model)
    return model, SimulatorApp(model, [venue], enforce_limits=enforce_limits), venue


def sim_connector(app: SimulatorApp, policy: RetryPolicy = FAULT_POLICY) -> HyperliquidConnector:
    return HyperliquidConnector(sim_client(VENUE, app, policy=policy))


def sim_market(model: SimModel, coin: str) -> SimMarket:
    return next(m for m in model.markets(VENUE) if coin_of(m) == coin)


def rolling_total(model: SimModel) -> Decimal:
    return sum((model.rolling_24h_usd(m) for m in model.markets(VENUE)), Decimal(0))


async def test_sim_current_total_equals_the_model_rolling_24h_exactly() -> None:
    model, app, _ = sim()
    snapshot = await sim_connector(app).fetch_current()
    assert snapshot.total_usd == rolling_total(model)
    assert snapshot.as_of == SIM_NOW
    assert len(snapshot.markets) == sum(1 for m in model.markets(VENUE) if m.delisted is None)


async def test_sim_lists_delisted_markets_and_thousand_unit_names() -> None:
    model, app, _ = sim()
    markets = {m.symbol: m for m in await sim_connector(app).list_markets()}
    delisted = {coin_of(m) for m in model.markets(VENUE) if m.delisted is not None}
    assert {s for s, m in markets.items() if m.status == "delisted"} == delisted
    assert markets["kPEPE"].base == "PEPE"


def assert_close_to_model(model: SimModel, coin: str, rows: list[Any]) -> None:
    market = sim_market(model, coin)
    expected = {d: v for d, v in _model_days(model, market).items() if v > 0}
    assert [r.day for r in rows] == sorted(expected)
    for row in rows:
        exact = expected[row.day]
        assert abs(row.volume_usd - exact) <= exact * SIM_ESTIMATE_TOLERANCE, row
        assert row.estimated


def _model_days(model: SimModel, market: SimMarket) -> dict[date, Decimal]:
    first = SIM_NOW.date() - timedelta(days=730)
    return {first + timedelta(d): model.daily_usd(market, first + timedelta(d)) for d in range(731)}


@pytest.mark.parametrize("coin", ["BTC", "kPEPE"])
async def test_sim_two_years_of_daily_history_match_the_model_within_the_estimate(coin: str) -> None:
    model, app, _ = sim()
    market = Market(VENUE, coin, "linear", "trading", coin, "USDC")
    connector = sim_connector(app)
    rows = await connector.fetch_daily(market, SIM_NOW.date() - timedelta(days=730), SIM_NOW.date())
    # One 1d window, then one 1h window over the ~208 days the venue still serves hours for.
    assert len(rows) == 731 and connector.client.requests_sent == 2
    # 20 weight per request plus 1 per 60 candles: 731 days and at most 5000 + 24 hours.
    assert connector.client.weight_sent == (20 + 13) + (20 + 84)
    assert_close_to_model(model, coin, rows)
    assert [r.complete for r in rows[-2:]] == [True, False]


async def test_sim_days_inside_the_last_5000_hours_come_from_hours_and_older_ones_from_1d() -> None:
    model, app, _ = sim()
    rows = await sim_connector(app).fetch_daily(BTC, SIM_NOW.date() - timedelta(days=730), SIM_NOW.date())
    # SIM_NOW is 2026-11-20 15:30: the oldest served hour is 15:00 - 4999 h = 2026-04-26 08:00, so
    # 2026-04-27 is the first whole day; today (15 of 24 hours) stays on its running 1d candle.
    hourly = [r.day for r in rows if r.source == HOURLY_SOURCE]
    assert hourly[0] == date(2026, 4, 27) and hourly[-1] == date(2026, 11, 19)
    assert len(hourly) == (date(2026, 11, 19) - date(2026, 4, 27)).days + 1
    assert all(r.source == HISTORY_SOURCE for r in rows if r.day not in set(hourly))
    market = sim_market(model, "BTC")
    for row in rows:
        if row.source == HOURLY_SOURCE:
            exact = model.daily_usd(market, row.day)
            assert abs(row.volume_usd - exact) <= exact * SIM_ESTIMATE_TOLERANCE, row


async def test_sim_serves_hourly_candles_for_the_last_5000_hours_adding_up_to_the_model_day() -> None:
    model, app, _ = sim()
    req = {"coin": "BTC", "interval": "1h", "startTime": 0, "endTime": ms_from_date(SIM_NOW.date()) + 86_400_000}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        candles = (await http.post("/info", json={"type": "candleSnapshot", "req": req})).json()
    current_hour = ms_from_date(SIM_NOW.date()) + 15 * 3_600_000
    assert candles[0]["t"] == current_hour - 4999 * 3_600_000 and candles[-1]["t"] == current_hour
    assert len(candles) == 5000 and all(c["i"] == "1h" and c["T"] == c["t"] + 3_599_999 for c in candles)
    day = ms_from_date(date(2026, 11, 19))
    hours = [c for c in candles if day <= c["t"] < day + 86_400_000]
    usd = sum(Decimal(c["v"]) * sum(Decimal(c[f]) for f in "ohlc") / 4 for c in hours)
    exact = model.daily_usd(sim_market(model, "BTC"), date(2026, 11, 19))
    assert len(hours) == 24 and abs(usd - exact) <= exact * SIM_ESTIMATE_TOLERANCE


async def test_sim_delisted_market_keeps_history_for_the_days_it_traded() -> None:
    model, app, _ = sim()
    gone = next(m for m in model.markets(VENUE) if m.delisted is not None and m.delisted > model.genesis)
    market = Market(VENUE, coin_of(gone), "linear", "delisted", gone.base, "USDC")
    rows = await sim_connector(app).fetch_daily(market, SIM_NOW.date() - timedelta(days=730), SIM_NOW.date())
    assert gone.delisted is not None and rows and rows[-1].day == gone.delisted - timedelta(days=1)
    assert_close_to_model(model, market.symbol, rows)


async def test_sim_answers_bad_bodies_like_the_venue() -> None:
    _, app, _ = sim()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        unknown = await http.post("/info", json={"type": "nope"})
        no_req = await http.post("/info", json={"type": "candleSnapshot"})
        bad_coin = await http.post(
            "/info",
            json={"type": "candleSnapshot", "req": {"coin": "NOPE", "interval": "1d", "startTime": 0}},
        )
    assert unknown.status_code == 422 and unknown.text.startswith("Failed to deserialize the JSON body")
    assert no_req.status_code == 422
    assert (bad_coin.status_code, bad_coin.content) == (500, b"null")


async def test_sim_serves_the_venue_json_types() -> None:
    _, app, _ = sim()
    req = {"coin": "BTC", "interval": "1d", "startTime": ms_from_date(date(2026, 11, 18))}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        meta, contexts = (await http.post("/info", json={"type": "metaAndAssetCtxs"})).json()
        candles = (await http.post("/info", json={"type": "candleSnapshot", "req": req})).json()
    assert len(meta["universe"]) == len(contexts)
    assert isinstance(meta["universe"][0]["szDecimals"], int) and isinstance(contexts[0]["dayNtlVlm"], str)
    delisted = [c for u, c in zip(meta["universe"], contexts, strict=True) if u.get("isDelisted")]
    assert delisted and all(c["midPx"] is None and c["dayNtlVlm"] == "0.0" for c in delisted)
    assert [c["t"] for c in candles] == sorted(c["t"] for c in candles) and len(candles) == 3
    assert all(
        isinstance(c["t"], int) and isinstance(c["n"], int) and isinstance(c["v"], str) for c in candles
    )
    assert all(c["T"] == c["t"] + 86_400_000 - 1 for c in candles)


@pytest.mark.parametrize(
    ("kind", "count"), [("throttle", 2), ("error5xx", 2), ("truncated", 1), ("malformed", 1)]
)
async def test_sim_transient_faults_are_retried_and_totals_stay_exact(kind: str, count: int) -> None:
    model, app, _ = sim()
    app.faults.append(Fault(kind=kind, venue=VENUE, count=count))
    snapshot = await sim_connector(app).fetch_current()
    assert snapshot.total_usd == rolling_total(model)


async def test_sim_timeout_is_retried_and_the_total_stays_exact() -> None:
    model, app, _ = sim()
    app.faults.append(Fault(kind="timeout", venue=VENUE, count=1, ms=400))
    client = VenueClient(
        VENUE,
        "http://sim.test",
        RateLimiter(1e6, 1e6),
        policy=FAULT_POLICY,
        transport=TimeoutASGITransport(app=app),
    )
    snapshot = await HyperliquidConnector(client).fetch_current()
    assert snapshot.total_usd == rolling_total(model) and client.requests_sent == 2


async def test_sim_missing_field_is_a_schema_error_naming_it() -> None:
    _, app, _ = sim()
    app.faults.append(Fault(kind="missing_field", venue=VENUE, field="dayNtlVlm"))
    with pytest.raises(SchemaError) as current:
        await sim_connector(app).fetch_current()
    app.faults[:] = [Fault(kind="missing_field", venue=VENUE, field="v")]
    with pytest.raises(SchemaError) as daily:
        await sim_connector(app).fetch_daily(BTC, date(2026, 11, 1), date(2026, 11, 2))
    assert (current.value.field, daily.value.field) == ("dayNtlVlm", "v")


async def test_sim_persistent_server_errors_end_as_unavailable() -> None:
    _, app, _ = sim()
    app.faults.append(Fault(kind="error5xx", venue=VENUE))
    with pytest.raises(UnavailableError):
        await sim_connector(app).fetch_current()


async def test_sim_rate_limit_answers_429_null_and_the_client_recovers() -> None:
    model, app, venue = sim(enforce_limits=True)
    # The venue's budget (1200/min, i.e. 20/s); the simulator's clock is the test's, so how many requests
    # pass never depends on how fast this machine happens to be.
    venue.rate, venue.burst = 500.0, 100.0
    frozen = [1000.0]
    app.clock = lambda: frozen[0]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        answers = [await http.post("/info", json={"type": "metaAndAssetCtxs"}) for _ in range(8)]
    # Weight 20 from a burst of 100 with no time passing: exactly five pass, three are refused.
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    assert all(a.content == b"null" for a in answers[5:])

    def ticking() -> float:
        # Each request finds 10 ms more (5 tokens): every fourth weight-20 request passes.
        frozen[0] += 0.01
        return frozen[0]

    app.clock = ticking

    policy = RetryPolicy(attempts=20, base_delay=0.02, max_delay=0.05, timeout=2.0)
    client = VenueClient(
        VENUE, "http://sim.test", RateLimiter(1e6, 1e6), policy=policy, transport=httpx.ASGITransport(app=app)
    )
    connector = HyperliquidConnector(client)
    totals = await asyncio.gather(*(connector.fetch_current() for _ in range(8)))
    assert {t.total_usd for t in totals} == {rolling_total(model)}
    assert client.requests_sent > 8  # some were throttled and sent again


async def test_sim_throttle_that_never_ends_gives_up_naming_the_429() -> None:
    _, app, _ = sim()
    app.faults.append(Fault(kind="throttle", venue=VENUE))
    with pytest.raises(UnavailableError, match="HTTP 429 rate limited"):
        await sim_connector(app).fetch_current()
