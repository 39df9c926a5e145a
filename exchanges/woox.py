"""WOO X (V3 REST API, https://developer.woox.io) perpetual volume. Not WOO X Pro, a different venue.

Every perp is linear and USDT-margined (`PERP_<BASE>_USDT`), so the quote notional the venue reports
is USD without conversion: `24hAmount` for the rolling 24 hours and the daily candle's `amount`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from core.venues import VENUES
from exchanges.base import (
    Connector,
    CurrentSnapshot,
    DailyVolume,
    Exchange,
    Market,
    MarketStatus,
    MarketVolume,
    Source,
    VenueInfo,
    as_decimal,
    ms_from_date,
    utc_from_ms,
)
from exchanges.errors import SchemaError, ThrottledError, TransientError, VenueAPIError

# Requests per second and burst against the public API: core/venues.py says why.
RATE_LIMIT = VENUES["woox"].public_limit

INSTRUMENTS = "/v3/public/instruments"
FUTURES = "/v3/public/futures"
KLINE_HISTORY = "/v3/public/klineHistory"

# -1003 is "Rate limit exceed." (ccxt woo.ts exceptions; WOO X error-code table). `code` comes as a
# number or as a string ("-1000") depending on the endpoint, so compare as text.
THROTTLE_CODE = "-1003"
# -1000 is the venue's "internal error ... Please try again later" (ccxt woo.ts): worth a retry.
INTERNAL_CODE = "-1000"
# klineHistory allows up to 1000 candles per call, but ccxt notes pages further back than 999
# candles are cut to 100: never take a short page for the end of the history.
PAGE_LIMIT = 1000
DAY_MS = 86_400_000

STATUSES: dict[str, MarketStatus] = {
    "TRADING": "trading",
    "SUSPENDED": "suspended",
    "HALT": "suspended",
    "HALTED": "suspended",
    "PRE_TRADING": "pending",
    "PENDING": "pending",
    "DELISTED": "delisted",
    "DELISTING": "delisted",
    "CLOSED": "delisted",
}

CURRENT_SOURCE = f"GET {FUTURES}: 24hAmount (USDT quote notional, rolling 24h)"
HISTORY_SOURCE = f"GET {KLINE_HISTORY} type=1d: amount (USDT quote notional per UTC day)"


def check_body(body: Any, response: httpx.Response) -> None:
    """Error bodies are `{"success": false, "code": -1003, "message": ...}`, on 200 or 4xx."""
    if not isinstance(body, Mapping) or body.get("success") is not False:
        return
    code = str(body.get("code", "?"))
    message = str(body.get("message", ""))
    endpoint = f"{response.request.method} {response.request.url.path}"
    if code == THROTTLE_CODE:
        raise ThrottledError("woox", endpoint, f"error {code}: {message}")
    if code == INTERNAL_CODE:
        raise TransientError("woox", endpoint, f"error {code}: {message}")
    raise VenueAPIError("woox", endpoint, code, message)


class WooxConnector(Connector):
    name: ClassVar[Exchange] = "woox"
    backfill_chunk_days = 1000
    info: ClassVar[VenueInfo] = VenueInfo(
        name="woox",
        current_source=CURRENT_SOURCE,
        history_source=HISTORY_SOURCE,
        current_from=Source(f"GET {FUTURES}", ("24hAmount",)),
        history_from=Source(f"GET {KLINE_HISTORY}?type=1d", ("amount",)),
        notes=(
            "All WOO X perps are linear USDT perps (PERP_<BASE>_USDT); USDT counts as USD.",
            "as_of is the venue's own envelope `timestamp` (ms).",
        ),
    )

    async def list_markets(self) -> list[Market]:
        body = await self._get(INSTRUMENTS)
        markets = []
        for row in _rows(body, INSTRUMENTS):
            symbol = _text(row, "symbol", INSTRUMENTS)
            if not symbol.startswith("PERP_"):
                continue
            raw_status = _text(row, "status", INSTRUMENTS)
            base, quote = _base_quote(symbol)
            markets.append(
                Market(
                    exchange="woox",
                    symbol=symbol,
                    kind="linear",
                    # An unknown status is not counted as trading; its raw text stays in `extra`.
                    status=STATUSES.get(raw_status.upper(), "suspended"),
                    base=base,
                    quote=quote,
                    extra=(("status", raw_status),),
                )
            )
        return markets

    async def fetch_current(self) -> CurrentSnapshot:
        body = await self._get(FUTURES)
        volumes = []
        for row in _rows(body, FUTURES):
            symbol = _text(row, "symbol", FUTURES)
            if symbol.startswith("PERP_"):
                volumes.append(MarketVolume(symbol, _number(row, "24hAmount", FUTURES)))
        await self.check_complete(f"GET {FUTURES}", {v.symbol for v in volumes})
        return CurrentSnapshot(
            exchange="woox",
            as_of=_venue_time(body, FUTURES),
            source=CURRENT_SOURCE,
            markets=tuple(volumes),
        )

    async def fetch_daily(self, market: Market, start: date, end: date) -> list[DailyVolume]:
        first_ms, stop_ms = ms_from_date(start), ms_from_date(end + timedelta(days=1))
        found: dict[date, DailyVolume] = {}
        before: int | None = None if end >= datetime.now(UTC).date() else stop_ms
        while True:
            candles = await self._kline_page(market.symbol, before)
            if not candles:
                break
            oldest = candles[0][0]
            if before is not None and oldest >= before:
                raise SchemaError(
                    "woox", KLINE_HISTORY, "before", "cursor not honoured: page did not go back"
                )
            for start_ms, day in candles:
                if first_ms <= start_ms < stop_ms:
                    found.setdefault(day.day, day)
            if oldest <= first_ms:
                break
            # `before` is exclusive (developer.woox.io klineHistory): the next page ends at `oldest`.
            before = oldest
        return [found[day] for day in sorted(found)]

    async def _kline_page(self, symbol: str, before: int | None) -> list[tuple[int, DailyVolume]]:
        params: dict[str, Any] = {"symbol": symbol, "type": "1d", "limit": PAGE_LIMIT}
        if before is not None:
            params["before"] = before
        body = await self._get(KLINE_HISTORY, params)
        rows = _rows(body, KLINE_HISTORY)
        now_ms = int(_number(body, "timestamp", KLINE_HISTORY))
        candles = [_candle(symbol, row, now_ms) for row in rows]
        # Row order is not documented: sort oldest first.
        return sorted(candles, key=lambda item: item[0])

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.client.get(path, params, check=check_body)


def _candle(symbol: str, row: Mapping[str, Any], now_ms: int) -> tuple[int, DailyVolume]:
    start_ms = int(_number(row, "startTimestamp", KLINE_HISTORY))
    end_ms = int(_number(row, "endTimestamp", KLINE_HISTORY))
    if start_ms % DAY_MS:
        # A 1d candle that does not start at 00:00 UTC would put volume on the wrong day.
        raise SchemaError("woox", KLINE_HISTORY, "startTimestamp", f"{start_ms} is not 00:00 UTC")
    day = DailyVolume(
        exchange="woox",
        symbol=symbol,
        day=utc_from_ms(start_ms).date(),
        volume_usd=_number(row, "amount", KLINE_HISTORY),
        source=HISTORY_SOURCE,
        complete=end_ms <= now_ms,
    )
    return start_ms, day


def _rows(body: Any, endpoint: str) -> list[Mapping[str, Any]]:
    if not isinstance(body, Mapping):
        raise SchemaError("woox", endpoint, "data", "missing: body is not an object")
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise SchemaError("woox", endpoint, "data", "missing or not an object")
    rows = data.get("rows")
    if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
        raise SchemaError("woox", endpoint, "rows", "missing or not a list of objects")
    return rows


def _text(row: Mapping[str, Any], field: str, endpoint: str) -> str:
    value = row.get(field)
    if not isinstance(value, str) or not value:
        raise SchemaError("woox", endpoint, field, "missing or not a string")
    return value


def _number(row: Mapping[str, Any], field: str, endpoint: str) -> Decimal:
    if field not in row or row[field] is None:
        raise SchemaError("woox", endpoint, field, "missing")
    try:
        value = as_decimal(row[field])
    except (TypeError, ArithmeticError):
        raise SchemaError("woox", endpoint, field, f"not a number: {row[field]!r}") from None
    if not value.is_finite():
        raise SchemaError("woox", endpoint, field, f"not a finite number: {row[field]!r}")
    return value


def _venue_time(body: Mapping[str, Any], endpoint: str) -> datetime:
    # The V3 envelope carries the server time in ms, as a number or a numeric string.
    return utc_from_ms(int(_number(body, "timestamp", endpoint)))


def _base_quote(symbol: str) -> tuple[str, str]:
    parts = symbol.split("_")
    if len(parts) < 3:
        raise SchemaError("woox", INSTRUMENTS, "symbol", f"{symbol!r} is not PERP_<BASE>_<QUOTE>")
    return "_".join(parts[1:-1]), parts[-1]
