"""The venue-health document of `/api/exchanges`: per venue, its polls, the one staleness rule
(`core.current_volume.is_fresh`), backfill progress and the days of history stored. Pure functions: the
stored rows in (any objects with the attributes below, e.g. `storage.queries.records`), a typed
JSON-able document out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Protocol, TypedDict

from core.current_volume import is_fresh, iso
from core.exact_days import EstimateError


class PollStatus(Protocol):
    """A venue's poll history (storage.queries.records.VenueStatusRow)."""

    @property
    def exchange(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def last_attempt(self) -> datetime | None: ...
    @property
    def last_success(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def last_error_at(self) -> datetime | None: ...
    @property
    def consecutive_failures(self) -> int: ...
    @property
    def backfill_error(self) -> str | None: ...
    @property
    def backfill_error_at(self) -> datetime | None: ...
    @property
    def backfill_retry_at(self) -> datetime | None: ...


class Progress(Protocol):
    """How far a venue's backfill has got (storage.queries.records.BackfillProgress)."""

    @property
    def markets_total(self) -> int: ...
    @property
    def markets_done(self) -> int: ...
    @property
    def fraction(self) -> float: ...


class Bounds(Protocol):
    """The first and last UTC day stored for a venue (storage.queries.records.DayBounds)."""

    @property
    def first_day(self) -> date: ...
    @property
    def last_day(self) -> date: ...


class Counted(Protocol):
    """Complete UTC days of a venue (storage.queries.dashboard.Completeness)."""

    @property
    def days_complete(self) -> int: ...
    @property
    def days_expected(self) -> int: ...


class CompletenessDoc(TypedDict):
    since: str
    through: str
    days_expected: int
    # Days whose total is stored with every market listed that day: a partial total does not count.
    days_complete: int


class BackfillDoc(TypedDict):
    markets_total: int
    markets_done: int
    fraction: float
    error: str | None  # why the last backfill run failed; None once a run finishes
    error_at: str | None
    retry_at: str | None  # when the failed run is retried


class EstimateErrorDoc(TypedDict):
    """How far the venue's candle estimates were off on the days also made exact from the rolling-24h
    figure at midnight (webapp.views.api.EstimateErrorModel for OpenAPI). Percents as decimal strings."""

    days: int
    median_pct: str
    worst_pct: str
    worst_day: str


class VenueHealthDoc(TypedDict):
    """One venue (webapp.views.api.VenueHealth documents the same shape for OpenAPI)."""

    exchange: str
    label: str
    healthy: bool
    last_attempt: str | None
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    consecutive_failures: int
    backfill: BackfillDoc
    history_first_day: str | None
    history_last_day: str | None
    completeness: CompletenessDoc
    # null until a day has both figures (only estimated venues ever get one).
    estimate_error: EstimateErrorDoc | None


class ExchangesDoc(TypedDict):
    """`/api/exchanges` (webapp.views.api.Exchanges for OpenAPI)."""

    as_of: str | None
    data_mode: str
    stale_seconds: int
    exchanges: list[VenueHealthDoc]


def exchanges_document(
    health: Sequence[PollStatus],
    progress: Mapping[str, Progress],
    bounds: Mapping[str, Bounds],
    *,
    now: datetime,
    data_mode: str,
    stale_seconds: int,
    completeness: Mapping[str, Counted],
    since: date,
    through: date,
    estimate_errors: Mapping[str, EstimateError],
) -> ExchangesDoc:
    venues = [
        venue_health(
            row,
            progress.get(row.exchange),
            bounds.get(row.exchange),
            now,
            stale_seconds,
            completeness_doc(completeness.get(row.exchange), since, through),
            estimate_errors.get(row.exchange),
        )
        for row in health
    ]
    return {"as_of": iso(now), "data_mode": data_mode, "stale_seconds": stale_seconds, "exchanges": venues}


def venue_health(
    row: PollStatus,
    progress: Progress | None,
    bounds: Bounds | None,
    now: datetime,
    stale_seconds: int,
    completeness: CompletenessDoc,
    estimate_error: EstimateError | None = None,
) -> VenueHealthDoc:
    success = row.last_success
    healthy = is_fresh(success, row.last_error, row.last_error_at, now, stale_seconds)
    return {
        "exchange": row.exchange, "label": row.label, "healthy": healthy,
        "last_attempt": iso(row.last_attempt), "last_success": iso(success),
        "last_error": row.last_error, "last_error_at": iso(row.last_error_at),
        "consecutive_failures": row.consecutive_failures,
        "backfill": {
            "markets_total": progress.markets_total if progress else 0,
            "markets_done": progress.markets_done if progress else 0,
            "fraction": round(progress.fraction, 4) if progress else 0.0,
            "error": row.backfill_error,
            "error_at": iso(row.backfill_error_at),
            "retry_at": iso(row.backfill_retry_at),
        },
        "history_first_day": bounds.first_day.isoformat() if bounds else None,
        "history_last_day": bounds.last_day.isoformat() if bounds else None,
        "completeness": completeness,
        "estimate_error": estimate_error_doc(estimate_error),
    }


def estimate_error_doc(error: EstimateError | None) -> EstimateErrorDoc | None:
    if error is None:
        return None
    return {
        "days": error.days,
        "median_pct": str(error.median_pct),
        "worst_pct": str(error.worst_pct),
        "worst_day": error.worst_day.isoformat(),
    }


def completeness_doc(counted: Counted | None, since: date, through: date) -> CompletenessDoc:
    return {
        "since": since.isoformat(),
        "through": through.isoformat(),
        "days_expected": counted.days_expected if counted else (through - since).days + 1,
        "days_complete": counted.days_complete if counted else 0,
    }
