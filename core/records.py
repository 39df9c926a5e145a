"""The records that flow from the exchanges through the workers into storage: what a venue reported,
typed and frozen. Money is Decimal (USD notional; USDT/USDC count as USD), time is aware UTC.

They live in `core` because the connectors (`exchanges`, including the private clients' `Fill`) produce
them and storage (`storage.queries`) writes them, and neither layer imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, get_args

# The venues, in display order. A Literal so that mypy checks every venue name; core/venues.py holds
# each venue's facts and a test checks that the two agree.
Exchange = Literal["bybit", "woox", "hyperliquid", "paradex"]
EXCHANGES: tuple[Exchange, ...] = get_args(Exchange)

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
class Fill:
    """One perp fill of the user: USD notional from the venue's own fields."""

    fill_id: str
    symbol: str
    executed_at: datetime
    notional_usd: Decimal
