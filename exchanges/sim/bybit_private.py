"""Simulated Bybit V5 private endpoints, signed and checked as Bybit does.

`GET /v5/user/query-api`, `GET /v5/execution/list` and `GET /v5/pre-upgrade/execution/list` (same
parameters and rows; the pre-upgrade one serves only the account's fills marked `pre_upgrade`, the other
only the rest). Signature: HMAC-SHA256(secret, timestamp + key + recv_window + query string as
received), timestamp within [server - recv_window, server + 1000) ms (docs v5/guide, "Authentication").
Error codes from docs v5/error: 10002 timestamp, 10003 invalid key, 10004 signature, 10001 parameters,
33004 expired key. The cursor is URL-encoded in the answer; a client that encodes it twice gets 10001.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from exchanges.sim.accounts import SimAccount, SimFill, accounts_of
from exchanges.sim.app import SimRequest
from exchanges.sim.model import SimModel

PATHS = ("/v5/user/query-api", "/v5/execution/list", "/v5/pre-upgrade/execution/list")
WEEK_MS = 7 * 86_400_000
_CURSOR = re.compile(r"^(\d+):(\d+),(\d+):(\d+)$")


class BybitPrivateError(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code, self.message = code, message


def authenticate(model: SimModel, request: SimRequest) -> SimAccount:
    h = request.headers
    key, stamp, signature = h.get("x-bapi-api-key"), h.get("x-bapi-timestamp"), h.get("x-bapi-sign")
    recv = h.get("x-bapi-recv-window") or "5000"
    if not key or not stamp or not signature:
        raise BybitPrivateError(10003, "API key is invalid.")
    account = accounts_of(model).get("bybit", key)
    if account is None or account.revoked:
        raise BybitPrivateError(10003, "API key is invalid.")
    now = int(model.now().timestamp() * 1000)
    if not stamp.isdigit() or not recv.isdigit() or not now - int(recv) <= int(stamp) < now + 1000:
        raise BybitPrivateError(
            10002,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{stamp}],server_timestamp[{now}],recv_window[{recv}]",
        )
    payload = request.raw_query if request.method == "GET" else request.raw_body.decode()
    origin = f"{stamp}{key}{recv}{payload}"
    expected = hmac.new(account.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise BybitPrivateError(10004, f"error sign! origin_string[{origin}]")
    if account.expired(model.now()):
        raise BybitPrivateError(33004, "Your api key has expired.")
    return account


def api_key_info(model: SimModel, account: SimAccount) -> dict[str, Any]:
    trade = ["Order", "Position"] if account.can_trade else []
    wallet = (["AccountTransfer"] if account.can_trade else []) + (["Withdraw"] if account.can_withdraw else [])
    created = model.now() - timedelta(days=30)
    expires = account.expires_at
    return {
        "id": account.account_id,
        "note": "perpvol simulator",
        "apiKey": account.key,
        "readOnly": 0 if account.can_trade or account.can_withdraw else 1,
        "secret": "",
        "permissions": {
            "ContractTrade": trade, "Spot": ["SpotTrade"] if account.can_trade else [], "Wallet": wallet,
            "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [],
            "NFT": [], "Affiliate": [], "Earn": [],
        },
        # A key without an expiry is bound to IP addresses, and Bybit answers as its apikey-info example
        # does: the epoch and a negative deadlineDay (expiry applies only to keys without an IP whitelist).
        "ips": ["203.0.113.7"] if expires is None else ["*"],
        "type": 1,
        "deadlineDay": max(0, (expires - model.now()).days) if expires else -2,
        "expiredAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ") if expires else "1970-01-01T00:00:00Z",
        "createdAt": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "unified": 0,
        "uta": 1,
        "userID": int(account.account_id),
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
        "parentUid": "0",
        "kycLevel": "LEVEL_DEFAULT",
        "kycRegion": "",
    }  # fmt: skip


def executions(model: SimModel, account: SimAccount, query: Any, pre_upgrade: bool) -> dict[str, Any]:
    category = query.get("category")
    if category not in ("linear", "inverse", "spot", "option"):
        raise BybitPrivateError(10001, "params error: category invalid")
    limit = _int(query, "limit", 50, 1, 100)
    now = int(model.now().timestamp() * 1000)
    start, end = _int(query, "startTime", -1, 0, 10**14), _int(query, "endTime", -1, 0, 10**14)
    if start < 0 and end < 0:
        start, end = now - WEEK_MS, now
    elif start < 0:
        start = end - WEEK_MS
    elif end < 0:
        end = start + WEEK_MS
    if end - start > WEEK_MS or end < start:
        raise BybitPrivateError(10001, "params error: the range of startTime and endTime must be within 7 days")
    offset = _cursor(query.get("cursor"))
    chosen = [
        f for f in account.fills if f.pre_upgrade == pre_upgrade and _category(f) == category and start <= f.ms <= end
    ]
    chosen.sort(key=lambda f: (f.ms, f.fill_id), reverse=True)
    page = chosen[offset : offset + limit]
    nxt = offset + len(page)
    cursor = quote(f"{nxt}:{nxt},{nxt}:{nxt}", safe="") if nxt < len(chosen) else ""
    rows = [_row(f, n + offset) for n, f in enumerate(page)]
    return {"nextPageCursor": cursor, "category": category, "list": rows}


def _category(f: SimFill) -> str:
    return "inverse" if f.category == "inverse" else "linear"


def _cursor(raw: str | None) -> int:
    if not raw:
        return 0
    match = _CURSOR.match(raw)
    if match is None:
        raise BybitPrivateError(10001, "params error: cursor invalid")
    return int(match.group(1))


# A fill's kind as Bybit's execType (docs v5/enum#exectype). Settlement is `Delivery` for linear (a
# position closed at delisting) and `Settle` for inverse futures; a dated future is a `Trade` on a dated
# symbol, or the dated leg of a spread (`FutureSpread`) when sold.
EXEC_TYPES = {
    "Trade": "Trade", "Liquidation": "BustTrade", "BlockTrade": "BlockTrade", "Adl": "AdlTrade",
    "SpreadLeg": "FutureSpread", "Funding": "Funding", "Transfer": "MovePosition", "Dated": "Trade",
}  # fmt: skip


def exec_type(f: SimFill) -> str:
    if f.kind == "Settlement":
        return "Settle" if f.category == "inverse" else "Delivery"
    if f.kind == "Dated" and f.side == "Sell":
        return "FutureSpread"
    return EXEC_TYPES[f.kind]


def _row(f: SimFill, seq: int) -> dict[str, Any]:
    inverse = f.category == "inverse"
    if f.kind == "Dated" or (f.kind == "Settlement" and inverse):
        symbol = f"{f.base}-27MAR26" if not inverse else f"{f.base}USDH26"
    else:
        symbol = f"{f.base}USD" if inverse else f"{f.base}USDT"
    value = (f.qty / f.price).quantize(Decimal("0.00000001")) if inverse else f.price * f.qty
    fee = (value * Decimal("0.00055")).quantize(Decimal("0.00000001"))
    block = f"block-{f.order_id}" if f.kind == "BlockTrade" else ""
    return {
        "symbol": symbol, "orderType": "Market", "underlyingPrice": "", "orderLinkId": "", "side": f.side,
        "indexPrice": "", "orderId": f.order_id, "stopOrderType": "UNKNOWN", "leavesQty": "0",
        "execTime": str(f.ms), "feeCurrency": "", "isMaker": False, "execFee": _s(fee), "feeRate": "0.00055",
        "execId": f.fill_id, "tradeIv": "", "blockTradeId": block, "markPrice": _s(f.price),
        "execPrice": _s(f.price), "markIv": "", "orderQty": _s(f.qty), "orderPrice": _s(f.price),
        "execValue": _s(value), "execType": exec_type(f), "execQty": _s(f.qty), "closedSize": "",
        "seq": 4688002127 + seq, "execFeeV2": "",
    }  # fmt: skip


def _int(query: Any, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not str(raw).isdigit() or not low <= int(raw) <= high:
        raise BybitPrivateError(10001, f"params error: {name} invalid")
    return int(raw)


def _s(value: Decimal) -> str:
    return format(value, "f")
