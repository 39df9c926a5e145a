"""Simulated Paradex private fills: `GET /v1/fills` with `Authorization: Bearer <read-only token>`.

Tokens are JWTs the simulator signs itself (HS256 under a sim key): `token_for()` makes one with the
claims Paradex puts in read-only tokens as far as known (`sub`, `exp`, `token_type`). An expired token
answers 401 `{"message": "missing or malformed jwt: token is expired by …"}` as the venue does. Fills
come newest first with opaque `next` cursors (base64 of the offset, a sim choice).
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
    page = chosen[offset : offset + size]
    after = offset + len(page)
    nxt = base64.urlsafe_b64encode(str(after).encode()).decode() if after < len(chosen) else None
    prev = base64.urlsafe_b64encode(str(max(0, offset - size)).encode()).decode() if offset else None
    return {"next": nxt, "prev": prev, "results": [_row(f) for f in page]}


def _row(f: SimFill) -> dict[str, Any]:
    market = f"{f.base}-USD-PERP" if f.counts else f"{f.base}-USD-96000-C"
    fee = (f.price * f.qty * Decimal("0.0002")).quantize(Decimal("0.000001"))
    return {
        "client_id": "",
        "created_at": f.ms,
        "fee": format(fee, "f"),
        "fee_currency": "USDC",
        "fill_type": "FILL",
        "flags": [],
        "id": f.fill_id,
        "liquidity": "TAKER",
        "market": market,
        "order_id": f.order_id,
        "price": format(f.price, "f"),
        "realized_funding": "0",
        "realized_pnl": "0",
        "remaining_size": "0",
        "side": "BUY" if f.side == "Buy" else "SELL",
        "size": format(f.qty, "f"),
        "underlying_price": format(f.price, "f"),
    }
