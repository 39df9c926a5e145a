"""Simulated Paradex REST API v1: `/v1/markets`, `/v1/markets/summary`, `/v1/markets/klines`.

Shapes follow the OpenAPI spec (v1.132.1) and ccxt's recorded responses: decimal strings for prices and
volumes, JSON integers for `created_at` / `open_at`, klines as arrays of JSON numbers. As on Paradex,
delisted perps are absent from `/v1/markets` and the summary, but their klines stay available for the
days they traded. A few perpetual options (`asset_kind` PERP_OPTION) are listed alongside the perps so
that connectors must filter. Kline volume is USD notional here, the unit recorded values suggest.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from exchanges.sim import paradex_private as private
from exchanges.sim.app import SimRequest, SimResponse
from exchanges.sim.model import SimMarket, SimModel

RESOLUTIONS = (1, 3, 5, 15, 30, 60)
# Not a documented Paradex limit: keeps one simulated request cheap (about 400 days of hourly candles).
MAX_CANDLES = 10_000
OPTIONS = (
    ("BTC", "BTC-USD-100000-C", "CALL", "100000", Decimal("3456789.12")),
    ("BTC", "BTC-USD-80000-P", "PUT", "80000", Decimal("987654.32")),
    ("ETH", "ETH-USD-4000-C", "CALL", "4000", Decimal("123456.78")),
)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _text(value: Decimal) -> str:
    """Paradex writes decimals as plain strings ("66821.1"), never in exponent form."""
    return format(value, "f")


def _error(status: int, code: str, message: str) -> SimResponse:
    return SimResponse(status, {"error": code, "message": message})


class ParadexSim:
    venue = "paradex"
    # 1500 requests per minute per IP, continuously refilled; the bucket size is not documented, so
    # one second's worth is assumed.
    rate = 25.0
    burst = 25.0

    def __init__(self, model: SimModel) -> None:
        self.model = model
        self._by_symbol = {self.symbol(m): m for m in model.markets("paradex")}
        self._total_cache: dict[tuple[str, date], Decimal] = {}

    @staticmethod
    def symbol(market: SimMarket) -> str:
        return f"{market.base}-USD-PERP"

    def listed(self) -> list[SimMarket]:
        """Perps the venue lists now: delisted ones are gone from /markets and the summary."""
        today = self.model.today()
        return [m for m in self.model.markets("paradex") if m.delisted is None or m.delisted > today]

    def owns(self, method: str, path: str) -> bool:
        return path.startswith("/v1/")

    def weight(self, request: SimRequest) -> float:
        return 1.0

    def throttled(self) -> SimResponse:
        # Headers per release notes v1.118.5; the 429 body is undocumented, this one follows ApiError.
        reset = int(time.time()) + 1
        headers = {
            "Retry-After": "1",
            "X-RateLimit-Limit": "1500",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Window": "60",
        }
        return SimResponse(429, {"error": "RATE_LIMIT_EXCEEDED", "message": "rate limit exceeded"}, headers)

    async def handle(self, request: SimRequest) -> SimResponse:
        if request.method != "GET":
            return _error(405, "NOT_FOUND", f"method {request.method} not allowed")
        if request.path.rstrip("/") == "/v1/fills":
            return self._fills(request)
        routes = {
            "/v1/markets": self._markets,
            "/v1/markets/summary": self._summary,
            "/v1/markets/klines": self._klines,
        }
        handler = routes.get(request.path.rstrip("/"))
        if handler is None:
            return _error(404, "NOT_FOUND", f"{request.path} not found")
        return handler(request)

    def _fills(self, request: SimRequest) -> SimResponse:
        try:
            account = private.authenticate(self.model, request)
            return SimResponse(200, private.fills_page(self.model, account, request.query))
        except private.ParadexPrivateError as exc:
            return exc.response()

    # --- /v1/markets ----------------------------------------------------------------------------

    def _markets(self, request: SimRequest) -> SimResponse:
        rows = [self._perp_row(m) for m in self.listed()] + [self._option_row(o) for o in OPTIONS]
        wanted = request.query.get("market")
        if wanted:
            rows = [r for r in rows if r["symbol"] == wanted]
            if not rows:
                return _error(404, "MARKET_NOT_FOUND", f"market {wanted} not found")
        return SimResponse(200, {"results": rows})

    def _perp_row(self, m: SimMarket) -> dict[str, Any]:
        return {
            "symbol": self.symbol(m),
            "base_currency": m.base,
            "quote_currency": "USD",
            "settlement_currency": "USDC",
            "order_size_increment": "0.001",
            "price_tick_size": "0.1",
            "min_notional": "100",
            "open_at": _ms(_day_start(m.listed)),
            "expiry_at": 0,
            "asset_kind": "PERP",
            "market_kind": "cross",
            "position_limit": "500",
            "price_bands_width": "0.05",
            "max_open_orders": 100,
            "max_funding_rate": "0.05",
            "delta1_cross_margin_params": {
                "imf_base": "0.02",
                "imf_shift": "180000",
                "imf_factor": "0.00007",
                "mmf_factor": "0.5",
            },
            "price_feed_id": "GVXRSBjFk6e6J3NbVPXohDJetcTjaeeuykUpbQF8UoMU",
            "oracle_ewma_factor": "0.2",
            "max_order_size": "100",
            "max_funding_rate_change": "0.0005",
            "max_tob_spread": "0.2",
            "interest_rate": "0.0001",
            "clamp_rate": "0.02",
            "funding_period_hours": 8,
            "tags": [],
        }

    def _option_row(self, option: tuple[str, str, str, str, Decimal]) -> dict[str, Any]:
        base, symbol, kind, strike, _ = option
        return {
            "symbol": symbol,
            "base_currency": base,
            "quote_currency": "USD",
            "settlement_currency": "USDC",
            "order_size_increment": "0.001",
            "price_tick_size": "0.01",
            "min_notional": "100",
            "open_at": _ms(_day_start(self.model.genesis)),
            "expiry_at": 0,
            "asset_kind": "PERP_OPTION",
            "market_kind": "cross",
            "option_type": kind,
            "strike_price": strike,
            "funding_period_hours": 24,
            "tags": [],
        }

    # --- /v1/markets/summary --------------------------------------------------------------------

    def _summary(self, request: SimRequest) -> SimResponse:
        wanted = request.query.get("market")
        if not wanted:
            return _error(400, "VALIDATION_ERROR", "market is required")
        # `start`/`end` (historical summaries) are accepted but not simulated: the connector uses none.
        now = self.model.now()
        rows = [self._perp_summary(m, now) for m in self.listed()]
        rows += [self._option_summary(o, now) for o in OPTIONS]
        if wanted != "ALL":
            rows = [r for r in rows if r["symbol"] == wanted]
            if not rows:
                return _error(400, "MARKET_NOT_FOUND", f"market {wanted} not found")
        return SimResponse(200, {"results": rows})

    def _perp_summary(self, m: SimMarket, now: datetime) -> dict[str, Any]:
        price = _text(self.model.price(m, now))
        return {
            "symbol": self.symbol(m),
            "oracle_price": price,
            "mark_price": price,
            "last_traded_price": price,
            "bid": price,
            "ask": price,
            "volume_24h": _text(self.model.rolling_24h_usd(m)),
            "total_volume": _text(self._total_volume(m)),
            "created_at": _ms(now),
            "underlying_price": price,
            "open_interest": "0",
            "funding_rate": "0.0001",
            "price_change_rate_24h": "0",
        }

    def _option_summary(self, option: tuple[str, str, str, str, Decimal], now: datetime) -> dict[str, Any]:
        _, symbol, _, _, volume = option
        return {
            "symbol": symbol,
            "mark_price": "1234.5",
            "last_traded_price": "1234.5",
            "bid": "1230",
            "ask": "1240",
            "volume_24h": _text(volume),
            "total_volume": _text(volume * 100),
            "created_at": _ms(now),
            "underlying_price": "60000",
            "open_interest": "1.5",
            "funding_rate": "0.0002",
            "price_change_rate_24h": "0",
            "mark_iv": "0.5",
        }

    def _total_volume(self, m: SimMarket) -> Decimal:
        """Lifetime USD volume up to now (full days are cached, today is added fresh)."""
        today = self.model.today()
        key = (m.base, today)
        if key not in self._total_cache:
            day, total = max(m.listed, self.model.genesis), Decimal(0)
            while day < today:
                total += self.model.daily_usd(m, day)
                day += timedelta(days=1)
            self._total_cache[key] = total
        return self._total_cache[key] + self.model.daily_usd(m, today)

    # --- /v1/markets/klines ---------------------------------------------------------------------

    def _klines(self, request: SimRequest) -> SimResponse:
        query = request.query
        missing = [p for p in ("symbol", "resolution", "start_at", "end_at") if not query.get(p)]
        if missing:
            return _error(400, "VALIDATION_ERROR", f"missing required parameter(s): {', '.join(missing)}")
        try:
            minutes = int(query["resolution"])
            start_ms, end_ms = int(query["start_at"]), int(query["end_at"])
        except ValueError:
            return _error(400, "BINDING_ERROR", "resolution, start_at and end_at must be integers")
        if minutes not in RESOLUTIONS:
            return _error(400, "INVALID_REQUEST_PARAMETER", "resolution must be one of 1, 3, 5, 15, 30, 60")
        market = self._by_symbol.get(query["symbol"])
        if market is None:
            return _error(400, "MARKET_NOT_FOUND", f"market {query['symbol']} not found")
        step = minutes * 60_000
        if end_ms < start_ms or (end_ms - start_ms) // step > MAX_CANDLES:
            return _error(400, "INVALID_REQUEST_PARAMETER", "invalid time range")
        return SimResponse(200, {"results": self._candles(market, start_ms, end_ms, step)})

    def _candles(self, m: SimMarket, start_ms: int, end_ms: int, step: int) -> list[list[Any]]:
        now_ms = _ms(self.model.now())
        rows: list[list[Any]] = []
        first = -(-start_ms // step) * step  # candles start on multiples of the resolution
        for t in range(first, min(end_ms, now_ms) + 1, step):
            lo = datetime.fromtimestamp(t / 1000, tz=UTC)
            if not m.trading_on(lo.date()) or lo.date() < self.model.genesis:
                continue  # no candles outside the days the market traded
            hi = min(lo + timedelta(milliseconds=step), self.model.now())
            volume = self.model.usd_between(m, lo, hi)
            open_, close = self.model.price(m, lo), self.model.price(m, hi)
            rows.append([t, open_, max(open_, close), min(open_, close), close, volume])
        return rows
