"""What counts as a user's own volume, venue by venue, and paging that never drops a fill.

Each fixture is in the venue's recorded private format (see the fixture READMEs) and holds every type
the rule names: the user's perp trades count (liquidations, block trades, ADL and perp spread legs
included); funding, settlements and deliveries, position transfers and moves, spot, options, dated
futures and builder-DEX perps count nowhere. Each expected sum is worked out by hand from the files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchanges.errors import SchemaError
from exchanges.private.base import ApiCredential, Fill
from exchanges.private.bybit import NEVER_EXPIRES, BybitPrivate
from exchanges.private.hyperliquid import HyperliquidPrivate
from exchanges.private.paradex import ParadexPrivate
from exchanges.private.woox import WooxPrivate
from tests.exchanges_support import fixture_bytes, fixture_json, replay_client

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVhZG9ubHkifQ.c2ln"
ADDRESS = "0x" + "ab" * 20


def _total(fills: list[Fill]) -> Decimal:
    return sum((f.notional_usd for f in fills), Decimal(0))


def _json(body: Any) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body).encode())


# --- Bybit -------------------------------------------------------------------------------------


async def test_bybit_counts_liquidations_block_trades_adl_and_perp_spread_legs_across_cursor_pages() -> None:
    cursors: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.query.decode()
        cursors.append(query.partition("cursor=")[2])
        page = "page2" if "cursor=" in query else "page1"
        return httpx.Response(200, content=fixture_bytes("bybit", f"private_execution_list_linear_types_{page}.json"))

    client = BybitPrivate(replay_client("bybit", handler), ApiCredential("k", "s"))
    start = datetime(2022, 12, 28, tzinfo=UTC)
    fills = await client.fetch_fills("linear", start, start + timedelta(days=1))

    # Trade 119.015 + BustTrade 600 + BlockTrade 30000 + AdlTrade 150.25 + FutureSpread perp leg 6000.5;
    # not Funding, MovePosition, Delivery, CorporateAction, the dated spread leg or the dated Trade.
    assert _total(fills) == Decimal("36869.765")
    assert sorted(f.symbol for f in fills) == ["BTCUSDT", "BTCUSDT", "BTCUSDT", "ETHPERP", "SOLUSDT"]
    assert cursors == ["", "132766%3A2%2C132766%3A2"]  # the cursor goes back exactly as received


async def test_bybit_inverse_counts_liquidations_in_usd_contracts_and_not_settlement() -> None:
    serve = fixture_bytes("bybit", "private_execution_list_inverse_types.json")
    client = BybitPrivate(replay_client("bybit", lambda r: httpx.Response(200, content=serve)), ApiCredential("k", "s"))
    start = datetime(2022, 12, 28, tzinfo=UTC)
    fills = await client.fetch_fills("inverse", start, start + timedelta(days=1))
    assert _total(fills) == Decimal(1500)  # Trade 1000 + BustTrade 500 USD contracts; not Settle, Funding


async def test_bybit_an_unknown_exec_type_stops_the_sync_instead_of_guessing() -> None:
    body = fixture_json("bybit", "private_execution_list_linear_types_page2.json")
    body["result"]["list"][0]["execType"] = "SomethingNew"
    client = BybitPrivate(replay_client("bybit", lambda r: _json(body)), ApiCredential("k", "s"))
    start = datetime(2022, 12, 28, tzinfo=UTC)
    with pytest.raises(SchemaError, match="SomethingNew"):
        await client.fetch_fills("linear", start, start + timedelta(days=1))


async def test_bybit_ip_bound_key_with_the_epoch_expiry_does_not_expire() -> None:
    serve = fixture_bytes("bybit", "private_user_query_api_ip_bound.json")
    client = BybitPrivate(replay_client("bybit", lambda r: httpx.Response(200, content=serve)), ApiCredential("k", "s"))
    check = await client.check_key()
    assert check.expires_at is None and check.note == NEVER_EXPIRES and check.read_only


# --- Paradex -----------------------------------------------------------------------------------


def _paradex_pages(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = "page2" if request.url.params.get("cursor") else "page1"
        return httpx.Response(200, content=fixture_bytes("paradex", f"private_fills_types_{page}.json"))

    return handler


async def test_paradex_counts_by_fill_type_and_never_counts_settlements_or_transfers() -> None:
    seen: list[httpx.Request] = []
    client = ParadexPrivate(replay_client("paradex", _paradex_pages(seen)), ApiCredential(TOKEN))
    start = datetime(2023, 4, 14, tzinfo=UTC)
    fills = await client.fetch_fills("fills", start, start + timedelta(days=1))

    # FILL 15000.06 + RPI 4001 + LIQUIDATION 2950 + BLOCK_TRADE 1502.5 + BLOCK_TRADE 6002; not
    # UNWIND_TRANSFER, SETTLE_MARKET or the option FILL.
    assert _total(fills) == Decimal("29455.56")
    assert len(fills) == 5
    # Every type keeps the venue's bare id, as fills were stored before types were read: none is stored twice.
    assert {f.fill_id for f in fills} == {str(8615262148007718462 + i) for i in (0, 1, 2, 4, 7)}
    assert seen[1].url.params["cursor"] == fixture_json("paradex", "private_fills_types_page1.json")["next"]


async def test_paradex_an_unknown_fill_type_stops_the_sync_instead_of_guessing() -> None:
    body = fixture_json("paradex", "private_fills_types_page2.json")
    body["results"][0]["fill_type"] = "SOMETHING_NEW"
    client = ParadexPrivate(replay_client("paradex", lambda r: _json(body)), ApiCredential(TOKEN))
    start = datetime(2023, 4, 14, tzinfo=UTC)
    with pytest.raises(SchemaError, match="SOMETHING_NEW"):
        await client.fetch_fills("fills", start, start + timedelta(days=1))


# --- Hyperliquid -------------------------------------------------------------------------------


async def test_hyperliquid_counts_main_dex_trades_liquidations_and_adl_only() -> None:
    serve = fixture_bytes("hyperliquid", "private_user_fills_by_time_types.json")
    client = HyperliquidPrivate(
        replay_client("hyperliquid", lambda r: httpx.Response(200, content=serve)), ApiCredential(ADDRESS)
    )
    start = datetime(2023, 4, 11, tzinfo=UTC)
    fills = await client.fetch_fills("fills", start, start + timedelta(days=1))
    # Open Long 1724.22555 + Close Short 300.005 + Long > Short 2850 + Liquidated Cross Long 2050 +
    # Liquidated Isolated Short 160.4 + Auto-Deleveraging 80; not Settlement, spot (@107, PURR/USDC,
    # Spot Dust Conversion) or builder-DEX perps (flx:CRCL, xyz:TSLA).
    assert _total(fills) == Decimal("7164.63055")
    assert sorted(f.symbol for f in fills) == ["AVAX", "BTC", "DOGE", "ETH", "SOL", "kPEPE"]


async def test_hyperliquid_an_unknown_direction_stops_the_sync_instead_of_guessing() -> None:
    body = fixture_json("hyperliquid", "private_user_fills_by_time_types.json")
    body[1]["dir"] = "Something New"
    client = HyperliquidPrivate(replay_client("hyperliquid", lambda r: _json(body)), ApiCredential(ADDRESS))
    start = datetime(2023, 4, 11, tzinfo=UTC)
    with pytest.raises(SchemaError, match="Something New"):
        await client.fetch_fills("fills", start, start + timedelta(days=1))


def _hl_venue(
    fills: list[dict[str, Any]], newest_first: bool, calls: list[int], cap: int = 2000
) -> Callable[..., httpx.Response]:
    """userFillsByTime as documented: the oldest `cap` fills with time in [startTime, endTime], in the order
    given (which the docs do not state)."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body["startTime"])
        inside = [f for f in fills if body["startTime"] <= f["time"] <= body["endTime"]]
        page = sorted(inside, key=lambda f: f["time"])[:cap]
        return _json(list(reversed(page)) if newest_first else page)

    return handler


def _hl_fills(count: int, start_ms: int) -> list[dict[str, Any]]:
    template = fixture_json("hyperliquid", "private_user_fills_by_time.json")[0]
    # 3 fills a second; every 7th shares the previous fill's millisecond.
    made = []
    for i in range(count):
        at = start_ms + (i - (1 if i % 7 == 0 and i else 0)) * 333
        made.append({**template, "time": at, "tid": 200_000_000 + i, "oid": 300_000_000 + i, "px": "10.5", "sz": "2.0"})
    return made


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest-first", "newest-first"])
async def test_hyperliquid_pages_by_the_largest_time_seen_in_either_order(newest_first: bool) -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    fills = _hl_fills(4500, int(start.timestamp() * 1000) + 5)
    calls: list[int] = []
    client = HyperliquidPrivate(
        replay_client("hyperliquid", _hl_venue(fills, newest_first, calls)), ApiCredential(ADDRESS)
    )
    got = await client.fetch_fills("fills", start, start + timedelta(days=1))
    assert len(got) == 4500 and len({f.fill_id for f in got}) == 4500
    assert _total(got) == Decimal(21) * 4500
    assert len(calls) == 4 and calls == sorted(calls)  # the 4th answer, under 500 fills, says it was all


async def test_hyperliquid_keeps_paging_when_answers_stop_at_500_fills() -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    fills = _hl_fills(1800, int(start.timestamp() * 1000) + 5)
    calls: list[int] = []
    venue = _hl_venue(fills, False, calls, cap=500)
    client = HyperliquidPrivate(replay_client("hyperliquid", venue), ApiCredential(ADDRESS))
    got = await client.fetch_fills("fills", start, start + timedelta(days=1))
    assert len(got) == 1800 and _total(got) == Decimal(21) * 1800


# --- WOO X -------------------------------------------------------------------------------------


def _woox_pages(name: str, seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = request.url.params.get("page", "1")
        return httpx.Response(200, content=fixture_bytes("woox", f"{name}_page{page}.json"))

    return handler


async def test_woox_pages_by_meta_when_pages_are_smaller_than_asked_for() -> None:
    seen: list[httpx.Request] = []
    handler = _woox_pages("private_transaction_history", seen)
    client = WooxPrivate(replay_client("woox", handler), ApiCredential("AbmyVJGUpN064ks5ELjLfA==", "s"))
    start = datetime(2025, 7, 9, tzinfo=UTC)
    fills = await client.fetch_fills("fills", start, start + timedelta(days=1))
    # 500 asked, 25 answered: page 2 still comes. 22 PERP rows (RPI match included), 5 SPOT rows left out.
    assert [r.url.params["page"] for r in seen] == ["1", "2"] and seen[0].url.params["limit"] == "500"
    assert len(fills) == 22 and all(f.symbol.startswith("PERP_") for f in fills)
    assert _total(fills) == Decimal("27758.75050")


async def test_woox_stops_when_meta_says_the_last_page_was_read() -> None:
    seen: list[httpx.Request] = []
    client = WooxPrivate(
        replay_client("woox", _woox_pages("private_account_credentials", seen)),
        ApiCredential("OtherKey0003xxxxxxxxxxxx==", "s"),
    )
    assert (await client.check_key()).can_trade
    assert len(seen) == 1  # found on page 1: no further request
    seen.clear()
    client.credential = ApiCredential("NotListedAnywhere==", "s")
    with pytest.raises(SchemaError, match="does not list this key"):
        await client.check_key()
    assert [r.url.params["page"] for r in seen] == ["1", "2"]  # total 27 at 25 a page: exactly two


async def test_woox_key_check_finds_a_key_on_the_second_page_of_keys() -> None:
    seen: list[httpx.Request] = []
    client = WooxPrivate(
        replay_client("woox", _woox_pages("private_account_credentials", seen)),
        ApiCredential("AbmyVJGUpN064ks5ELjLfA==", "s"),
    )
    check = await client.check_key()
    assert check.permissions == ("READ",) and check.read_only
    assert [r.url.params["page"] for r in seen] == ["1", "2"]


async def test_woox_reads_meta_in_snake_case_and_refuses_a_venue_that_repeats_a_page() -> None:
    pages = {p: fixture_json("woox", f"private_transaction_history_page{p}.json") for p in ("1", "2")}
    for body in pages.values():
        meta = body["data"]["meta"]
        body["data"]["meta"] = {"total": meta["total"], "records_per_page": 25, "current_page": meta["currentPage"]}
    client = WooxPrivate(
        replay_client("woox", lambda r: _json(pages[r.url.params["page"]])),
        ApiCredential("AbmyVJGUpN064ks5ELjLfA==", "s"),
    )
    start = datetime(2025, 7, 9, tzinfo=UTC)
    assert _total(await client.fetch_fills("fills", start, start + timedelta(days=1))) == Decimal("27758.75050")
    # A venue that ignores `page` and answers page 1 again is an error, not an endless loop.
    client = WooxPrivate(replay_client("woox", lambda r: _json(pages["1"])), ApiCredential("k", "s"))
    with pytest.raises(SchemaError, match="2 repeats page 1"):
        await client.fetch_fills("fills", start, start + timedelta(days=1))
