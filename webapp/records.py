"""The records that flow from the exchanges through the workers into storage: what a venue reported,
typed and frozen. Money is Decimal (USD notional; USDT/USDC count as USD), time is aware UTC.

They live in `webapp` because storage (webapp/queries) writes them and the web app must not import the
workers; the connectors in workers/exchanges produce them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

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
