"""Bybit V5 public market data: USDT/USDC linear perps and inverse (coin-margined) perps.

Units (https://bybit-exchange.github.io/docs/v5/market/tickers and .../market/kline):
linear contracts count `turnover` in the quote coin (USDT/USDC = USD) and `volume` in the base coin;
inverse contracts are the other way round: `volume` is USD (1 contract = 1 USD), `turnover` is the base
coin (ccxt issue #14400 has both cases side by side).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import httpx

from core.venues import VENUES
from exchanges.base import (
    Connector,
    CurrentSnapshot,
    DailyVolume,
    Market,
    MarketKind,
    MarketStatus,
    MarketVolume,
    Source,
    VenueInfo,
    as_decimal,
    ms_from_date,
    utc_from_ms,
)
from exchanges.errors import (
    ExchangeError,
    SchemaError,
    ThrottledError,
    TransientError,
    VenueAPIError,
)
from exchanges.http import VenueClient

# Requests per second and burst against the public API: core/venues.py says why.
RATE_LIMIT = VENUES["bybit"].public_limit
BAN_SECONDS = 600.0

INSTRUMENTS = "/v5/market/instruments-info"
TICKERS = "/v5/market/tickers"
KLINE = "/v5/market/kline"

CATEGORIES: tuple[MarketKind, ...] = ("linear", "inverse")
PERPETUAL = {"LinearPerpetual": "linear", "InversePerpetual": "inverse"}
# Without `status` the list holds only `Trading` symbols; every other state must be asked for by name
# (https://bybit-exchange.github.io/docs/v5/market/instrument, enum #status).
STATUSES: dict[str, MarketStatus] = {
    "Trading": "trading",
    "PreLaunch": "pending",
    "Delivering": "suspended",
    "Closed": "delisted",
}
# https://bybit-exchange.github.io/docs/v5/error: 10006 per-UID limit, 10429 system frequency
# protection, 10016 internal error / service restarting.
THROTTLE_CODES = {10006, 10429}
TRANSIENT_CODES = {10016}
PAGE_LIMIT = 1000
KLINE_LIMIT = 1000
DAY_MS = 86_400_000

CURRENT_SOURCE = (
    "GET /v5/market/tickers: turnover24h (linear, quote coin USDT/USDC) + volume24h (inverse, USD), "
    "rolling 24h"
)
HISTORY_SOURCE = (
    "GET /v5/market/kline interval=D: turnover [6] (linear, quote coin) / volume [5] (inverse, USD), UTC days"
)


class BybitConnector(Connector):
    name = "bybit"
    backfill_chunk_days = 1000
    info = VenueInfo(
        name="bybit",
        current_source=CURRENT_SOURCE,
        history_source=HISTORY_SOURCE,
        current_from=Source("GET /v5/market/tickers", ("turnover24h", "volume24h")),
        history_from=Source("GET /v5/market/kline?interval=D", ("turnover", "volume")),
        notes=(
            "USDT and USDC linear perps plus inverse (coin-margined) perps; dated futures excluded.",
            "Delisted perps come from instruments-info status=Closed.",
        ),
    )

    def __init__(self, client: VenueClient) -> None:
        super().__init__(client)
        # (category, symbol) -> contractType of every instrument seen, dated futures included, so that
        # tickers can be filtered to perps without listing instruments on every poll.
        self._contract_types: dict[tuple[str, str], str] = {}

    # --- markets ---------------------------------------------------------------------------------

    async def list_markets(self) -> list[Market]:
        markets: dict[tuple[str, str], Market] = {}
        for category in CATEGORIES:
            for status in STATUSES:
                for item in await self._instruments(category, status):
                    market = self._market(category, item)
                    if market is not None:
                        markets.setdefault((category, market.symbol), market)
        return list(markets.values())

    async def _instruments(self, category: str, status: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"category": category, "status": status, "limit": PAGE_LIMIT}
            if cursor:
                # The cursor comes back URL-encoded; decode it so httpx encodes it exactly once.
                params["cursor"] = unquote(cursor)
            result = _result(await self._get(INSTRUMENTS, params), INSTRUMENTS)
            page = _list(result, INSTRUMENTS)
            items.extend(page)
            cursor = _text(result, "nextPageCursor", INSTRUMENTS)
            # Bybit may hand out a cursor with the last page too: an empty page or a repeat ends it.
            if not cursor or not page or cursor in seen:
                return items
            seen.add(cursor)

    def _market(self, category: str, item: dict[str, Any]) -> Market | None:
        symbol = _text(item, "symbol", INSTRUMENTS)
        contract = _text(item, "contractType", INSTRUMENTS)
        self._contract_types[(category, symbol)] = contract
        if PERPETUAL.get(contract) != category:
            return None
        status = _text(item, "status", INSTRUMENTS)
        if status not in STATUSES:
            raise SchemaError("bybit", f"GET {INSTRUMENTS}", "status", f"has unknown value {status!r}")
        kind: MarketKind = "linear" if category == "linear" else "inverse"
        extra = (
            ("category", category),
            ("launch_ms", _text(item, "launchTime", INSTRUMENTS, default="")),
            ("delivery_ms", _text(item, "deliveryTime", INSTRUMENTS, default="")),
            ("settle", _text(item, "settleCoin", INSTRUMENTS, default="")),
        )
        return Market(
            exchange="bybit",
            symbol=symbol,
            kind=kind,
            status=STATUSES[status],
            base=_text(item, "baseCoin", INSTRUMENTS),
            quote=_text(item, "quoteCoin", INSTRUMENTS),
            extra=extra,
        )

    # --- current ---------------------------------------------------------------------------------

    async def fetch_current(self) -> CurrentSnapshot:
        volumes: list[MarketVolume] = []
        times: list[datetime] = []
        for category in CATEGORIES:
            body = await self._get(TICKERS, {"category": category})
            times.append(utc_from_ms(_int(body, "time", TICKERS)))
            tickers = _list(_result(body, TICKERS), TICKERS)
            await self._learn_unknown(category, (_text(t, "symbol", TICKERS) for t in tickers))
            volumes.extend(self._perp_volumes(category, tickers))
        await self.check_complete(f"GET {TICKERS}", {v.symbol for v in volumes})
        # as_of: the older of the two responses' own `time` (ms, Bybit's clock).
        return CurrentSnapshot("bybit", min(times), CURRENT_SOURCE, tuple(volumes))

    def _perp_volumes(self, category: str, tickers: list[dict[str, Any]]) -> Iterable[MarketVolume]:
        usd_field = "turnover24h" if category == "linear" else "volume24h"
        for ticker in tickers:
            symbol = _text(ticker, "symbol", TICKERS)
            if PERPETUAL.get(self._contract_types.get((category, symbol), "")) == category:
                yield MarketVolume(symbol, _number(ticker, usd_field, TICKERS))

    async def _learn_unknown(self, category: str, symbols: Iterable[str]) -> None:
        """Relist instruments once when tickers show a symbol we have not classified yet."""
        if any((category, symbol) not in self._contract_types for symbol in symbols):
            for status in STATUSES:
                for item in await self._instruments(category, status):
                    self._market(category, item)

    # --- history ---------------------------------------------------------------------------------

    async def fetch_daily(self, market: Market, start: date, end: date) -> list[DailyVolume]:
        category = market.get("category", market.kind)
        launch = market.get("launch_ms")
        if launch.isdigit() and int(launch) > 0:
            start = max(start, utc_from_ms(launch).date())
        days: dict[date, DailyVolume] = {}
        # Windows of at most KLINE_LIMIT days, newest first, so one call never holds more candles than
        # the page can carry whichever end Bybit fills a page from.
        window_end = end
        while window_end >= start:
            window_start = max(start, window_end - timedelta(days=KLINE_LIMIT - 1))
            rows = await self._daily_window(market, category, window_start, window_end)
            for row in rows:
                if start <= row.day <= end:
                    days.setdefault(row.day, row)
            if not rows and days:
                break  # older than the first candle: the market did not exist yet
            window_end = window_start - timedelta(days=1)
        return [days[day] for day in sorted(days)]

    async def _daily_window(
        self, market: Market, category: str, first: date, last: date
    ) -> list[DailyVolume]:
        params = {
            "category": category,
            "symbol": market.symbol,
            "interval": "D",
            "start": ms_from_date(first),
            "end": ms_from_date(last) + DAY_MS - 1,
            "limit": KLINE_LIMIT,
        }
        body = await self._get(KLINE, params)
        today = utc_from_ms(_int(body, "time", KLINE)).date()
        usd_index = 6 if category == "linear" else 5
        return [
            self._candle(market, row, usd_index, today)
            for row in _list(_result(body, KLINE), KLINE, rows=True)
        ]

    def _candle(self, market: Market, row: Any, usd_index: int, today: date) -> DailyVolume:
        if not isinstance(row, list) or len(row) < 7:
            raise SchemaError("bybit", f"GET {KLINE}", "result.list[]", "is not a 7-element candle")
        day = utc_from_ms(_digits(row[0], "result.list[][0]")).date()
        usd = _decimal(row[usd_index], f"result.list[][{usd_index}]", KLINE)
        return DailyVolume(
            exchange="bybit",
            symbol=market.symbol,
            day=day,
            volume_usd=usd,
            source=HISTORY_SOURCE,
            complete=day < today,
        )

    # --- transport -------------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            return await self.client.get(path, params, check=_check)
        except ExchangeError as exc:
            if type(exc) is ExchangeError and exc.message.startswith("HTTP 403"):
                # A ban is per IP: the limiter (shared through Redis) stops every worker for its length.
                self.client.limiter.pause(BAN_SECONDS)
                raise _forbidden(exc.endpoint) from None
            raise


def _check(body: Any, response: httpx.Response) -> None:
    """Bybit puts errors in HTTP 200 bodies: retCode 0 is success, anything else is an error."""
    endpoint = f"{response.request.method} {response.request.url.path}"
    if response.status_code == 403:
        raise _forbidden(endpoint)
    if not isinstance(body, dict):
        raise SchemaError("bybit", endpoint, "retCode", "missing: body is not an object")
    code = body.get("retCode")
    if isinstance(code, bool) or not isinstance(code, (int, str)) or not str(code).lstrip("-").isdigit():
        raise SchemaError("bybit", endpoint, "retCode", "is missing or not an integer")
    number = int(code)
    if number == 0:
        return
    message = str(body.get("retMsg", ""))
    if number in THROTTLE_CODES:
        raise ThrottledError("bybit", endpoint, f"retCode {number}: {message}", _retry_after(body, response))
    if number in TRANSIENT_CODES:
        raise TransientError("bybit", endpoint, f"retCode {number}: {message}")
    raise VenueAPIError("bybit", endpoint, str(number), message)


def _retry_after(body: dict[str, Any], response: httpx.Response) -> float | None:
    """Seconds until X-Bapi-Limit-Reset-Timestamp (ms), measured against the body's own `time`."""
    reset = response.headers.get("X-Bapi-Limit-Reset-Timestamp", "")
    if reset.isdigit():
        sent = body.get("time")
        now_ms = int(sent) if isinstance(sent, int) and not isinstance(sent, bool) else time.time() * 1000
        return max(0.0, (int(reset) - now_ms) / 1000)
    retry_after = response.headers.get("Retry-After", "")
    return float(retry_after) if retry_after.isdigit() else None


def _forbidden(endpoint: str) -> ExchangeError:
    # https://bybit-exchange.github.io/docs/v5/rate-limit: "403, access too frequent" bans the IP for
    # at least 10 minutes; US and some cloud IPs get a CloudFront 403 page. Retrying only extends a ban.
    return ExchangeError(
        "bybit",
        endpoint,
        "HTTP 403 forbidden: the IP is banned for exceeding 600 requests/5 s (wait at least 10 minutes) "
        "or its region is blocked by Bybit; not retried",
    )


# --- body readers: each names the field that is missing --------------------------------------------


def _result(body: Any, path: str) -> dict[str, Any]:
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        raise SchemaError("bybit", f"GET {path}", "result", "is missing or not an object")
    return result


def _list(result: dict[str, Any], path: str, *, rows: bool = False) -> list[Any]:
    items = result.get("list")
    if not isinstance(items, list):
        raise SchemaError("bybit", f"GET {path}", "result.list", "is missing or not a list")
    if not rows and not all(isinstance(item, dict) for item in items):
        raise SchemaError("bybit", f"GET {path}", "result.list[]", "is not an object")
    return items


def _text(item: dict[str, Any], key: str, path: str, *, default: str | None = None) -> str:
    value = item.get(key, default)
    if not isinstance(value, str):
        raise SchemaError("bybit", f"GET {path}", key, "is missing or not a string")
    return value


def _number(item: dict[str, Any], key: str, path: str) -> Decimal:
    if key not in item:
        raise SchemaError("bybit", f"GET {path}", key, "is missing")
    return _decimal(item[key], key, path)


def _decimal(value: Any, key: str, path: str) -> Decimal:
    try:
        number = as_decimal(value)
    except (TypeError, ArithmeticError):
        raise SchemaError("bybit", f"GET {path}", key, f"is not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise SchemaError("bybit", f"GET {path}", key, f"is not a volume: {value!r}")
    return number


def _int(body: Any, key: str, path: str) -> int:
    value = body.get(key) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)) or not str(value).isdigit():
        raise SchemaError("bybit", f"GET {path}", key, "is missing or not a timestamp in ms")
    return int(value)


def _digits(value: Any, key: str) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise SchemaError("bybit", f"GET {KLINE}", key, f"is not a timestamp in ms: {value!r}")
    return int(value)

