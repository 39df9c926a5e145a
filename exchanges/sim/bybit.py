"""Simulated Bybit V5 public market data: instruments-info, tickers and daily klines under /v5/.

Shapes follow https://bybit-exchange.github.io/docs/v5/market/{instrument,tickers,kline}: every value
is a string, `retCode`/`time` are JSON numbers, klines come newest first. Linear perps are `BASEUSDT`,
inverse perps `BASEUSD`; one dated future per category shows that perps must be told apart by
`contractType`. Messages of parameter errors are the simulator's own wording (Bybit's are not all
documented); `Not supported symbols` and `Too many visits!` are Bybit's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import quote

from exchanges.sim import bybit_private as private
from exchanges.sim.app import SimRequest, SimResponse
from exchanges.sim.model import SimMarket, SimModel

DAY = timedelta(days=1)
DAY_MS = 86_400_000
MIN_PRICE = Decimal("0.00000001")
STATUSES = ("Trading", "PreLaunch", "Delivering", "Closed")
INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
_CURSOR = re.compile(r"^first=([A-Z0-9-]+)&last=([A-Z0-9-]+)$")
_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_FUTURE_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
# Bybit lists low-priced coins in scaled units (1000PEPEUSDT with baseCoin 1000PEPE, SHIB1000USDT):
# so does the simulator, priced per unit, so that asset mapping meets them.
SCALED = {"PEPE": ("1000PEPE", 1000), "BONK": ("1000BONK", 1000), "FLOKI": ("1000FLOKI", 1000),
          "SHIB": ("SHIB1000", 1000)}


def coin_of(market: SimMarket) -> str:
    """Bybit's baseCoin of a simulated market (scaled for the coins above, on linear markets)."""
    return SCALED[market.base][0] if market.kind == "linear" and market.base in SCALED else market.base


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    category: str  # "linear" | "inverse"
    contract: str  # LinearPerpetual, InversePerpetual, LinearFutures, InverseFutures
    market: SimMarket
    delivery: date | None  # expiry of a dated future, or delisting day of a perp

    def status(self, today: date) -> str:
        return "Closed" if self.delivery is not None and self.delivery <= today else "Trading"


class BybitError(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code, self.message = code, message


class BybitSim:
    venue = "bybit"

    def __init__(self, model: SimModel) -> None:
        self.model = model
        # 600 requests per 5 s per IP (https://bybit-exchange.github.io/docs/v5/rate-limit).
        self.rate = 120.0
        self.burst = 600.0
        self._instruments = self._make_instruments()

    def owns(self, method: str, path: str) -> bool:
        return path.startswith("/v5/")

    def weight(self, request: SimRequest) -> float:
        return 1.0

    def throttled(self) -> SimResponse:
        # The per-second limit answers inside HTTP 200; the reset header says when to come back.
        now = self._now_ms()
        headers = {
            "X-Bapi-Limit": str(int(self.rate)),
            "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit-Reset-Timestamp": str(now + math.ceil(1000 / self.rate)),
        }
        return SimResponse(200, self._envelope(10006, "Too many visits!", {}), headers)

    async def handle(self, request: SimRequest) -> SimResponse:
        if request.path in private.PATHS and request.method == "GET":
            return self._private(request)
        routes = {
            "/v5/market/instruments-info": self._instruments_info,
            "/v5/market/tickers": self._tickers,
            "/v5/market/kline": self._kline,
        }
        route = routes.get(request.path)
        if route is None or request.method != "GET":
            return SimResponse(404, None, raw=b"404 page not found")
        try:
            return SimResponse(200, self._envelope(0, "OK", route(request.query)))
        except BybitError as exc:
            return SimResponse(200, self._envelope(exc.code, exc.message, {}))

    def _private(self, request: SimRequest) -> SimResponse:
        try:
            account = private.authenticate(self.model, request)
            if request.path == "/v5/user/query-api":
                result = private.api_key_info(self.model, account)
            else:
                pre_upgrade = request.path.startswith("/v5/pre-upgrade/")
                result = private.executions(self.model, account, request.query, pre_upgrade)
        except private.BybitPrivateError as exc:
            return SimResponse(200, self._envelope(exc.code, exc.message, {}))
        return SimResponse(200, self._envelope(0, "OK", result))

    # --- endpoints ---------------------------------------------------------------------------------

    def _instruments_info(self, query: Any) -> dict[str, Any]:
        category = _category(query.get("category"), required=True)
        status = query.get("status") or "Trading"
        if status not in STATUSES:
            raise BybitError(10001, "params error: status invalid")
        limit = _int_param(query, "limit", 500, 1, 1000)
        today = self.model.today()
        chosen = [
            i for i in self._instruments if i.category == category and i.status(today) == status
        ]
        after = ""
        if query.get("cursor"):
            match = _CURSOR.match(query["cursor"])
            if match is None:
                raise BybitError(10001, "params error: cursor invalid")
            after = match.group(2)
        page = [i for i in chosen if i.symbol > after][:limit]
        more = bool(page) and page[-1].symbol < chosen[-1].symbol
        cursor = quote(f"first={page[0].symbol}&last={page[-1].symbol}", safe="") if more else ""
        items = [self._instrument_json(i, today) for i in page]
        return {"category": category, "list": items, "nextPageCursor": cursor}

    def _tickers(self, query: Any) -> dict[str, Any]:
        category = _category(query.get("category"), required=True)
        symbol = query.get("symbol")
        today = self.model.today()
        chosen = [
            i
            for i in self._instruments
            if i.category == category and i.status(today) == "Trading" and symbol in (None, i.symbol)
        ]
        if symbol is not None and not chosen:
            raise BybitError(10001, "Not supported symbols")
        return {"category": category, "list": [self._ticker_json(i) for i in chosen]}

    def _kline(self, query: Any) -> dict[str, Any]:
        category = _category(query.get("category"), required=False)
        symbol = query.get("symbol")
        if not symbol:
            raise BybitError(10001, "params error: symbol is required")
        if query.get("interval") not in INTERVALS:
            raise BybitError(10001, "params error: interval invalid")
        if query["interval"] != "D":
            raise BybitError(10001, "params error: the simulator serves interval=D only")
        limit = _int_param(query, "limit", 200, 1, 1000)
        start = _int_param(query, "start", 0, 0, 10**14)
        end = _int_param(query, "end", self._now_ms(), 0, 10**14)
        instrument = self._find(category, symbol)
        days = self._candle_days(instrument.market, start, end, limit)
        rows = [self._candle(instrument, day) for day in days]
        return {"symbol": symbol, "category": category, "list": rows}

    # --- instruments -------------------------------------------------------------------------------

    def _make_instruments(self) -> list[Instrument]:
        instruments: list[Instrument] = []
        for m in self.model.markets("bybit"):
            linear = m.kind == "linear"
            symbol = f"{coin_of(m)}{m.quote}" if linear else f"{m.base}USD"
            contract = "LinearPerpetual" if linear else "InversePerpetual"
            category = "linear" if linear else "inverse"
            instruments.append(Instrument(symbol, category, contract, m, m.delisted))
        btc = next(i.market for i in instruments if i.symbol == "BTCUSDT")
        expiry = _quarterly_expiry(self.model.today())
        yy = expiry.strftime("%y")
        usdc_future = f"BTC-{expiry.day:02d}{_MONTHS[expiry.month - 1]}{yy}"
        inverse_future = f"BTCUSD{_FUTURE_CODES[expiry.month]}{yy}"
        instruments.append(Instrument(usdc_future, "linear", "LinearFutures", btc, expiry))
        instruments.append(Instrument(inverse_future, "inverse", "InverseFutures", btc, expiry))
        return sorted(instruments, key=lambda i: (i.category, i.symbol))

    def _find(self, category: str, symbol: str) -> Instrument:
        for instrument in self._instruments:
            if instrument.category == category and instrument.symbol == symbol:
                return instrument
        raise BybitError(10001, "Not supported symbols")

    def _instrument_json(self, i: Instrument, today: date) -> dict[str, Any]:
        m = i.market
        linear = i.category == "linear"
        perpetual = i.contract.endswith("Perpetual")
        return {
            "symbol": i.symbol,
            "contractType": i.contract,
            "status": i.status(today),
            "baseCoin": coin_of(m),
            "quoteCoin": m.quote if linear and perpetual else ("USDC" if linear else "USD"),
            "launchTime": str(_ms(m.listed)),
            "deliveryTime": str(_ms(i.delivery)) if i.delivery else "0",
            "deliveryFeeRate": "" if perpetual else "0.0005",
            "priceScale": "2",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
            "lotSizeFilter": {
                "maxOrderQty": "1190.000",
                "minOrderQty": "0.001",
                "qtyStep": "0.001",
                "postOnlyMaxOrderQty": "1190.000",
                "maxMktOrderQty": "500.000",
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480 if perpetual else 0,
            "settleCoin": m.quote if linear and perpetual else ("USDC" if linear else m.base),
            "copyTrading": "both" if perpetual else "none",
            "upperFundingRate": "0.00375",
            "lowerFundingRate": "-0.00375",
            "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": "",
        }

    # --- tickers -----------------------------------------------------------------------------------

    def _ticker_json(self, i: Instrument) -> dict[str, Any]:
        now = self.model.now()
        price = self._price(i.market, now)
        before = self._price(i.market, now - DAY)
        usd = self._rolling_usd(i)
        base = usd / price
        if i.category == "linear":
            turnover, volume = _s(usd), _s(base.quantize(Decimal("0.001"), ROUND_HALF_EVEN))
        else:
            turnover, volume = _s(base.quantize(Decimal("0.0001"))), _s(usd.quantize(Decimal("0.0001")))
        perpetual = i.contract.endswith("Perpetual")
        return {
            "symbol": i.symbol,
            "lastPrice": _s(price),
            "indexPrice": _s(price),
            "markPrice": _s(price),
            "prevPrice24h": _s(before),
            "price24hPcnt": _s(((price - before) / before).quantize(Decimal("0.000001"))),
            "highPrice24h": _s(max(price, before)),
            "lowPrice24h": _s(min(price, before)),
            "prevPrice1h": _s(self._price(i.market, now - timedelta(hours=1))),
            "openInterest": _s((base / 4).quantize(Decimal("0.001"))),
            "openInterestValue": _s((usd / 4).quantize(Decimal("0.01"))),
            "turnover24h": turnover,
            "volume24h": volume,
            "fundingRate": "0.0001" if perpetual else "",
            "nextFundingTime": str(_next_funding_ms(now)) if perpetual else "",
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "" if perpetual else "0.0005",
            "deliveryTime": "0" if perpetual or i.delivery is None else str(_ms(i.delivery)),
            "ask1Size": "1.5",
            "bid1Price": _s(price),
            "ask1Price": _s(price),
            "bid1Size": "2.1",
            "basis": "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
            "fundingIntervalHour": "8" if perpetual else "",
            "basisRateYear": "",
            "fundingCap": "0.005" if perpetual else "",
        }

    def _rolling_usd(self, i: Instrument) -> Decimal:
        usd = self.model.rolling_24h_usd(i.market)
        # The dated futures borrow BTC's path at a twentieth of its size; the model knows only perps.
        return usd if i.contract.endswith("Perpetual") else (usd / 20).quantize(Decimal("0.01"))

    # --- klines ------------------------------------------------------------------------------------

    def _candle_days(self, m: SimMarket, start: int, end: int, limit: int) -> list[date]:
        """Days whose candle starts within [start, end], newest first, the newest `limit` of them."""
        first = max(m.listed, self.model.genesis)
        last = self.model.today() if m.delisted is None else min(self.model.today(), m.delisted - DAY)
        lo = max(first, _day_from_ms(start + DAY_MS - 1))  # first candle start >= start
        hi = min(last, _day_from_ms(end))
        count = min(limit, (hi - lo).days + 1)
        return [hi - timedelta(days=n) for n in range(max(0, count))]

    def _candle(self, i: Instrument, day: date) -> list[str]:
        opened = datetime(day.year, day.month, day.day, tzinfo=UTC)
        closed = min(opened + DAY, self.model.now())
        o, c = self._price(i.market, opened), self._price(i.market, closed)
        usd = self.model.daily_usd(i.market, day)
        base = usd / ((o + c) / 2)
        if i.category == "linear":
            volume, turnover = base.quantize(Decimal("0.001"), ROUND_HALF_EVEN), usd
        else:
            volume, turnover = usd, base.quantize(Decimal("0.00000001"), ROUND_HALF_EVEN)
        high, low = max(o, c), min(o, c)
        return [str(_ms(day)), _s(o), _s(high), _s(low), _s(c), _s(volume), _s(turnover)]

    # --- helpers -----------------------------------------------------------------------------------

    def _price(self, m: SimMarket, at: datetime) -> Decimal:
        # The model's smallest base prices round to 0 at 8 decimals; Bybit never quotes a zero price.
        scale = SCALED[m.base][1] if m.kind == "linear" and m.base in SCALED else 1
        return max(self.model.price(m, at) * scale, MIN_PRICE)

    def _now_ms(self) -> int:
        return int(self.model.now().timestamp() * 1000)

    def _envelope(self, code: int, message: str, result: Any) -> dict[str, Any]:
        time_ms = self._now_ms()
        return {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {}, "time": time_ms}


def _category(value: str | None, *, required: bool) -> str:
    # Kline defaults to linear when category is absent (docs v5/market/kline); the others require it.
    if value is None and not required:
        return "linear"
    if value not in ("linear", "inverse"):
        raise BybitError(10001, "Illegal category")
    return value


def _int_param(query: Any, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not str(raw).isdigit() or not low <= int(raw) <= high:
        raise BybitError(10001, f"params error: {name} invalid")
    return int(raw)


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _day_from_ms(ms: int) -> date:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).date()


def _next_funding_ms(now: datetime) -> int:
    slot = (now.hour // 8 + 1) * 8
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return int((start + timedelta(hours=slot)).timestamp() * 1000)


def _quarterly_expiry(today: date) -> date:
    """The last Friday of the next quarter-end month (Bybit's quarterly futures expire on it)."""
    month = ((today.month - 1) // 3 + 1) * 3
    year = today.year
    while True:
        following = date(year + (month == 12), month % 12 + 1, 1)
        last = following - DAY
        friday = last - timedelta(days=(last.weekday() - 4) % 7)
        if friday > today:
            return friday
        month, year = (month + 3, year) if month < 12 else (3, year + 1)


def _s(value: Decimal) -> str:
    return format(value, "f")
