"""Bybit V5 private endpoints: key info (/v5/user/query-api) and own executions (/v5/execution/list),
plus the executions made before the account's upgrade to a Unified Trading Account
(/v5/pre-upgrade/execution/list: same parameters, 7-day windows, cursor pages and row shape; docs
v5/pre-upgrade/execution). Each (endpoint, category) is its own stream with its own cursor; an execution
served by both endpoints is stored once (fills are unique by execId).

Signing (https://bybit-exchange.github.io/docs/v5/guide#create-a-request): lowercase hex
HMAC-SHA256(secret, timestamp + api_key + recv_window + query string exactly as sent).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from exchanges.base import as_decimal
from exchanges.errors import SchemaError, ThrottledError, VenueAPIError
from exchanges.private.base import CredentialError, CredentialStatus, Fill, KeyCheck, PrivateClient, from_ms, ms

RECV_WINDOW = "5000"
PAGE_LIMIT = 100
PRE_UPGRADE = "pre-upgrade:"  # stream prefix: the same category from the pre-upgrade endpoint
# Dated futures among executions: linear `BTC-26DEC25`, inverse `BTCUSDZ25` (month code + year).
_DATED = re.compile(r"-\d{2}[A-Z]{3}\d{2}$|USD[FGHJKMNQUVXZ]\d{2}$")
# execType (https://bybit-exchange.github.io/docs/v5/enum#exectype): the user's own executions count,
# liquidation takeovers (BustTrade), auto-deleveraging (AdlTrade), block trades and spread legs included;
# a FutureSpread leg counts only on a perp symbol (its dated-future leg is not a perp).
COUNTED = frozenset({"Trade", "BustTrade", "BlockTrade", "AdlTrade", "FutureSpread"})
# Funding fees, settlement/delivery at expiry or delisting, positions moved between accounts, and the
# stock-split/dividend adjustments of TradFi perps are not trades. (The split and dividend types replaced
# CorporateAction in 2026: nautilus_bybit BybitExecType, citing the same enum page.)
NOT_COUNTED = frozenset(
    {"Funding", "Settle", "Delivery", "MovePosition", "CorporateAction", "ForwardSplitSettle",
     "ReverseSplitSettle", "Dividend"}
)  # fmt: skip
# Query-api answers this for keys bound to IP addresses, which never expire
# (https://bybit-exchange.github.io/docs/v5/user/apikey-info: expiredAt and deadlineDay apply "only for
# those api key with no IP bound"; its example: "deadlineDay": -2, "expiredAt": "1970-01-01T00:00:00Z").
NEVER_EXPIRES = "does not expire (bound to IP addresses; Bybit expires only keys without an IP whitelist)"
_CREDENTIAL_CODES: dict[int, tuple[CredentialStatus, str]] = {
    10003: ("invalid", "the API key is invalid or was deleted"),
    10004: ("invalid", "the API secret does not match the key"),
    10005: ("permission", "the key lacks a permission this needs"),
    10010: ("permission", "the key is bound to other IP addresses"),
    33004: ("expired", "the API key has expired"),
}


def sign(secret: str, timestamp: str, api_key: str, recv_window: str, payload: str) -> str:
    message = f"{timestamp}{api_key}{recv_window}{payload}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def query_string(params: list[tuple[str, str]]) -> str:
    # Values go out as given: the cursor arrives URL-encoded and is sent (and signed) once-encoded.
    return "&".join(f"{k}={v}" for k, v in params)


class BybitPrivate(PrivateClient):
    name = "bybit"
    streams = ("linear", "inverse", f"{PRE_UPGRADE}linear", f"{PRE_UPGRADE}inverse")
    window = timedelta(days=7)
    lookback = timedelta(days=730)
    how_to_read_only = (
        "In Bybit, API Management → Create New Key → System-generated, choose 'Read-Only' and "
        "tick only the read permissions (no Trade, no Withdraw)."
    )

    async def check_key(self) -> KeyCheck:
        result = await self._get("/v5/user/query-api", [])
        permissions = result.get("permissions")
        if not isinstance(permissions, dict):
            raise SchemaError("bybit", "GET /v5/user/query-api", "permissions", "is not an object")
        granted = tuple(f"{group}:{p}" for group, items in sorted(permissions.items()) for p in items or [])
        can_withdraw = "Withdraw" in (permissions.get("Wallet") or [])
        expires = key_expiry(result)
        return KeyCheck(
            permissions=granted or ("ReadOnly",),
            can_trade=str(result.get("readOnly")) != "1",
            can_withdraw=can_withdraw,
            expires_at=expires,
            note=NEVER_EXPIRES if expires is None else None,
        )

    async def fetch_fills(self, stream: str, start: datetime, end: datetime) -> list[Fill]:
        if end - start > self.window:
            raise ValueError("Bybit serves executions in windows of at most 7 days")
        category = stream.removeprefix(PRE_UPGRADE)
        if category not in ("linear", "inverse"):
            raise ValueError(f"unknown Bybit stream {stream!r}")
        path = "/v5/pre-upgrade/execution/list" if stream.startswith(PRE_UPGRADE) else "/v5/execution/list"
        fills: dict[str, Fill] = {}
        cursor = ""
        while True:
            params = [("category", category), ("startTime", str(ms(start))), ("endTime", str(ms(end) - 1))]
            params.append(("limit", str(PAGE_LIMIT)))
            if cursor:
                params.append(("cursor", cursor))
            result = await self._get(path, params)
            for row in result.get("list") or []:
                fill = _fill(category, row, path)
                if fill is not None:
                    fills[fill.fill_id] = fill
            cursor = result.get("nextPageCursor") or ""
            if not cursor or not result.get("list"):
                return sorted(fills.values(), key=lambda f: f.executed_at)

    async def _get(self, path: str, params: list[tuple[str, str]]) -> Any:
        query = query_string(params)
        timestamp = str(self.now_ms())
        headers = {
            "X-BAPI-API-KEY": self.credential.key,
            "X-BAPI-TIMESTAMP": timestamp,
            "X-BAPI-RECV-WINDOW": RECV_WINDOW,
            "X-BAPI-SIGN": sign(self.credential.secret, timestamp, self.credential.key, RECV_WINDOW, query),
        }
        target = f"{path}?{query}" if query else path
        body = await self.client.request("GET", target, headers=headers, check=_check(path))
        return body["result"]


def key_expiry(info: dict[str, Any]) -> datetime | None:
    """When the key expires, or None when it does not (the epoch, a negative `deadlineDay`, or no date)."""
    raw = str(info.get("expiredAt") or "")
    try:
        expires = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
    except ValueError:
        raise SchemaError("bybit", "GET /v5/user/query-api", "expiredAt", f"is not a date: {raw[:40]!r}") from None
    if expires is None or expires.timestamp() <= 0 or int(info.get("deadlineDay") or 0) < 0:
        return None
    return expires


def _check(path: str) -> Any:
    endpoint = f"GET {path}"

    def check(body: Any, response: httpx.Response) -> None:
        if not isinstance(body, dict) or "retCode" not in body:
            raise SchemaError("bybit", endpoint, "retCode", "is missing")
        code = int(body["retCode"])
        if code == 0:
            return
        if code == 10006:
            raise ThrottledError("bybit", endpoint, "error 10006: Too many visits!", 1.0)
        if code in _CREDENTIAL_CODES:
            status, text = _CREDENTIAL_CODES[code]
            raise CredentialError("bybit", endpoint, status, f"{text} (Bybit error {code})")
        raise VenueAPIError("bybit", endpoint, str(code), str(body.get("retMsg", ""))[:200])

    return check


def _fill(category: str, row: dict[str, Any], path: str = "/v5/execution/list") -> Fill | None:
    """A perp execution of the user (see COUNTED), or None for what is not trading volume."""
    exec_type = str(row.get("execType", ""))
    if exec_type in NOT_COUNTED or _DATED.search(str(row.get("symbol", ""))):
        return None
    if exec_type not in COUNTED:
        # A type Bybit adds later is neither counted nor dropped in silence: the sync stops and says so.
        raise SchemaError("bybit", f"GET {path}", "list[].execType", f"has an unknown value {exec_type[:40]!r}")
    try:
        # Linear: execValue is the quote (USDT/USDC) notional. Inverse: execQty counts USD contracts.
        notional = as_decimal(row["execValue"] if category == "linear" else row["execQty"])
        return Fill(str(row["execId"]), str(row["symbol"]), from_ms(row["execTime"]), abs(notional))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise SchemaError("bybit", f"GET {path}", "list[]", f"has an unreadable row: {exc!r}") from None
