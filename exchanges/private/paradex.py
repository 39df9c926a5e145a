"""Paradex own fills with a read-only token: `GET /v1/fills` with `Authorization: Bearer <JWT>`.

The token's claims are read (not verified: only Paradex can) for its expiry and `token_type`; a token
without an explicit read-only `token_type` is treated as able to trade. Cursor pages (`next`, null at
the end), newest first.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from exchanges.base import as_decimal
from exchanges.errors import SchemaError, VenueAPIError
from exchanges.private.base import (
    ApiCredential,
    CredentialError,
    CredentialStatus,
    Fill,
    KeyCheck,
    PrivateClient,
    from_ms,
    ms,
)

PAGE_SIZE = 1000
READ_ONLY_TOKEN_TYPES = frozenset({"readonly", "read_only", "read-only"})
ENDPOINT = "GET /v1/fills"
# `fill_type` (OpenAPI responses.FillType, tradeparadex/paradex-docs fern/apis/prod_rest/openapi): the
# user's order-book fills (FILL, and RPI for Retail Price Improvement matches), liquidations and block
# trades count. UNWIND_TRANSFER (a vault operator's position transfer; named TRANSFER before release
# 07-22-2026) and SETTLE_MARKET (positions settled when a market expires or is delisted) are not trades.
# `orderbook_seq_no` is 0 for every position transfer, liquidations included (spec: "0 for position
# transfers (liquidations, settlements)"), so it cannot tell trades from transfers: `fill_type` does.
COUNTED = frozenset({"FILL", "RPI", "LIQUIDATION", "BLOCK_TRADE"})
NOT_COUNTED = frozenset({"UNWIND_TRANSFER", "TRANSFER", "SETTLE_MARKET"})


def token_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


class ParadexPrivate(PrivateClient):
    name = "paradex"
    window = timedelta(days=30)
    lookback = timedelta(days=730)
    how_to_read_only = (
        "In Paradex, Settings → Key Management → create a read-only token (restricted to GET) "
        "and paste it; never paste a private key."
    )

    @staticmethod
    def credential_problem(credential: ApiCredential) -> str | None:
        if token_claims(credential.key) is None:
            return "a Paradex read-only token is a JWT: three base64 parts separated by dots"
        return None

    async def check_key(self) -> KeyCheck:
        claims = token_claims(self.credential.key) or {}
        expires = datetime.fromtimestamp(int(claims["exp"]), tz=UTC) if "exp" in claims else None
        if expires is not None and expires <= self.clock():
            raise CredentialError("paradex", ENDPOINT, "expired", f"the token expired on {expires:%Y-%m-%d}")
        end = self.clock()
        await self._page(end - timedelta(days=1), end, None, 1)
        # Fail closed: only an explicit read-only claim makes a read-only token; one without the claim
        # (or with any other value) is treated as able to trade.
        token_type = str(claims.get("token_type", "missing"))
        read_only = token_type.lower() in READ_ONLY_TOKEN_TYPES
        return KeyCheck((f"token_type:{token_type}",), can_trade=not read_only, can_withdraw=False, expires_at=expires)

    async def fetch_fills(self, stream: str, start: datetime, end: datetime) -> list[Fill]:
        fills: dict[str, Fill] = {}
        cursor: str | None = None
        while True:
            body = await self._page(start, end, cursor, PAGE_SIZE)
            for row in body.get("results") or []:
                fill = _fill(row)
                if fill is not None and start <= fill.executed_at < end:
                    fills[fill.fill_id] = fill
            cursor = body.get("next")
            if not cursor:
                return sorted(fills.values(), key=lambda f: f.executed_at)

    async def _page(self, start: datetime, end: datetime, cursor: str | None, size: int) -> Any:
        params: dict[str, Any] = {"start_at": ms(start), "end_at": ms(end) - 1, "page_size": size}
        if cursor:
            params["cursor"] = cursor
        headers = {"Authorization": f"Bearer {self.credential.key}"}
        return await self.client.request("GET", "/v1/fills", params=params, headers=headers, check=_check)


def _check(body: Any, response: httpx.Response) -> None:
    if response.status_code == 401:
        message = str(body.get("message", "") if isinstance(body, dict) else "")[:200]
        status: CredentialStatus = "expired" if "expired" in message else "invalid"
        raise CredentialError("paradex", ENDPOINT, status, f"Paradex refused the token: {message}")
    if response.status_code >= 400 and isinstance(body, dict):
        raise VenueAPIError(
            "paradex", ENDPOINT, str(body.get("error", response.status_code)), str(body.get("message"))[:200]
        )


def _fill(row: dict[str, Any]) -> Fill | None:
    market, fill_type = str(row.get("market", "")), str(row.get("fill_type", ""))
    if fill_type in NOT_COUNTED or not market.endswith("-PERP"):
        return None  # perpetual options (BTC-USD-96000-C) and spot are not perp futures
    if fill_type not in COUNTED:
        # A type Paradex adds later is neither counted nor dropped in silence: the sync stops and says so.
        raise SchemaError("paradex", ENDPOINT, "results[].fill_type", f"has an unknown value {fill_type[:40]!r}")
    try:
        notional = as_decimal(row["price"]) * as_decimal(row["size"])
        # The spec calls `id` unique "per FillType"; two types sharing an id would be two sides of one
        # trade (a liquidated account's LIQUIDATION, its counterparty's FILL), never both in one account's
        # fills. The bare id is also what was stored before types were read, so no fill is stored twice.
        return Fill(str(row["id"]), market, from_ms(row["created_at"]), abs(notional))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise SchemaError("paradex", ENDPOINT, "results[]", f"has an unreadable fill: {exc!r}") from None
