"""The private clients read the venues' recorded private answers (tests/fixtures/exchanges/*/private_*).

Provenance: Bybit query-api and execution/list from the V5 docs' response examples (a Funding row and a
dated-future row added in the same shape); Bybit pre-upgrade/execution/list from its docs' response example
(v5/pre-upgrade/execution: a Funding row) plus a Trade row in the same shape; Hyperliquid from the
info-endpoint docs' userFills example (plus a spot fill); Paradex fills from the OpenAPI example (plus a
perpetual-option fill) and the 401 body from exchanges.md; WOO X transactionHistory rows in ccxt's V3 field
names with the seconds-string `executedTimestamp` real answers carry. WOO X /v3/account/credentials in the
shape of its docs' example (developer.woox.io/api-reference/endpoint/account/credentials: `rows[].apiKey`,
`permissions`, `meta`); the client fails loudly (SchemaError) when no page lists the key rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from exchanges.errors import SchemaError
from exchanges.private.base import ApiCredential, CredentialError
from exchanges.private.bybit import BybitPrivate
from exchanges.private.hyperliquid import HyperliquidPrivate
from exchanges.private.paradex import ParadexPrivate
from exchanges.private.woox import WooxPrivate
from tests.exchanges_support import fixture_bytes, replay_client

T0 = datetime(2022, 12, 28, tzinfo=UTC)


def _serve(venue: str, name: str, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, content=fixture_bytes(venue, f"{name}.json"))


async def test_bybit_key_info_read_only_and_trading() -> None:
    client = BybitPrivate(replay_client("bybit", _serve("bybit", "private_user_query_api")), ApiCredential("k", "s"))
    check = await client.check_key()
    assert check.read_only and check.expires_at == datetime(2023, 12, 22, 7, 20, 25, tzinfo=UTC)
    client = BybitPrivate(
        replay_client("bybit", _serve("bybit", "private_user_query_api_trade_withdraw")), ApiCredential("k", "s")
    )
    check = await client.check_key()
    assert check.can_trade and check.can_withdraw and "Wallet:Withdraw" in check.permissions


async def test_bybit_executions_keep_perp_trades_only() -> None:
    client = BybitPrivate(
        replay_client("bybit", _serve("bybit", "private_execution_list_linear")), ApiCredential("k", "s")
    )
    fills = await client.fetch_fills("linear", T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(f.symbol, f.notional_usd) for f in fills] == [("ETHPERP", Decimal("119.015"))]


async def test_bybit_pre_upgrade_executions_use_their_own_endpoint_and_category() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _serve("bybit", "private_pre_upgrade_execution_list_linear")(request)

    client = BybitPrivate(replay_client("bybit", handler), ApiCredential("k", "s"))
    start = datetime(2023, 4, 26, tzinfo=UTC)
    fills = await client.fetch_fills("pre-upgrade:linear", start, start + timedelta(days=1))
    assert [(f.symbol, f.notional_usd) for f in fills] == [("BTCUSDT", Decimal("568"))]  # the Funding row is not volume
    assert seen[0].url.path == "/v5/pre-upgrade/execution/list"
    assert seen[0].url.params["category"] == "linear" and seen[0].url.params["limit"] == "100"
    assert "pre-upgrade:linear" in BybitPrivate.streams and "pre-upgrade:inverse" in BybitPrivate.streams
    with pytest.raises(ValueError, match="unknown Bybit stream"):
        await client.fetch_fills("pre-upgrade:option", start, start + timedelta(days=1))


async def test_bybit_expired_key_is_a_credential_error() -> None:
    client = BybitPrivate(replay_client("bybit", _serve("bybit", "private_error_expired_key")), ApiCredential("k", "s"))
    with pytest.raises(CredentialError) as error:
        await client.check_key()
    assert error.value.status == "expired"


async def test_hyperliquid_fills_skip_spot() -> None:
    address = ApiCredential("0x" + "ab" * 20)
    client = HyperliquidPrivate(
        replay_client("hyperliquid", _serve("hyperliquid", "private_user_fills_by_time")), address
    )
    start = datetime(2023, 4, 11, tzinfo=UTC)
    fills = await client.fetch_fills("fills", start, start + timedelta(days=1))
    assert [(f.symbol, f.notional_usd, f.fill_id) for f in fills] == [
        ("AVAX", Decimal("18.435") * Decimal("93.53"), "118906512037719:90542681")
    ]


async def test_woox_transactions_and_credentials() -> None:
    handler = _serve("woox", "private_transaction_history")
    client = WooxPrivate(replay_client("woox", handler), ApiCredential("AbmyVJGUpN064ks5ELjLfA==", "s"))
    start = datetime(2025, 7, 9, tzinfo=UTC)
    fills = await client.fetch_fills("fills", start, start + timedelta(days=1))
    assert [(f.symbol, f.notional_usd) for f in fills] == [("PERP_BTC_USDT", Decimal("90000.5") * Decimal("0.012"))]
    assert fills[0].executed_at == datetime(2025, 7, 9, 9, 59, 33, 630000, tzinfo=UTC)
    client = WooxPrivate(
        replay_client("woox", _serve("woox", "private_account_credentials")),
        ApiCredential("AbmyVJGUpN064ks5ELjLfA==", "s"),
    )
    assert (await client.check_key()).permissions == ("READ",)
    client.credential = ApiCredential("NotListed==", "s")
    with pytest.raises(SchemaError):
        await client.check_key()
    client = WooxPrivate(
        replay_client("woox", _serve("woox", "private_error_invalid_key", 401)), ApiCredential("k", "s")
    )
    with pytest.raises(CredentialError):
        await client.check_key()


async def test_paradex_fills_skip_options_and_expired_token_says_so() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVhZG9ubHkifQ.c2ln"
    client = ParadexPrivate(replay_client("paradex", _serve("paradex", "private_fills")), ApiCredential(token))
    start = datetime(2023, 4, 14, tzinfo=UTC)
    fills = await client.fetch_fills("fills", start, start + timedelta(days=1))
    assert [(f.symbol, f.notional_usd) for f in fills] == [("BTC-USD-PERP", Decimal("15000.06"))]
    expired = ParadexPrivate(
        replay_client("paradex", _serve("paradex", "private_error_token_expired", 401)), ApiCredential(token)
    )
    with pytest.raises(CredentialError) as error:
        await expired.fetch_fills("fills", start, start + timedelta(days=1))
    assert error.value.status == "expired"
