"""The one connector interface every venue implements, and the records it returns.

Every figure is USD notional taken from the venue's own field (USDT/USDC count as USD) and carries
where it came from (`source`: endpoint, field, unit) and whether it had to be derived (`estimated`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from core.records import (
    EXCHANGES,
    CurrentSnapshot,
    DailyVolume,
    Exchange,
    Market,
    MarketKind,
    MarketStatus,
    MarketVolume,
    Window,
)
from core.venues import VENUES
from exchanges.errors import PartialAnswerError
from exchanges.http import VenueClient

# Re-exported: connectors build these records; their definitions are shared with storage.
__all__ = [
    "EXCHANGES",
    "Connector",
    "CurrentSnapshot",
    "DailyVolume",
    "Exchange",
    "Market",
    "MarketKind",
    "MarketStatus",
    "MarketVolume",
    "Source",
    "VenueInfo",
    "Window",
    "as_decimal",
    "ms_from_date",
    "utc_from_ms",
]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a figure is read: the request as the README's "where every number comes from" table writes
    it, and the venue's fields that make the figure (tests/test_docs.py checks the README and the
    `source` texts name both)."""

    request: str
    fields: tuple[str, ...]

    @property
    def endpoint(self) -> str:
        """Method and path, without query or body: `GET /v5/market/kline`."""
        return self.request.split("?")[0].split(" {")[0]


@dataclass(frozen=True, slots=True)
class VenueInfo:
    """Static facts about a venue, shown on status pages and in `source` texts."""

    name: Exchange
    current_source: str
    history_source: str
    current_from: Source
    history_from: Source
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return VENUES[self.name].label


class Connector(abc.ABC):
    """A thin, typed translation of one venue's public API into the records above."""

    name: ClassVar[Exchange]
    info: ClassVar[VenueInfo]
    # Days of history one `fetch_daily` call should cover during a backfill: about what one request
    # returns, so a resumable chunk costs one request and a crash loses at most one.
    backfill_chunk_days: ClassVar[int] = 180

    def __init__(self, client: VenueClient) -> None:
        self.client = client
        # Symbols of the last complete current answer: the markets the venue "listed a moment ago".
        self._answered: set[str] | None = None

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

    async def check_complete(self, endpoint: str, answered: set[str]) -> None:
        """Refuse a current answer that lacks markets the venue listed a moment ago and has not
        delisted (HTTP 200, valid JSON, half the markets: it must never be summed as a total).

        Markets missing against the previous answer (on the first poll: the markets `expect`ed, e.g.
        the stored registry) are checked once more against a fresh listing, so a real delisting is
        accepted at once.
        """
        expected = self._answered if self._answered is not None else answered
        missing = expected - answered
        if missing:
            missing &= await self.confirm_listed(missing)
        if missing:
            raise PartialAnswerError(self.name, endpoint, missing, len(expected))
        self._answered = set(answered)

    @property
    def expects(self) -> bool:
        """Whether this connector knows which markets a whole answer holds."""
        return self._answered is not None

    def expect(self, symbols: set[str]) -> None:
        """Markets known to trade before this process's first answer (a restart during a partial
        answer must not take the half for the whole)."""
        if self._answered is None and symbols:
            self._answered = set(symbols)

    async def trading_symbols(self) -> set[str]:
        """The perps the venue lists as trading now (a fresh listing)."""
        return {m.symbol for m in await self.list_markets() if m.status == "trading"}

    async def confirm_listed(self, symbols: set[str]) -> set[str]:
        """Which of `symbols` the venue still lists as trading: the rest were delisted meanwhile."""
        return symbols & await self.trading_symbols()

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
