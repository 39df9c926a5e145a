"""Every perp market of the recorded instrument lists of all four venues gets an asset, or is listed as
unmapped with its reason; scaled tickers map to the real coin with their multiplier."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from core.asset_mapping import map_market
from core.records import Market
from exchanges.bybit import BybitConnector
from exchanges.hyperliquid import HyperliquidConnector
from exchanges.paradex import ParadexConnector
from exchanges.woox import WooxConnector
from tests.exchanges_support import fixture_bytes, replay_client


def _answer(venue: str, name: str) -> httpx.Response:
    return httpx.Response(200, content=fixture_bytes(venue, name))


def _bybit(request: httpx.Request) -> httpx.Response:
    params = request.url.params
    category, status, cursor = params["category"], params["status"], params.get("cursor")
    if category == "inverse":
        return _answer("bybit", f"market_instruments_info_{'inverse' if status == 'Trading' else 'empty'}.json")
    pages = {
        ("Trading", None): "market_instruments_info_linear_page1.json",
        ("Trading", "first=BTC-26DEC25&last=BTCUSDT"): "market_instruments_info_linear_page2.json",
        ("PreLaunch", None): "market_instruments_info_linear_prelaunch.json",
        ("Closed", None): "market_instruments_info_linear_closed.json",
        ("Delivering", None): "market_instruments_info_linear_scaled.json",
    }
    return _answer("bybit", pages.get((status, cursor), "market_instruments_info_empty.json"))


async def _recorded_markets() -> list[Market]:
    bybit = BybitConnector(replay_client("bybit", _bybit))
    woox = WooxConnector(replay_client("woox", lambda r: _answer("woox", "instruments.json")))
    listed = [*await bybit.list_markets(), *await woox.list_markets()]
    for name in ("meta_and_asset_ctxs.json", "meta_and_asset_ctxs_scaled.json"):
        hyperliquid = HyperliquidConnector(replay_client("hyperliquid", lambda r, n=name: _answer("hyperliquid", n)))
        listed.extend(await hyperliquid.list_markets())
    paradex = ParadexConnector(replay_client("paradex", lambda r: _answer("paradex", "markets.json")))
    listed.extend(await paradex.list_markets())
    return list({(m.exchange, m.symbol): m for m in listed}.values())


async def test_every_recorded_perp_market_of_the_four_venues_gets_an_asset() -> None:
    found = {(m.exchange, m.symbol): map_market(m.exchange, m.symbol, m.base) for m in await _recorded_markets()}
    assert {exchange for exchange, _ in found} == {"bybit", "woox", "hyperliquid", "paradex"}
    unmapped = [key for key, mapping in found.items() if not mapping.mapped]
    assert unmapped == []
    assets = {key: (mapping.asset, mapping.multiplier) for key, mapping in found.items()}
    one, thousand = Decimal(1), Decimal(1000)
    assert assets[("bybit", "BTCUSDT")] == ("BTC", one)
    assert assets[("bybit", "BTCPERP")] == ("BTC", one)  # USDC linear perp
    assert assets[("bybit", "BTCUSD")] == ("BTC", one)  # inverse perp rolls up to the same asset
    assert assets[("bybit", "1000PEPEUSDT")] == ("PEPE", thousand)
    assert assets[("bybit", "1000000MOGUSDT")] == ("MOG", Decimal(1_000_000))
    assert assets[("bybit", "10000SATSUSDT")] == ("SATS", Decimal(10_000))
    assert assets[("bybit", "SHIB1000USDT")] == ("SHIB", thousand)
    assert assets[("bybit", "1INCHUSDT")] == ("1INCH", one)  # a leading 1 is part of the name
    assert assets[("bybit", "PEPEPERP")] == ("PEPE", one)
    assert assets[("woox", "PERP_1000PEPE_USDT")] == ("PEPE", thousand)
    assert assets[("woox", "PERP_BTC_USDT")] == ("BTC", one)
    assert assets[("hyperliquid", "kPEPE")] == ("PEPE", thousand)
    assert assets[("hyperliquid", "kBONK")] == ("BONK", thousand)
    assert assets[("hyperliquid", "kSHIB")] == ("SHIB", thousand)
    assert assets[("hyperliquid", "BTC")] == ("BTC", one)
    assert assets[("paradex", "BTC-USD-PERP")] == ("BTC", one)
    assert assets[("paradex", "BODEN-USD-PERP")] == ("BODEN", one)
    # Dated futures and perpetual options are not perp markets: they never reach the mapping.
    assert ("bybit", "BTC-26DEC25") not in found and ("paradex", "BTC-USD-96000-C") not in found


@pytest.mark.parametrize(
    ("exchange", "symbol", "base", "reason"),
    [
        ("bybit", "100XUSDT", "100X", "could be part of the name or a scale"),
        ("bybit", "10SETUSDT", "10SET", "could be part of the name or a scale"),
        ("paradex", "weird-USD-PERP", "weird", "not a plain ticker"),
        ("woox", "PERP_A_B_USDT", "A_B", "not a plain ticker"),
        ("bybit", "1000USDT", "1000", "has no letters"),
        ("paradex", "-USD-PERP", "", "no base coin"),
    ],
)
def test_ambiguous_names_stay_unmapped_with_the_reason(exchange: str, symbol: str, base: str, reason: str) -> None:
    mapping = map_market(exchange, symbol, base)
    assert mapping.asset is None and mapping.multiplier is None and mapping.status == "unmapped"
    assert reason in mapping.reason


def test_hyperliquid_reads_the_universe_name_not_the_stripped_base() -> None:
    mapping = map_market("hyperliquid", "kPEPE", "PEPE")
    assert (mapping.raw, mapping.asset, mapping.multiplier) == ("kPEPE", "PEPE", Decimal(1000))
