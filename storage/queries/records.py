"""Frozen rows returned by `storage.queries.*`: money as Decimal, times as aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from core.records import Exchange, Market, MarketKind, MarketStatus


@dataclass(frozen=True, slots=True)
class MarketRow:
    exchange: str
    symbol: str
    kind: str
    status: str
    base: str
    quote: str
    extra: dict[str, str]
    first_seen: datetime
    last_seen: datetime
    delisted_at: datetime | None

    def to_market(self) -> Market:
        # JSONB does not keep key order, so extra comes back sorted by key.
        return Market(
            exchange=cast(Exchange, self.exchange),
            symbol=self.symbol,
            kind=cast(MarketKind, self.kind),
            status=cast(MarketStatus, self.status),
            base=self.base,
            quote=self.quote,
            extra=tuple(sorted(self.extra.items())),
        )


@dataclass(frozen=True, slots=True)
class VenueDay:
    """One venue's USD volume over one UTC day, summed from its market rows."""

    exchange: str
    day: date
    volume_usd: Decimal
    markets: int
    estimated: bool
    complete: bool


@dataclass(frozen=True, slots=True)
class MarketDay:
    exchange: str
    symbol: str
    day: date
    volume_usd: Decimal
    source: str
    estimated: bool
    complete: bool
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class DayBounds:
    exchange: str
    first_day: date
    last_day: date


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A venue's rolling-24h total as of the venue's own time (`as_of`)."""

    id: int
    exchange: str
    as_of: datetime
    taken_at: datetime
    volume_usd: Decimal
    markets: int
    estimated: bool
    source: str
    time_window: str
    as_of_note: str | None = None


@dataclass(frozen=True, slots=True)
class CurrentMarketRow:
    exchange: str
    symbol: str
    volume_usd: Decimal
    estimated: bool
    as_of: datetime
    # From the market list; None when the market list has not been fetched yet.
    base: str | None
    quote: str | None


@dataclass(frozen=True, slots=True)
class VenueStatusRow:
    exchange: str
    label: str
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    backfill_error: str | None = None
    backfill_error_at: datetime | None = None
    backfill_retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    exchange: str
    symbol: str
    job: str
    target_start: date
    done_through: date
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """How far one venue's backfill has got; `fraction` weighs markets by days stored (0..1)."""

    exchange: str
    markets_total: int
    markets_done: int
    fraction: float


RowT = TypeVar("RowT")


def from_record(cls: type[RowT], record: Any) -> RowT:
    """Build a row dataclass from an asyncpg Record whose columns are named like its fields."""
    return cls(**dict(record.items()))
