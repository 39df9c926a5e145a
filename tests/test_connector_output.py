"""What the connectors produce stays byte-for-byte the same: markets, current snapshots and daily rows of
all four venues, from the recorded responses and from the simulator, compared with an expectation written
before the layered redesign (tests/fixtures/connector_output.json).

A deliberate change of a connector's output rewrites the expectation with
`python -m tests.test_connector_output --write` and shows up in review as a diff of that file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from exchanges.base import Connector, ms_from_date
from exchanges.bybit import BybitConnector
from exchanges.hyperliquid import HyperliquidConnector
from exchanges.paradex import ParadexConnector
from exchanges.sim.model import SimModel
from exchanges.simulator import build_simulator
from exchanges.woox import WooxConnector
from tests.exchanges_support import SIM_NOW, fixture_bytes, replay_client, sim_client

EXPECTED = Path(__file__).parent / "fixtures" / "connector_output.json"
# The Paradex recordings are of mid-June 2024; its market status depends on the day.
PARADEX_RECORDED_AT = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
SIM_DAYS = 40
# The markets whose daily candles were recorded, and days the recordings cover.
RECORDED_DAILY: dict[str, tuple[set[str], date, date]] = {
    "bybit": ({"BTCUSDT", "BTCUSD"}, date(2025, 11, 15), date(2025, 11, 21)),
    "woox": ({"PERP_BTC_USDT"}, date(2025, 7, 1), date(2025, 7, 4)),
    "hyperliquid": ({"BTC"}, date(2024, 1, 1), date(2025, 6, 29)),
    "paradex": ({"BTC-USD-PERP"}, date(2024, 1, 1), date(2025, 6, 29)),
}
Handler = Callable[[httpx.Request], httpx.Response]


def _file(venue: str, name: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, content=fixture_bytes(venue, name), headers=headers)


def _bybit(request: httpx.Request) -> httpx.Response:
    path, params = request.url.path, request.url.params
    if path == "/v5/market/tickers":
        return _file("bybit", f"market_tickers_{params['category']}.json")
    if path == "/v5/market/kline":
        name = {"BTCUSDT": "linear_btcusdt", "BTCUSD": "inverse_btcusd"}[params["symbol"]]
        return _file("bybit", f"market_kline_{name}.json")
    category, status, cursor = params["category"], params["status"], params.get("cursor")
    if category == "inverse":
        return _file("bybit", f"market_instruments_info_{'inverse' if status == 'Trading' else 'empty'}.json")
    pages = {
        ("Trading", None): "market_instruments_info_linear_page1.json",
        ("Trading", "first=BTC-26DEC25&last=BTCUSDT"): "market_instruments_info_linear_page2.json",
        ("PreLaunch", None): "market_instruments_info_linear_prelaunch.json",
        ("Closed", None): "market_instruments_info_linear_closed.json",
    }
    return _file("bybit", pages.get((status, cursor), "market_instruments_info_empty.json"))


def _woox(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/v3/public/klineHistory":
        before = request.url.params.get("before")
        if before in (None, *(str(ms_from_date(date(2025, 7, d))) for d in (4, 5))):
            return _file("woox", "kline_history_1d_page1.json")
        if before == str(ms_from_date(date(2025, 7, 2))):
            return _file("woox", "kline_history_1d_page2.json")
        return _file("woox", "kline_history_empty.json")
    return _file("woox", {"/v3/public/futures": "futures.json", "/v3/public/instruments": "instruments.json"}[path])


def _hyperliquid(request: httpx.Request) -> httpx.Response:
    kind = json.loads(request.content)["type"]
    if kind == "candleSnapshot":
        return _file("hyperliquid", "candle_snapshot_btc_1d_page1.json")
    return _file("hyperliquid", "meta_and_asset_ctxs.json", {"Date": "Tue, 04 Mar 2025 10:20:30 GMT"})


def _paradex(request: httpx.Request) -> httpx.Response:
    names = {"/v1/markets": "markets.json", "/v1/markets/summary": "markets_summary_all.json"}
    return _file("paradex", names.get(request.url.path, "markets_klines_btc_page1.json"))


def recorded_connectors() -> dict[str, Connector]:
    return {
        "bybit": BybitConnector(replay_client("bybit", _bybit)),
        "woox": WooxConnector(replay_client("woox", _woox)),
        "hyperliquid": HyperliquidConnector(replay_client("hyperliquid", _hyperliquid)),
        "paradex": ParadexConnector(replay_client("paradex", _paradex), now=lambda: PARADEX_RECORDED_AT),
    }


def sim_connectors() -> dict[str, Connector]:
    app = build_simulator(1, enforce_limits=False, model=SimModel(seed=1, now=lambda: SIM_NOW, history_days=SIM_DAYS))
    now = lambda: SIM_NOW  # noqa: E731
    return {
        "bybit": BybitConnector(sim_client("bybit", app)),
        "woox": WooxConnector(sim_client("woox", app)),
        "hyperliquid": HyperliquidConnector(sim_client("hyperliquid", app), now=now),
        "paradex": ParadexConnector(sim_client("paradex", app), now=now),
    }


def plain(value: Any) -> Any:
    """A JSON-able copy that keeps every digit and every field (Decimal as its exact string)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


async def _venue(connector: Connector, start: date, end: date, daily: Callable[[str], bool]) -> dict[str, Any]:
    markets = await connector.list_markets()
    doc: dict[str, Any] = {"markets": plain(markets), "current": plain(await connector.fetch_current())}
    picked = [m for m in markets if daily(m.symbol)]
    doc["daily"] = {m.symbol: plain(await connector.fetch_daily(m, start, end)) for m in picked}
    doc["totals"] = str((await connector.fetch_current()).total_usd)
    await connector.aclose()
    return doc


async def documents() -> dict[str, Any]:
    recorded = {}
    for name, connector in recorded_connectors().items():
        symbols, first, last = RECORDED_DAILY[name]
        recorded[name] = await _venue(connector, first, last, symbols.__contains__)
    end = SIM_NOW.date()
    start = end - timedelta(days=SIM_DAYS - 5)
    simulated = {name: await _venue(c, start, end, lambda s: "BTC" in s) for name, c in sim_connectors().items()}
    return {"recorded": recorded, "simulator": simulated}


def encode(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


async def test_connector_output_is_byte_for_byte_what_it_was_before_the_redesign() -> None:
    assert encode(await documents()) == EXPECTED.read_text()


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.test_connector_output --write")
    EXPECTED.write_text(encode(asyncio.run(documents())))
