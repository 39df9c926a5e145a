"""The whole historical-volume document of `/api/volume/historical` and `/api/assets/{asset}/historical`:
the periods of `core.history` with the range, window, source and each venue's stored days around them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Literal, TypedDict

from core.health import Bounds
from core.history import HISTORY_SOURCE, PeriodDoc

if TYPE_CHECKING:
    from core.settings import Settings


class StoredHistoryDoc(TypedDict):
    exchange: str
    first_day: str | None
    last_day: str | None


class HistoricalDoc(TypedDict):
    """`/api/volume/historical` (webapp.views.api.Historical documents it for OpenAPI)."""

    start_date: str
    end_date: str
    granularity: str
    window: Literal["utc_day"]
    week_start: Literal["monday"]
    unit: Literal["USD"]
    source: str
    data_mode: str
    simulated: bool
    exchanges: list[str]
    stored_history: list[StoredHistoryDoc]
    periods: list[PeriodDoc]


class AssetHistoricalDoc(HistoricalDoc):
    """`/api/assets/{asset}/historical` (webapp.views.assets_api.AssetHistorical)."""

    asset: str


def historical_document(
    periods: list[PeriodDoc],
    exchanges: list[str],
    days: tuple[date, date],
    granularity: str,
    bounds: Mapping[str, Bounds],
    settings: Settings,
    source: str = HISTORY_SOURCE,
) -> HistoricalDoc:
    """The periods (UTC days `days[0]` to `days[1]`), what they sum (`source`) and each venue's stored days."""
    start, end = days
    return {
        "start_date": start.isoformat(), "end_date": end.isoformat(), "granularity": granularity,
        "window": "utc_day", "week_start": "monday", "unit": "USD", "source": source,
        "data_mode": settings.data_mode, "simulated": settings.simulated, "exchanges": exchanges,
        "stored_history": [_stored(name, bounds.get(name)) for name in exchanges],
        "periods": periods,
    }


def _stored(name: str, bounds: Bounds | None) -> StoredHistoryDoc:
    return {
        "exchange": name,
        "first_day": bounds.first_day.isoformat() if bounds else None,
        "last_day": bounds.last_day.isoformat() if bounds else None,
    }
