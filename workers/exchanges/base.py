"""The one connector interface every venue implements, and the records it returns.

Every figure is USD notional taken from the venue's own field (USDT/USDC count as USD) and carries
where it came from (`source`: endpoint, field, unit) and whether it had to be derived (`estimated`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from workers.exchanges.http import VenueClient

Exchange = Literal["bybit", "woox", "hyperliquid", "paradex"]
EXCHANGES: tuple[Exchange, ...] = ("bybit", "woox", "hyperliquid", "paradex")

MarketKind = Literal["linear", "inverse"]
MarketStatus = Literal["trading", "delisted", "pending", "suspended"]
Window = Literal["rolling_24h", "utc_day"]


@dataclass(frozen=True, slots=True)
class Market:
    """A perpetual market as the venue names it."""

    exchange: Exchange
    symbol: str
    kind: MarketKind
    status: MarketStatus
    base: str
    quote: str
    # Venue-specific facts a connector needs later (e.g. Bybit's category); never shown to users.
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return dict(self.extra).get(key, default)


@dataclass(frozen=True, slots=True)
class MarketVolume:
    symbol: str
    volume_usd: Decimal
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class CurrentSnapshot:
    """Rolling-24h USD volume of every perp market of one venue, as of the venue's own time."""

    exchange: Exchange
    as_of: datetime
    source: str
    markets: tuple[MarketVolume, ...]
    window: Window = "rolling_24h"

    @property
    def total_usd(self) -> Decimal:
        return sum((m.volume_usd for m in self.markets), Decimal(0))

    @property
    def estimated(self) -> bool:
        return any(m.estimated for m in self.markets)


@dataclass(frozen=True, slots=True)
class DailyVolume:
    """USD volume of one market over one UTC calendar day."""

    exchange: Exchange
    symbol: str
    day: date
    volume_usd: Decimal
    source: str
    estimated: bool = False
    # False while the day is still running (the venue's newest candle is open).
    complete: bool = True


@dataclass(frozen=True, slots=True)
class VenueInfo:
    """Static facts about a venue, shown on status pages and in `source` texts."""

    name: Exchange
    label: str
    current_source: str
    history_source: str
    notes: tuple[str, ...] = field(default_factory=tuple)


class Connector(abc.ABC):
    """A thin, typed translation of one venue's public API into the records above."""

    name: ClassVar[Exchange]
    info: ClassVar[VenueInfo]
    # Days of history one `fetch_daily` call should cover during a backfill: about what one request
    # returns, so a resumable chunk costs one request and a crash loses at most one.
    backfill_chunk_days: ClassVar[int] = 180

    def __init__(self, client: VenueClient) -> None:
        self.client = client

    @abc.abstractmethod
    async def list_markets(self) -> list[Market]:
        """Every perpetual market the venue lists now, delisted ones included where it says so."""

    @abc.abstractmethod
    async def fetch_current(self) -> CurrentSnapshot:
        """Rolling-24h USD volume of every perpetual market."""

    @abc.abstractmethod
    async def fetch_daily(self, market: Market, start: date, end: date) -> list[DailyVolume]:
        """USD volume per UTC day of `market` for start..end inclusive, oldest first.

        Days without trading may be absent; days before the market existed are absent.
        """

    async def aclose(self) -> None:
        await self.client.aclose()


def utc_from_ms(ms: int | str | float) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def ms_from_date(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def as_decimal(value: Any) -> Decimal:
    """Decimal from a venue's JSON value without passing through float rounding of strings."""
    if isinstance(value, bool):
        raise TypeError("boolean is not a number")
    if isinstance(value, (int, str)):
        return Decimal(value)
    if isinstance(value, float):
        # VenueClient parses JSON numbers as Decimal; a float can only come from elsewhere.
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    raise TypeError(f"not a number: {type(value).__name__}")
