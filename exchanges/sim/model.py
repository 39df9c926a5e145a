"""Deterministic synthetic markets, prices and volumes shared by every simulated venue.

The same seed gives the same markets and the same history everywhere, so tests can assert exact
totals. Volume is defined per UTC day (hashed from seed, venue, symbol and day) and spread over the
day's hours by a fixed intraday shape, so that an hourly candle, a daily candle and a rolling-24h
figure are all sums of the same hourly amounts: they agree to the cent.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

CENT = Decimal("0.01")
# A venue clock offset injected by the simulator's `skew` fault, per request (contextvars follow tasks).
_SKEW: ContextVar[timedelta] = ContextVar("sim_clock_skew", default=timedelta(0))
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

TICKERS = (
    "BTC ETH SOL XRP DOGE BNB ADA AVAX LINK TON TRX DOT SUI LTC BCH NEAR APT UNI PEPE WIF ARB OP ATOM "
    "FIL INJ SEI TIA RNDR FET STX IMX HBAR ETC AAVE MKR LDO ORDI JUP PYTH ENA WLD BONK FLOKI SHIB "
    "GALA SAND MANA AXS APE CRV SNX COMP DYDX GMX BLUR JTO STRK ZRO ZK EIGEN ONDO TAO KAS ICP ALGO "
    "XLM VET EGLD FLOW THETA CHZ ENS RUNE KAVA ROSE CFX MINA ZIL IOTA NEO QTUM ONE CELO ANKR BAT "
    "ZEC DASH XMR KSM GRT LRC YFI SUSHI 1INCH BAL ZRX UMA BAND OCEAN AGIX ARKM ID CYBER MAV ACE "
    "XAI MANTA ALT PIXEL PORTAL AEVO ETHFI BOME W TNSR SAGA REZ NOT IO ZETA LISTA POPCAT MEW "
    "GOAT PNUT MOODENG HYPE VIRTUAL AI16Z TRUMP MELANIA BERA IP KAITO S PENGU ME MOVE USUAL"
).split()


@dataclass(frozen=True, slots=True)
class SimMarket:
    venue: str
    base: str
    kind: str  # "linear" | "inverse"
    quote: str  # "USDT", "USDC" or "USD" (inverse)
    listed: date
    delisted: date | None
    base_price: Decimal
    daily_scale: Decimal  # typical USD volume of a day

    def trading_on(self, day: date) -> bool:
        return self.listed <= day and (self.delisted is None or day < self.delisted)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# Share of a day's volume traded in each UTC hour: busier in US/EU hours, never zero.
_SHAPE_RAW = [1.0 + 0.6 * math.sin((h - 8) / 24 * 2 * math.pi) for h in range(24)]
_SHAPE = [Decimal(str(round(w / sum(_SHAPE_RAW), 6))) for w in _SHAPE_RAW[:23]]
_SHAPE.append(Decimal(1) - sum(_SHAPE))


@dataclass(frozen=True, slots=True)
class VenueShape:
    venue: str
    active: int
    delisted: int
    inverse: int
    quote: str
    scale: Decimal  # USD volume of the biggest market per day


VENUES = {
    "bybit": VenueShape("bybit", 140, 12, 10, "USDT", Decimal("9000000000")),
    "woox": VenueShape("woox", 60, 6, 0, "USDT", Decimal("600000000")),
    "hyperliquid": VenueShape("hyperliquid", 110, 10, 0, "USDC", Decimal("5000000000")),
    "paradex": VenueShape("paradex", 45, 5, 0, "USD", Decimal("400000000")),
}


class SimModel:
    """All synthetic facts; `now` is injectable so tests can pin the clock."""

    def __init__(
        self,
        seed: int = 1,
        *,
        now: Callable[[], datetime] | None = None,
        history_days: int = 800,
        scale: float = 1.0,
    ) -> None:
        self.seed = seed
        self._now = now or (lambda: datetime.now(UTC))
        self.history_days = history_days
        self.scale = scale
        self._markets = {venue: self._make_markets(shape) for venue, shape in VENUES.items()}

    def now(self) -> datetime:
        return self._now() + _SKEW.get()

    @contextlib.contextmanager
    def skewed(self, ms: int) -> Iterator[None]:
        """Within this block (this request's task only), the venue's clock is off by `ms`."""
        token = _SKEW.set(timedelta(milliseconds=ms))
        try:
            yield
        finally:
            _SKEW.reset(token)

    def today(self) -> date:
        return self.now().date()

    @property
    def genesis(self) -> date:
        """The first day of simulated history."""
        return self.today() - timedelta(days=self.history_days)

    def markets(self, venue: str) -> list[SimMarket]:
        return self._markets[venue]

    def _make_markets(self, shape: VenueShape) -> list[SimMarket]:
        count = max(1, round(shape.active * self.scale))
        delisted = max(1, round(shape.delisted * self.scale))
        markets: list[SimMarket] = []
        start = self.today() - timedelta(days=self.history_days + 400)
        for i in range(count + delisted):
            base = TICKERS[i] if i < len(TICKERS) else f"SIM{i}"
            r = _unit(self.seed, shape.venue, base)
            # Older listings for the big names; a few markets listed within the simulated history.
            listed = start + timedelta(days=int(max(0, i - 20) * 9 * r))
            gone = None
            if i >= count:
                gone = self.today() - timedelta(days=int(30 + 600 * _unit(self.seed, shape.venue, base, "d")))
                listed = min(listed, gone - timedelta(days=60))
            price = _sig(Decimal(repr(60000 * (0.5 ** (i / 10.0)) * (0.6 + r))), 8)
            size = shape.scale * Decimal(str(round(0.72 ** min(i, 40) * (0.5 + r) + 0.0001, 6)))
            markets.append(SimMarket(shape.venue, base, "linear", shape.quote, listed, gone, price, size))
        for j in range(round(shape.inverse * self.scale)):
            base = TICKERS[j]
            markets.append(
                SimMarket(
                    shape.venue,
                    base,
                    "inverse",
                    "USD",
                    start,
                    None,
                    markets[j].base_price,
                    markets[j].daily_scale / 8,
                )
            )
        return markets

    # --- prices -------------------------------------------------------------------------------

    def price(self, market: SimMarket, at: datetime) -> Decimal:
        """A smooth, bounded price path: sums of slow and fast sines with per-market phases."""
        t = at.timestamp() / 86400
        ph = _unit(self.seed, market.venue, market.base, "phase") * 2 * math.pi
        factor = (
            1 + 0.35 * math.sin(t / 90 + ph) + 0.08 * math.sin(t / 7 + 2 * ph) + 0.01 * math.sin(t * 24 + ph)
        )
        return _sig(market.base_price * Decimal(str(round(factor, 9))))

    # --- volumes ------------------------------------------------------------------------------

    def daily_usd(self, market: SimMarket, day: date) -> Decimal:
        """USD volume of the whole UTC day (for today: the hours that have passed, pro rata)."""
        now = self.now()
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if start >= now:
            return Decimal(0)
        if start + DAY <= now:
            return self._full_day(market, day)
        return self.usd_between(market, start, now)

    def hourly_usd(self, market: SimMarket, hour_start: datetime) -> Decimal:
        """USD volume of one whole UTC hour."""
        day = hour_start.date()
        if not market.trading_on(day) or day < self.genesis:
            return Decimal(0)
        return (_day_raw(self.seed, market, day) * _SHAPE[hour_start.hour]).quantize(CENT, ROUND_HALF_EVEN)

    def usd_between(self, market: SimMarket, start: datetime, end: datetime) -> Decimal:
        """USD volume traded in [start, end), never past now: whole hours plus pro-rata edges."""
        end = min(end, self.now())
        total = Decimal(0)
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour < end:
            lo, hi = max(hour, start), min(hour + HOUR, end)
            amount = self.hourly_usd(market, hour)
            if hi - lo < HOUR:
                fraction = Decimal((hi - lo).total_seconds()) / Decimal(3600)
                amount = (amount * fraction).quantize(CENT, ROUND_HALF_EVEN)
            total += amount
            hour += HOUR
        return total

    def rolling_24h_usd(self, market: SimMarket) -> Decimal:
        now = self.now()
        return self.usd_between(market, now - DAY, now)

    def _full_day(self, market: SimMarket, day: date) -> Decimal:
        if not market.trading_on(day) or day < self.genesis:
            return Decimal(0)
        # The 24 hourly amounts are rounded to cents first; the day is their exact sum.
        return _day_hours_sum(self.seed, market, day)


@lru_cache(maxsize=200_000)
def _day_raw(seed: int, market: SimMarket, day: date) -> Decimal:
    t = day.toordinal()
    ph = _unit(seed, market.venue, market.base, "vol") * 2 * math.pi
    trend = 1 + 0.4 * math.sin(t / 120 + ph)
    weekly = 0.85 if day.weekday() >= 5 else 1.0
    noise = 0.6 + 0.8 * _unit(seed, market.venue, market.base, market.kind, t)
    return (market.daily_scale * Decimal(str(round(trend * weekly * noise, 6)))).quantize(CENT)


@lru_cache(maxsize=200_000)
def _day_hours_sum(seed: int, market: SimMarket, day: date) -> Decimal:
    raw = _day_raw(seed, market, day)
    return sum(((raw * w).quantize(CENT, ROUND_HALF_EVEN) for w in _SHAPE), Decimal(0))


def _sig(value: Decimal, digits: int = 6) -> Decimal:
    if value == 0:
        return value
    exp = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exp)).normalize()
