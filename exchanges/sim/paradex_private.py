"""Simulated Paradex private fills: `GET /v1/fills` with `Authorization: Bearer <read-only token>`.

Tokens are JWTs the simulator signs itself (HS256 under a sim key): `token_for()` makes one with the
claims Paradex puts in read-only tokens as far as known (`sub`, `exp`, `token_type`). An expired token
answers 401 `{"message": "missing or malformed jwt: token is expired by …"}` as the venue does. Fills
come newest first with opaque `next` cursors (base64 of the offset, a sim choice), at most 500 a page
whatever `page_size` asks (a sim choice: clients must follow `next`, not count rows). A fill's kind is its
`fill_type` (OpenAPI responses.FillType); position transfers (liquidations, transfers, settlements) carry
`orderbook_seq_no` 0 as the spec says; options (`BTC-USD-96000-C`) stand for what is not a perp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from exchanges.sim.accounts import SIM_JWT_KEY, SimAccount, SimFill, accounts_of, b64url
from exchanges.sim.app import SimRequest, SimResponse
from exchanges.sim.model import SimModel

MAX_PAGE = 5000
SERVED_PAGE = 500
FILL_TYPES = {
    "Trade": "FILL", "Liquidation": "LIQUIDATION", "BlockTrade": "BLOCK_TRADE", "Settlement": "SETTLE_MARKET",
    "Transfer": "UNWIND_TRANSFER", "Spot": "FILL",
}  # fmt: skip


class ParadexPrivateError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        self.status, self.message, self.code = status, message, code

    def response(self) -> SimResponse:
        body: dict[str, Any] = {"message": self.message}
        if self.code:
            body = {"error": self.code, "message": self.message}
        return SimResponse(self.status, body)


def authenticate(model: SimModel, request: SimRequest) -> SimAccount:
    auth = request.headers.get("authorization", "")
    token = auth.removeprefix("Bearer ").strip()
    parts = token.split(".")
    if not auth.startswith("Bearer ") or len(parts) != 3:
        raise ParadexPrivateError(401, "missing or malformed jwt")
    expected = b64url(hmac.new(SIM_JWT_KEY, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    account = accounts_of(model).get("paradex", token)
    if not hmac.compare_digest(expected, parts[2]) or account is None or account.revoked:
        raise ParadexPrivateError(401, "missing or malformed jwt: signature is invalid")
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    late = int(model.now().timestamp()) - int(claims["exp"])
    if late >= 0:
        raise ParadexPrivateError(401, f"missing or malformed jwt: token is expired by {late}s")
    return account


def fills_page(model: SimModel, account: SimAccount, query: Any) -> dict[str, Any]:
    try:
        start = int(query.get("start_at") or 0)
        end = int(query.get("end_at") or model.now().timestamp() * 1000)
        size = int(query.get("page_size") or 100)
        offset = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
    except (ValueError, UnicodeDecodeError):
        raise ParadexPrivateError(400, "invalid query parameters", "VALIDATION_ERROR") from None
    if not 1 <= size <= MAX_PAGE:
        raise ParadexPrivateError(400, f"page_size must be 1..{MAX_PAGE}", "VALIDATION_ERROR")
    chosen = [f for f in account.fills if start <= f.ms <= end]
    chosen.sort(key=lambda f: (f.ms, f.fill_id), reverse=True)
    page = chosen[offset : offset + min(size, SERVED_PAGE)]
    after = offset + len(page)
    nxt = base64.urlsafe_b64encode(str(after).encode()).decode() if after < len(chosen) else None
    prev = base64.urlsafe_b64encode(str(max(0, offset - size)).encode()).decode() if offset else None
    return {"next": nxt, "prev": prev, "results": [_row(f, account.account_id) for f in page]}


def _row(f: SimFill, account_id: str) -> dict[str, Any]:
    market = f"{f.base}-USD-96000-C" if f.kind == "Spot" else f"{f.base}-USD-PERP"
    fee = (f.price * f.qty * Decimal("0.0002")).quantize(Decimal("0.000001"))
    fill_type = FILL_TYPES[f.kind]
    # Every tenth order-book trade matched a Retail Price Improvement order: type RPI, flag "rpi".
    rpi = f.kind == "Trade" and f.order_id.isdigit() and int(f.order_id) % 10 == 0
    return {
        "account": "0x" + format(int(account_id), "x").rjust(63, "0"),
        "client_id": "",
        "created_at": f.ms,
        "fee": format(fee, "f"),
        "fee_currency": "USDC",
        "fill_type": "RPI" if rpi else fill_type,
        "flags": ["rpi"] if rpi else ["interactive"] if fill_type == "FILL" else [],
        "id": f.fill_id,
        "liquidity": "TAKER",
        "market": market,
        "order_id": f.order_id,
        # Block trades are matched off the book too (an assumption: the spec names liquidations and settlements).
        "orderbook_seq_no": 1_000_000 + f.ms % 1_000_000 if fill_type == "FILL" else 0,
        "price": format(f.price, "f"),
        "realized_funding": "0",
        "realized_pnl": "0",
        "remaining_size": "0",
        "side": "BUY" if f.side == "Buy" else "SELL",
        "size": format(f.qty, "f"),
        "underlying_price": format(f.price, "f"),
    }
