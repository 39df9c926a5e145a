"""WOO X V3 private endpoints: key permissions (/v3/account/credentials) and own trades
(/v3/trade/transactionHistory).

Signing (developer.woox.io, V3 authentication): hex HMAC-SHA256(secret, timestamp + METHOD +
path-with-query + body) in `x-api-signature`, with `x-api-key` and `x-api-timestamp` (ms).
Undocumented and handled defensively: page size and window limits (ccxt asks 500 rows, ≤ 90 days; the
docs' and ccxt's recorded answers show 25 and 100 per page), row order (sorted here), `executedTimestamp`
in seconds as a string in real answers (ms in the docs). So pages are walked by the answer's own `meta`
(`total`, `recordsPerPage`, `currentPage`; snake_case in some recorded answers) until it says there is no
more, never by comparing a page with the size asked for.
https://developer.woox.io/api-reference/endpoint/trading/get_transactions

What counts: every row whose symbol is a perp (`PERP_BTC_USDT`), liquidation executions included: this
endpoint lists executions only (funding is /v3/futures/fundingFee/history, not read). Spot rows
(`SPOT_BTC_USDT`) are not perps.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from exchanges.base import as_decimal
from exchanges.errors import SchemaError, ThrottledError, VenueAPIError
from exchanges.private.base import CredentialError, Fill, KeyCheck, PrivateClient, ms

PAGE_LIMIT = 500
# /v3/account/credentials pages 25 keys by default, up to 1000 (developer.woox.io, account/credentials).
KEYS_PAGE_SIZE = 1000


def sign(secret: str, timestamp: str, method: str, path_with_query: str, body: str = "") -> str:
    message = f"{timestamp}{method.upper()}{path_with_query}{body}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def executed_at(value: Any) -> datetime:
    """`"1752055173.630"` (seconds, real answers) or `1752055173630` (ms, the docs)."""
    number = as_decimal(value)
    seconds = number if number < Decimal(10) ** 11 else number / 1000
    return datetime.fromtimestamp(float(seconds), tz=UTC).replace(microsecond=int((seconds % 1) * 1000) * 1000)


class WooxPrivate(PrivateClient):
    name = "woox"
    window = timedelta(days=30)
    lookback = timedelta(days=730)
    how_to_read_only = (
        "In WOO X, Account → API Management → Create API Key with only the 'Read' permission "
        "(not 'Trade', not 'Withdraw')."
    )

    async def check_key(self) -> KeyCheck:
        mine = await self._find_key()
        permissions = tuple(str(p).upper() for p in mine.get("permissions") or [])
        expires = mine.get("expirationTime")
        return KeyCheck(
            permissions=permissions,
            can_trade="TRADE" in permissions,
            can_withdraw=any(p.startswith("WITHDRAW") for p in permissions),
            expires_at=datetime.fromtimestamp(int(expires) / 1000, tz=UTC) if expires else None,
        )

    async def _find_key(self) -> dict[str, Any]:
        """This key's row, looked for on every page of the account's keys."""
        page, previous = 1, None
        while True:
            data = await self._get("/v3/account/credentials", {"page": page, "size": KEYS_PAGE_SIZE})
            rows = data.get("rows") if isinstance(data, dict) else data
            mine = next((r for r in rows or [] if r.get("apiKey") == self.credential.key), None)
            if mine is not None:
                return dict(mine)
            previous = _not_repeated(previous, [r.get("apiKey") for r in rows or []], page, "credentials")
            if not more_pages(data, page, len(rows or []), "GET /v3/account/credentials"):
                raise SchemaError("woox", "GET /v3/account/credentials", "rows[].apiKey", "does not list this key")
            page += 1

    async def fetch_fills(self, stream: str, start: datetime, end: datetime) -> list[Fill]:
        fills: dict[str, Fill] = {}
        page, previous = 1, None
        while True:
            params = {"startTime": ms(start), "endTime": ms(end) - 1, "page": page, "limit": PAGE_LIMIT}
            data = await self._get("/v3/trade/transactionHistory", params)
            rows = data.get("rows") or []
            previous = _not_repeated(previous, [r.get("id") for r in rows], page, "trade/transactionHistory")
            for row in rows:
                fill = _fill(row)
                if fill is not None and start <= fill.executed_at < end:
                    fills[fill.fill_id] = fill
            if not more_pages(data, page, len(rows), "GET /v3/trade/transactionHistory"):
                return sorted(fills.values(), key=lambda f: f.executed_at)
            page += 1

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        query = urlencode(params)
        target = f"{path}?{query}" if query else path
        timestamp = str(self.now_ms())
        headers = {
            "x-api-key": self.credential.key,
            "x-api-timestamp": timestamp,
            "x-api-signature": sign(self.credential.secret, timestamp, "GET", target),
        }
        body = await self.client.request("GET", target, headers=headers, check=_check(path))
        return body["data"]


def more_pages(data: Any, page: int, rows: int, endpoint: str) -> bool:
    """Whether the venue's `meta` says rows follow page `page`. Without a usable meta, pages continue
    until one comes back empty."""
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(meta, dict) or meta.get("total") is None:
        return rows > 0
    try:
        total = int(meta["total"])
        per_page = int(meta.get("recordsPerPage", meta.get("records_per_page")) or rows)
        current = int(meta.get("currentPage", meta.get("current_page")) or page)
    except (TypeError, ValueError):
        raise SchemaError("woox", endpoint, "meta", f"is not numeric: {str(meta)[:80]}") from None
    if current != page:
        raise SchemaError("woox", endpoint, "meta.currentPage", f"is {current}, page {page} was asked for")
    return rows > 0 and current * per_page < total


def _not_repeated(previous: list[Any] | None, ids: list[Any], page: int, path: str) -> list[Any]:
    """The page's ids; a venue that ignored `page` and answered the previous page again would otherwise
    be paged forever."""
    if ids and ids == previous:
        raise SchemaError("woox", f"GET /v3/{path}", "page", f"{page} repeats page {page - 1}")
    return ids


def _check(path: str) -> Any:
    endpoint = f"GET {path}"

    def check(body: Any, response: httpx.Response) -> None:
        if not isinstance(body, dict):
            raise SchemaError("woox", endpoint, "success", "is missing")
        if body.get("success") is True:
            return
        code, message = str(body.get("code", "")), str(body.get("message", ""))[:200]
        if code == "-1003":
            raise ThrottledError("woox", endpoint, f"error -1003: {message}", 1.0)
        if code in ("-1001", "-1002") or response.status_code == 401:
            raise CredentialError("woox", endpoint, "invalid", f"WOO X refused the key: {message}")
        raise VenueAPIError("woox", endpoint, code, message)

    return check


def _fill(row: dict[str, Any]) -> Fill | None:
    symbol = str(row.get("symbol", ""))
    if not symbol.startswith("PERP_"):
        return None
    try:
        notional = as_decimal(row["executedPrice"]) * as_decimal(row["executedQuantity"])
        return Fill(str(row["id"]), symbol, executed_at(row["executedTimestamp"]), abs(notional))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        endpoint = "GET /v3/trade/transactionHistory"
        raise SchemaError("woox", endpoint, "rows[]", f"has an unreadable row: {exc!r}") from None
