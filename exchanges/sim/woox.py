"""Simulated WOO X V3 public API: /v3/public/instruments, /v3/public/futures, /v3/public/klineHistory.

Shapes follow developer.woox.io and ccxt's recorded responses (ts/src/test/static/response/woo.json):
an envelope `{"success": true, "data": {"rows": [...]}, "timestamp": ms}`, figures as strings,
timestamps as numbers. Choices where the venue is undocumented (marked "sim choice"): delisted perps
disappear from instruments and futures but keep their candles; klineHistory answers newest first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from exchanges.sim import woox_private as private
from exchanges.sim.app import SimRequest, SimResponse
from exchanges.sim.model import SimMarket, SimModel

DAY_MS = 86_400_000
KLINE_TYPES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w", "1mon", "1y")
# Spot pairs that /v3/public/instruments also lists, so that clients must filter on the PERP_ prefix.
SPOT_SYMBOLS = ("SPOT_BTC_USDT", "SPOT_ETH_USDT", "SPOT_WOO_USDT")
BASE_STEP = Decimal("0.0001")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# WOO X lists some low-priced coins per 1000 (PERP_1000PEPE_USDT); the simulator names these so.
SCALED = {"PEPE": "1000PEPE", "SHIB": "1000SHIB"}


def coin_of(market: SimMarket) -> str:
    return SCALED.get(market.base, market.base)


def symbol_of(market: SimMarket) -> str:
    return f"PERP_{coin_of(market)}_{market.quote}"


def error(status: int, code: int, message: str) -> SimResponse:
    return SimResponse(status, {"success": False, "code": code, "message": message})


class WooxSim:
    venue = "woox"
    rate = 10.0  # 10 requests per second per IP on every public endpoint
    burst = 10.0

    def __init__(self, model: SimModel) -> None:
        self.model = model

    def owns(self, method: str, path: str) -> bool:
        return path.startswith("/v3/")

    def weight(self, request: SimRequest) -> float:
        return 1.0

    def throttled(self) -> SimResponse:
        # WOO X error table: -1003 TOO_MANY_REQUEST, HTTP 429; message text as ccxt woo.ts records it.
        return error(429, -1003, "Rate limit exceed.")

    async def handle(self, request: SimRequest) -> SimResponse:
        if request.method != "GET":
            return error(405, -1000, f"Request method '{request.method}' not supported")
        if request.path in private.PATHS:
            return self._private(request)
        routes = {
            "/v3/public/instruments": self._instruments,
            "/v3/public/futures": self._futures,
            "/v3/public/klineHistory": self._kline_history,
        }
        route = routes.get(request.path)
        if route is None:
            return error(404, -1000, "The requested resource is not found.")  # sim choice
        return route(request)

    def _private(self, request: SimRequest) -> SimResponse:
        try:
            account = private.authenticate(self.model, request)
            if request.path == "/v3/account/credentials":
                data = private.credentials(self.model, account, request.query)
            else:
                data = private.transactions(self.model, account, request.query)
        except private.WooxPrivateError as exc:
            return exc.response()
        return SimResponse(200, {"success": True, "data": data, "timestamp": _ms(self.model.now())})

    # --- endpoints ----------------------------------------------------------------------------

    def _instruments(self, request: SimRequest) -> SimResponse:
        rows = [_instrument(symbol_of(m), coin_of(m), m.quote) for m in self._listed()]
        rows += [_instrument(s, s.split("_")[1], "USDT") for s in SPOT_SYMBOLS]
        return self._ok(rows)

    def _futures(self, request: SimRequest) -> SimResponse:
        now = self.model.now()
        return self._ok([self._future(m, now) for m in self._listed()])

    def _kline_history(self, request: SimRequest) -> SimResponse:
        query = request.query
        symbol, kind = query.get("symbol", ""), query.get("type", "")
        if not symbol:
            return error(400, -1005, "symbol must not be blank")
        if not kind:
            return error(400, -1005, "type must not be blank")
        if kind not in KLINE_TYPES:
            return error(400, -1005, f"type {kind} is invalid")
        if kind != "1d":
            return error(400, -1005, f"type {kind} is not simulated")  # sim choice: only daily candles
        market = next((m for m in self.model.markets(self.venue) if symbol_of(m) == symbol), None)
        if market is None:
            return error(400, -1005, f"symbol {symbol} is invalid")
        try:
            limit = int(query.get("limit", "100"))
            before = int(query["before"]) if query.get("before") else None
            after = int(query["after"]) if query.get("after") else None
        except ValueError:
            return error(400, -1005, "limit, before and after must be integers")
        if not 1 <= limit <= 1000:
            return error(400, -1005, "limit must be between 1 and 1000")
        return self._ok(self._candles(market, limit, before, after))

    # --- data ---------------------------------------------------------------------------------

    def _listed(self) -> list[SimMarket]:
        today = self.model.today()
        return [m for m in self.model.markets(self.venue) if m.trading_on(today)]

    def _ok(self, rows: list[dict[str, Any]]) -> SimResponse:
        return SimResponse(200, {"success": True, "data": {"rows": rows}, "timestamp": _ms(self.model.now())})

    def _future(self, market: SimMarket, now: datetime) -> dict[str, Any]:
        price = self.model.price(market, now)
        open_price = self.model.price(market, now - timedelta(days=1))
        amount = self.model.rolling_24h_usd(market)
        return {
            "symbol": symbol_of(market),
            "indexPrice": str(price),
            "markPrice": str(price),
            "estFundingRate": "0.00008514",
            "lastFundingRate": "0.00008545",
            "openInterest": str(_base(market.daily_scale / 20, price)),
            "24hOpen": str(open_price),
            "24hClose": str(price),
            "24hHigh": str(max(price, open_price)),
            "24hLow": str(min(price, open_price)),
            "24hVolume": str(_base(amount, price)),
            "24hAmount": str(amount),
            "nextFundingTime": (_ms(now) // (8 * 3_600_000) + 1) * 8 * 3_600_000,
        }

    def _candles(
        self, market: SimMarket, limit: int, before: int | None, after: int | None
    ) -> list[dict[str, Any]]:
        days = self._days(market)
        if before is not None:  # exclusive cursors; `before` wins when both are sent
            days = [d for d in days if _ms(_midnight(d)) < before][-limit:]
        elif after is not None:
            days = [d for d in days if _ms(_midnight(d)) > after][:limit]
        else:
            days = days[-limit:]
        cursor = before if before is not None else after
        if cursor is not None and cursor < _ms(self.model.now()) - 999 * DAY_MS:
            # ccxt woo.ts: pages further back than 999 candles hold at most 100.
            days = days[-100:] if before is not None else days[:100]
        return [self._candle(market, d) for d in reversed(days)]

    def _days(self, market: SimMarket) -> list[date]:
        first = max(market.listed, self.model.genesis)
        last = self.model.today() if market.delisted is None else market.delisted - timedelta(days=1)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def _candle(self, market: SimMarket, day: date) -> dict[str, Any]:
        start = _midnight(day)
        end = min(start + timedelta(days=1), self.model.now())
        open_price, close_price = self.model.price(market, start), self.model.price(market, end)
        mid_price = self.model.price(market, start + (end - start) / 2)
        amount = self.model.daily_usd(market, day)
        return {
            "symbol": symbol_of(market),
            "open": str(open_price),
            "close": str(close_price),
            "high": str(max(open_price, close_price, mid_price)),
            "low": str(min(open_price, close_price, mid_price)),
            "volume": str(_base(amount, mid_price)),
            "amount": str(amount),
            "type": "1d",
            "startTimestamp": _ms(start),
            "endTimestamp": _ms(start) + DAY_MS,
        }


def _instrument(symbol: str, base: str, quote: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetMultiplier": 1,
        "quoteAsset": quote,
        "quoteMin": "0",
        "quoteMax": "100000",
        "quoteTick": "0.01",
        "baseMin": "0.0001",
        "baseMax": "1000",
        "baseTick": "0.0001",
        "minNotional": "10",
        "bidCapRatio": "1.1",
        "bidFloorRatio": None,
        "askCapRatio": None,
        "askFloorRatio": "0.9",
        "orderMode": "NORMAL",
        "impactNotional": None,
        "isAllowedRpi": False,
        "tickGranularity": None,
    }


def _base(usd: Decimal, price: Decimal) -> Decimal:
    return (usd / price).quantize(BASE_STEP, ROUND_HALF_EVEN) if price else Decimal(0)
