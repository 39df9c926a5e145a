"""Simulated WOO X V3 private endpoints, signed as WOO X does.

Signature (developer.woox.io, V3 authentication): hex HMAC-SHA256(secret, timestamp + METHOD +
path-with-query + body), headers `x-api-key`, `x-api-timestamp`, `x-api-signature`.
`GET /v3/account/credentials` lists the account's keys with their permissions; `GET
/v3/trade/transactionHistory` pages the account's trades (`page`, `limit`). Sim choices where the docs
are silent: `limit` up to 500 is accepted but at most 100 rows come back a page (ccxt's recorded answer
says `recordsPerPage` 100; the docs' example 25), at most 90 days a query (ccxt's value), newest first,
`executedTimestamp` as a string of seconds with milliseconds as real answers have it, timestamps more
than 300 s off answer -1002 like a bad signature. Keys are listed 25 a page (the documented default)
whatever `size` asks, so a client must follow `meta` for keys too. A liquidation execution is a PERP row
like any trade; spot rows are `SPOT_…`.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

from exchanges.sim.accounts import SimAccount, SimFill, accounts_of
from exchanges.sim.app import SimRequest, SimResponse
from exchanges.sim.model import SimModel

PATHS = ("/v3/account/credentials", "/v3/trade/transactionHistory")
MAX_LIMIT = 500
ROWS_PER_PAGE = 100
KEYS_PER_PAGE = 25
MAX_RANGE_MS = 90 * 86_400_000
INVALID = "API key or secret is invalid, it may because key have insufficient permission or the key is expired/revoked."


class WooxPrivateError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        self.status, self.code, self.message = status, code, message

    def response(self) -> SimResponse:
        return SimResponse(self.status, {"success": False, "code": self.code, "message": self.message})


def authenticate(model: SimModel, request: SimRequest) -> SimAccount:
    h = request.headers
    key, stamp, signature = h.get("x-api-key"), h.get("x-api-timestamp"), h.get("x-api-signature")
    if not key or not stamp or not signature or not stamp.isdigit():
        raise WooxPrivateError(401, -1001, "The api key or secret is in wrong format.")
    account = accounts_of(model).get("woox", key)
    now = int(model.now().timestamp() * 1000)
    if account is None or account.revoked or abs(now - int(stamp)) > 300_000:
        raise WooxPrivateError(401, -1002, INVALID)
    target = request.path + (f"?{request.raw_query}" if request.raw_query else "")
    message = f"{stamp}{request.method}{target}{request.raw_body.decode()}"
    expected = hmac.new(account.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature) or account.expired(model.now()):
        raise WooxPrivateError(401, -1002, INVALID)
    return account


def credentials(model: SimModel, account: SimAccount, query: Any) -> dict[str, Any]:
    try:
        page = int(query.get("page") or 1)
    except ValueError:
        raise WooxPrivateError(400, -1005, "page must be an integer") from None
    permissions = ["READ"] + (["TRADE"] if account.can_trade else []) + (["WITHDRAWAL"] if account.can_withdraw else [])
    user = int(account.account_id)
    keys: list[dict[str, Any]] = [
        {"accountName": "Main", "userId": user, "apiKey": f"OtherKey{n:04d}==", "permissions": ["READ", "TRADE"]}
        for n in range(account.other_keys)
    ]
    mine: dict[str, Any] = {"accountName": "Main", "userId": user, "apiKey": account.key, "permissions": permissions}
    if account.expires_at:
        mine["expirationTime"] = int(account.expires_at.timestamp() * 1000)
    keys.append(mine)
    rows = keys[(page - 1) * KEYS_PER_PAGE : page * KEYS_PER_PAGE]
    return {"rows": rows, "meta": {"total": len(keys), "recordsPerPage": KEYS_PER_PAGE, "currentPage": page}}


def transactions(model: SimModel, account: SimAccount, query: Any) -> dict[str, Any]:
    try:
        start, end = int(query["startTime"]), int(query["endTime"])
        page, limit = int(query.get("page") or 1), int(query.get("limit") or 25)
    except (KeyError, ValueError):
        raise WooxPrivateError(400, -1005, "startTime and endTime are required integers") from None
    if end < start or end - start > MAX_RANGE_MS:
        raise WooxPrivateError(400, -1005, "the time range must be within 90 days")
    if not 1 <= limit <= MAX_LIMIT or page < 1:
        raise WooxPrivateError(400, -1005, f"limit must be 1..{MAX_LIMIT} and page at least 1")
    chosen = [f for f in account.fills if start <= f.ms <= end]
    chosen.sort(key=lambda f: (f.ms, f.fill_id), reverse=True)
    per_page = min(limit, ROWS_PER_PAGE)
    rows = [_row(f) for f in chosen[(page - 1) * per_page : page * per_page]]
    meta = {"total": len(chosen), "recordsPerPage": per_page, "currentPage": page}
    return {"rows": rows, "meta": meta}


def _row(f: SimFill) -> dict[str, Any]:
    symbol = f"PERP_{f.base}_USDT" if f.counts else f"SPOT_{f.base}_USDT"
    fee = (f.price * f.qty * Decimal("0.0003")).quantize(Decimal("0.000001"))
    return {
        "id": int(f.fill_id),
        "symbol": symbol,
        "orderId": int(f.order_id),
        "executedPrice": f.price,
        "executedQuantity": f.qty,
        "fee": fee,
        "feeAsset": "USDT",
        "side": "BUY" if f.side == "Buy" else "SELL",
        "executedTimestamp": f"{f.ms // 1000}.{f.ms % 1000:03d}",
        "isMaker": 0,
        "realizedPnl": None,
        "orderTag": "default",
        "clientOrderId": 0,
    }
