"""Simulated Hyperliquid info API: `POST /info` with `metaAndAssetCtxs` and `candleSnapshot` bodies.

Shapes follow the HL docs (info-endpoint, info-endpoint/perpetuals), the nktkas/hyperliquid SDK types and
the candle cassette recorded by hyperliquid-dex/hyperliquid-python-sdk: figures are strings, `t`/`T`/`n`
are JSON integers, candles oldest first. Errors as the venue answers them: 429 with the body `null` when
throttled, 422 plain text for a body of the wrong shape, 500 `null` for an unknown coin.
Sim choices (undocumented upstream): only the 1d and 1h intervals are served (1h candles from the model's
hourly volumes, so a full day's 24 hours add up to its 1d candle's USD); a window wider than 5000 candles
answers its first 5000; unknown `dex` answers like an unknown coin.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from email.utils import format_datetime
from typing import Any

from exchanges.sim.accounts import SimFill, accounts_of
from exchanges.sim.app import SimRequest, SimResponse
from exchanges.sim.model import SimMarket, SimModel

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
INTERVAL_MS = {"1d": DAY_MS, "1h": HOUR_MS}  # the intervals the sim serves
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M")
INFO_TYPES = (
    "metaAndAssetCtxs", "candleSnapshot", "meta", "allMids", "l2Book", "perpDexs", "userFillsByTime",
)  # fmt: skip
FILLS_CAP = 2000  # fills per answer (info-endpoint#retrieve-a-users-fills-by-time)
FILLS_SERVED = 10_000  # "Only the 10000 most recent fills are available"
CANDLE_CAP = 5000  # "Only the most recent 5000 candles are available" (info-endpoint#candle-snapshot)
# HL lists these in units of 1000 coins: kPEPE's price is 1000 PEPE's.
THOUSANDS = frozenset({"PEPE", "BONK", "FLOKI", "SHIB"})
FOUR = Decimal(4)


def coin_of(market: SimMarket) -> str:
    return f"k{market.base}" if market.base in THOUSANDS else market.base


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _day_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _text(value: Decimal) -> str:
    """HL writes numbers as decimal strings that always have a fraction: "69483.0", "0.001604"."""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def _sig5(value: Decimal) -> Decimal:
    # Prices have at most 5 significant figures (integers always allowed): HL docs
    # "Tick and lot size".
    if value >= 10_000 or value == 0:
        return value.quantize(Decimal(1), ROUND_HALF_EVEN)
    return value.quantize(Decimal(1).scaleb(value.adjusted() - 4), ROUND_HALF_EVEN)


def _unprocessable(detail: str) -> SimResponse:
    # axum's JSON extractor answers a body of the wrong shape with 422 and this plain-text prefix.
    text = f"Failed to deserialize the JSON body into the target type: {detail}"
    return SimResponse(422, None, raw=text.encode())


class HyperliquidSim:
    venue = "hyperliquid"
    rate = 20.0  # 1200 weight per minute per IP
    burst = 1200.0

    def __init__(self, model: SimModel) -> None:
        self.model = model

    def owns(self, method: str, path: str) -> bool:
        return path == "/info"

    def weight(self, request: SimRequest) -> float:
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("type") in ("l2Book", "allMids"):
            return 2.0
        if body.get("type") != "candleSnapshot":
            return 20.0
        req = body.get("req")
        if not isinstance(req, dict):
            return 20.0
        start, end = req.get("startTime"), req.get("endTime") or _ms(self.model.now())
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            return 20.0
        # +1 per 60 candles returned; the window's candle count stands in for the answer's length.
        step = INTERVAL_MS.get(str(req.get("interval")), DAY_MS)
        return 20.0 + math.ceil(min((end - start) // step + 1, CANDLE_CAP) / 60)

    def throttled(self) -> SimResponse:
        return SimResponse(429, None, self._headers())

    async def handle(self, request: SimRequest) -> SimResponse:
        if request.method != "POST":
            return SimResponse(405, None, raw=b"")
        if request.body is None:
            return SimResponse(400, None, raw=b"Failed to parse the request body as JSON")
        body = request.body
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(body, dict) or kind not in INFO_TYPES:
            return _unprocessable(f"unknown variant `{kind}` at line 1 column 1")
        if kind == "metaAndAssetCtxs":
            return self._meta_and_asset_ctxs(body)
        if kind == "candleSnapshot":
            return self._candle_snapshot(body)
        if kind == "userFillsByTime":
            return self._user_fills(body)
        return _unprocessable(f"simulator does not serve `{kind}`")

    def _headers(self) -> dict[str, str]:
        return {"Date": format_datetime(self.model.now().astimezone(UTC), usegmt=True)}

    # --- metaAndAssetCtxs ---------------------------------------------------------------------

    def _meta_and_asset_ctxs(self, body: dict[str, Any]) -> SimResponse:
        if body.get("dex") not in (None, ""):
            return SimResponse(500, None, self._headers())
        markets = self.model.markets(self.venue)
        universe = [self._universe_entry(m) for m in markets]
        meta = {"universe": universe, "marginTables": _margin_tables(), "collateralToken": 0}
        return SimResponse(200, [meta, [self._context(m) for m in markets]], self._headers())

    def _universe_entry(self, market: SimMarket) -> dict[str, Any]:
        leverage = 3 if market.delisted else (50 if market.daily_scale > 10**9 else 10)
        entry: dict[str, Any] = {
            "szDecimals": self._sz_decimals(market),
            "name": coin_of(market),
            "maxLeverage": leverage,
            "marginTableId": leverage,
        }
        if market.delisted is not None:
            entry.update({"onlyIsolated": True, "isDelisted": True, "marginMode": "strictIsolated"})
        return entry

    def _context(self, market: SimMarket) -> dict[str, Any]:
        now = self.model.now()
        mark = self._px(market, now)
        usd = self.model.rolling_24h_usd(market)
        gone = market.delisted is not None and market.delisted <= now.date()
        return {
            "funding": "0.0" if gone else "0.0000125",
            "openInterest": "0.0" if gone else _text(self._size(market, usd / 3 / mark)),
            "prevDayPx": _text(self._px(market, now - DAY)),
            "dayNtlVlm": _text(usd),
            "premium": None if gone else "0.0",
            "oraclePx": _text(mark),
            "markPx": _text(mark),
            "midPx": None if gone else _text(mark),
            "impactPxs": None if gone else [_text(mark), _text(mark)],
            "dayBaseVlm": _text(self._size(market, usd / mark)),
        }

    # --- candleSnapshot -----------------------------------------------------------------------

    def _candle_snapshot(self, body: dict[str, Any]) -> SimResponse:
        req = body.get("req")
        if not isinstance(req, dict):
            return _unprocessable("missing field `req` at line 1 column 1")
        problem = _candle_request_problem(req)
        if problem:
            return _unprocessable(problem)
        if req["interval"] not in INTERVAL_MS:
            return _unprocessable(f"simulator serves intervals `1d` and `1h` only, not `{req['interval']}`")
        market = next((m for m in self.model.markets(self.venue) if coin_of(m) == req["coin"]), None)
        if market is None:
            return SimResponse(500, None, self._headers())
        end: int = req["endTime"] if req.get("endTime") is not None else _ms(self.model.now())
        if req["interval"] == "1h":
            candles = self._hourly_candles(market, req["startTime"], end)
        else:
            candles = self._daily_candles(market, req["startTime"], end)
        return SimResponse(200, candles[:CANDLE_CAP], self._headers())

    def _daily_candles(self, market: SimMarket, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        today = self.model.today()
        # Candles that overlap [startTime, endTime], among the 5000 most recent ones.
        first = max(_day_of(start_ms), today - timedelta(days=CANDLE_CAP - 1))
        last = min(_day_of(end_ms), today)
        candles: list[dict[str, Any]] = []
        day = first
        while day <= last:
            candle = self._candle(market, day)
            if candle is not None:
                candles.append(candle)
            day += DAY
        return candles

    def _candle(self, market: SimMarket, day: date) -> dict[str, Any] | None:
        usd = self.model.daily_usd(market, day)
        if usd <= 0:
            return None  # no trades, no candle
        opened = _midnight(day)
        closes = min(opened + DAY, self.model.now())
        moments = [opened + HOUR * h for h in range(24) if opened + HOUR * h < closes] + [closes]
        prices = [self._px(market, at) for at in moments]
        o, h, low, c = prices[0], max(prices), min(prices), prices[-1]
        # v is chosen so that v × (o+h+l+c)/4 comes back to the model's USD figure for the day.
        volume = self._size(market, usd * FOUR / (o + h + low + c))
        return {
            "t": _ms(opened),
            "T": _ms(opened + DAY) - 1,
            "s": coin_of(market),
            "i": "1d",
            "o": _text(o),
            "c": _text(c),
            "h": _text(h),
            "l": _text(low),
            "v": _text(volume),
            "n": max(1, int(usd / 5000)),
        }

    def _hourly_candles(self, market: SimMarket, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        now = self.model.now()
        current = now.replace(minute=0, second=0, microsecond=0)
        # Hours that overlap [startTime, endTime], among the 5000 most recent ones (about 208 days).
        hour = max(datetime.fromtimestamp(start_ms // HOUR_MS * 3600, UTC), current - HOUR * (CANDLE_CAP - 1))
        last = min(datetime.fromtimestamp(end_ms // HOUR_MS * 3600, UTC), current)
        candles: list[dict[str, Any]] = []
        while hour <= last:
            candle = self._hour_candle(market, hour, now)
            if candle is not None:
                candles.append(candle)
            hour += HOUR
        return candles

    def _hour_candle(self, market: SimMarket, opened: datetime, now: datetime) -> dict[str, Any] | None:
        # The same volumes the 1d candle adds up: whole hours as the model has them, the running one so far.
        usd = self.model.usd_between(market, opened, opened + HOUR)
        if usd <= 0:
            return None
        closes = min(opened + HOUR, now)
        prices = [self._px(market, opened), self._px(market, opened + (closes - opened) / 2), self._px(market, closes)]
        o, h, low, c = prices[0], max(prices), min(prices), prices[-1]
        volume = self._size(market, usd * FOUR / (o + h + low + c))
        return {
            "t": _ms(opened),
            "T": _ms(opened + HOUR) - 1,
            "s": coin_of(market),
            "i": "1h",
            "o": _text(o),
            "c": _text(c),
            "h": _text(h),
            "l": _text(low),
            "v": _text(volume),
            "n": max(1, int(usd / 500)),
        }

    # --- userFillsByTime (no signature: fills are public by address) -------------------------------

    def _user_fills(self, body: dict[str, Any]) -> SimResponse:
        user, start, end = body.get("user"), body.get("startTime"), body.get("endTime")
        if not isinstance(user, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", user):
            return _unprocessable("user: invalid address at line 1 column 1")
        bad_end = end is not None and not isinstance(end, int)
        if isinstance(start, bool) or not isinstance(start, int) or bad_end:
            return _unprocessable("startTime: invalid type: expected u64")
        end = end if end is not None else _ms(self.model.now())
        account = accounts_of(self.model).get(self.venue, user)
        served = account.sorted_fills()[-FILLS_SERVED:] if account else []
        # The oldest 2000 of the window, in an order the docs leave open: the account says which.
        chosen = [f for f in served if start <= f.ms <= end][:FILLS_CAP]
        if account is not None and account.newest_first:
            chosen.reverse()
        return SimResponse(200, [_fill_json(f) for f in chosen], self._headers())

    # --- units --------------------------------------------------------------------------------

    def _px(self, market: SimMarket, at: datetime) -> Decimal:
        price = self.model.price(market, at) * (1000 if market.base in THOUSANDS else 1)
        return _sig5(price)

    def _sz_decimals(self, market: SimMarket) -> int:
        price = market.base_price * (1000 if market.base in THOUSANDS else 1)
        return max(0, min(5, math.floor(math.log10(price)) + 1))

    def _size(self, market: SimMarket, amount: Decimal) -> Decimal:
        step = Decimal(1).scaleb(-self._sz_decimals(market))
        return amount.quantize(step, ROUND_HALF_EVEN)


def _coin_and_dir(f: SimFill) -> tuple[str, str]:
    """A fill's kind as Hyperliquid's coin and `dir`: spot is `@107`, a builder-DEX perp `flx:BASE`."""
    buy = f.side == "Buy"
    long_or_short = "Long" if buy else "Short"
    if f.kind == "Spot":
        return "@107", "Buy" if buy else "Sell"
    if f.kind == "BuilderDex":
        return f"flx:{f.base}", f"Open {long_or_short}"
    if f.kind == "Liquidation":
        # The liquidated side sells a long or buys back a short.
        return f.base, f"Liquidated {'Cross' if f.ms % 2 else 'Isolated'} {'Short' if buy else 'Long'}"
    direction = {"Adl": "Auto-Deleveraging", "Settlement": "Settlement"}.get(f.kind)
    if direction is None and f.kind != "Trade":
        raise ValueError(f"Hyperliquid has no fill of kind {f.kind}")
    # A buy opens a long or closes a short; a sell the other way round.
    trade = f"Open {long_or_short}" if int(f.fill_id) % 3 else f"Close {'Short' if buy else 'Long'}"
    return f.base, direction or trade


def _fill_json(f: SimFill) -> dict[str, Any]:
    coin, direction = _coin_and_dir(f)
    buy = f.side == "Buy"
    return {
        "closedPnl": "0.0",
        "coin": coin,
        "crossed": True,
        "dir": direction,
        "hash": "0x" + f.fill_id.rjust(64, "0")[-64:],
        "oid": int(f.order_id),
        "px": _text(f.price),
        "side": "B" if buy else "A",
        "startPosition": "0.0",
        "sz": _text(f.qty),
        "time": f.ms,
        "fee": _text((f.price * f.qty * Decimal("0.00045")).quantize(Decimal("0.000001"))),
        "feeToken": "USDC",
        "tid": int(f.fill_id),
    }


def _candle_request_problem(req: dict[str, Any]) -> str:
    for field in ("coin", "interval", "startTime"):
        if field not in req:
            return f"req: missing field `{field}` at line 1 column 1"
    if not isinstance(req["coin"], str):
        return "req.coin: invalid type: expected a string"
    if req["interval"] not in INTERVALS:
        return f"req.interval: unknown variant `{req['interval']}`"
    for field in ("startTime", "endTime"):
        value = req.get(field)
        if field == "endTime" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"req.{field}: invalid type: expected u64"
    return ""


def _margin_tables() -> list[Any]:
    return [
        [lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}] for lev in (50, 10, 3)
    ]
