"""The JSON API. Money is a decimal string in USD; times are ISO 8601 UTC; a day is a UTC calendar day.

Every figure says its window (`rolling_24h` or `utc_day`), unit, source and whether it was estimated.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, Field
from quart import Blueprint, Response, current_app, jsonify, request
from quart_schema import document_response, validate_querystring

from core.history import PeriodDoc, PeriodVenueDoc, QueryProblem, parse_exchanges, resolve_range
from core.history_document import historical_document
from core.top_markets import top_markets_document
from storage.current_cache import serve_current
from storage.queries import snapshots
from webapp.broadcast import Hub
from webapp.errors import ErrorBody, bad_request
from webapp.views.responses import app_pool, app_settings
from webapp.volume_docs import build_exchanges, build_history

CSV_COLUMNS = (
    "period_start", "period_end", "exchange", "volume_usd", "days_covered", "days_expected",
    "days_incomplete", "markets", "markets_pending", "estimated", "complete",
)

blueprint = Blueprint("api", __name__, url_prefix="/api")


# ---- models (documentation of the responses; the views build plain dicts of the same shape) ----


class CurrentQuery(BaseModel):
    markets: int | None = Field(default=None, ge=1, le=100, description="Also list the top N markets")


class CurrentVenue(BaseModel):
    """One venue's figure; `stale` follows the one rule every surface applies: fetched within the
    stale limit and no failed poll since."""

    exchange: str
    label: str
    volume_usd: str | None = Field(description="Rolling-24h USD volume (decimal string)")
    share: str | None = Field(description="Fraction of total_usd, 0..1; null when excluded")
    as_of: str | None
    fetched_at: str | None = None
    age_seconds: int | None = Field(description="Seconds since the figure was fetched, at as_of of the doc")
    stale: bool
    error: str | None
    estimated: bool
    source: str = Field(description="Venue endpoint and field the figure comes from")
    markets: int
    as_of_note: str | None = Field(
        default=None, description="Why as_of is not the venue's own time (its clock ran ahead of ours)"
    )


class Change24h(BaseModel):
    available: bool
    pct: str | None = Field(description="Percent change of the total against ~24h earlier")
    previous_usd: str | None
    exchanges: list[str] = Field(description="Venues compared (those with a figure at both times)")


class TopMarket(BaseModel):
    exchange: str
    symbol: str
    base: str | None
    quote: str | None
    volume_usd: str
    estimated: bool
    as_of: str | None


class CurrentVolume(BaseModel):
    as_of: str | None = Field(description="When the document was built from the stored figures")
    seq: int | None = Field(default=None, description="Build order: a larger seq is a newer document")
    judged_at: str | None = Field(default=None, description="When ages and stale flags were judged")
    data_mode: Literal["real", "simulated"]
    simulated: bool
    window: str = Field(description="rolling_24h")
    unit: str = Field(description="USD")
    total_usd: str | None = Field(
        description="Sum over the venues that are not stale (decimal string); null, never 0, when no venue "
        "counts: no_data_reason says why"
    )
    no_data_reason: str | None = Field(
        default=None,
        description="Why total_usd is null: 'cannot reach any exchange', 'no figures yet: …' or "
        "'every venue's figure is stale'; null when there is a total",
    )
    complete: bool
    excluded: list[str]
    estimated: bool
    exchanges: list[CurrentVenue]
    change_24h: Change24h | None = None
    served_from: Literal["database", "cache"]
    top_markets: list[TopMarket] | None = None


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    # Only YYYY-MM-DD: pydantic would otherwise read "5" as a Unix timestamp (1970-01-01).
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    if not isinstance(value, (str, date)):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day), Field(json_schema_extra={"pattern": _ISO_DAY.pattern})]


class HistoryQuery(BaseModel):
    start_date: IsoDay | None = Field(default=None, description="First UTC day (default: end_date - 364)")
    end_date: IsoDay | None = Field(default=None, description="Last UTC day (default: today, UTC)")
    granularity: Literal["daily", "weekly", "monthly"] = "daily"
    exchange: str | None = Field(default=None, description="Comma-separated venues, e.g. bybit,woox")


class HistoryVenue(BaseModel):
    exchange: str
    volume_usd: str | None = Field(description="USD over the days covered; null when no day is stored")
    days_covered: int
    days_expected: int
    days_incomplete: int = Field(description="Days still running (the current UTC day)")
    markets: int = Field(description="Distinct markets with data in the period")
    markets_pending: int = Field(description="Known markets whose history for this period is not stored yet")
    estimated: bool
    complete: bool


class HistoryPeriod(BaseModel):
    period_start: date
    period_end: date = Field(description="Last day counted (clipped to end_date)")
    days_expected: int
    total_usd: str | None = Field(description="Sum over venues with data; null when none has any")
    complete: bool = Field(description="False when any venue misses days or markets: a gap, not a zero")
    gaps: list[str] = Field(description="Venues with missing days or pending markets in this period")
    exchanges: list[HistoryVenue]


class HistoryBounds(BaseModel):
    exchange: str
    first_day: date | None
    last_day: date | None


class Historical(BaseModel):
    start_date: date
    end_date: date
    granularity: Literal["daily", "weekly", "monthly"]
    window: str = Field(description="utc_day: figures sum whole UTC calendar days")
    week_start: str = Field(description="monday (ISO 8601 weeks)")
    unit: str
    source: str
    data_mode: Literal["real", "simulated"]
    simulated: bool
    exchanges: list[str]
    stored_history: list[HistoryBounds]
    periods: list[HistoryPeriod]


class CsvTable(BaseModel):
    """CSV with a header row: period_start, period_end, exchange (or `total`), volume_usd, days_covered,
    days_expected, days_incomplete, markets, markets_pending, estimated, complete. An empty volume_usd
    is a gap (no day stored), never zero."""

    media_type: ClassVar[str] = "text/csv"


class Backfill(BaseModel):
    markets_total: int
    markets_done: int = Field(description="Markets whose history is stored through yesterday (UTC)")
    fraction: float = Field(description="Day-weighted progress, 0..1")
    error: str | None = Field(default=None, description="Why the last backfill run failed (null once one finishes)")
    error_at: str | None = None
    retry_at: str | None = Field(default=None, description="When the failed run is retried")


class Completeness(BaseModel):
    since: date = Field(description="First UTC day of the window (PERPVOL_HISTORY_DAYS back)")
    through: date = Field(description="Last settled UTC day (yesterday)")
    days_expected: int
    days_complete: int = Field(
        description="Days whose total is stored AND every market listed that day is stored (a total over "
        "part of the markets does not count)"
    )


class EstimateErrorModel(BaseModel):
    """How far the venue's candle-based daily estimates were off, over the UTC days that also have the
    exact figure (the venue's own rolling 24 h volume read nearest 00:00 UTC)."""

    days: int = Field(description="UTC days with both the exact figure and the estimate")
    median_pct: str = Field(description="Median absolute error, percent of the exact figure (decimal string)")
    worst_pct: str = Field(description="Worst absolute error, percent of the exact figure (decimal string)")
    worst_day: date = Field(description="The UTC day of the worst error")


class VenueHealth(BaseModel):
    exchange: str
    label: str
    healthy: bool = Field(description="Last poll succeeded within the stale limit")
    last_attempt: str | None
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    consecutive_failures: int
    backfill: Backfill
    history_first_day: date | None
    history_last_day: date | None
    completeness: Completeness
    estimate_error: EstimateErrorModel | None = Field(
        description="Estimate error over the days with both figures; null until there is one"
    )


class Exchanges(BaseModel):
    as_of: str | None
    data_mode: Literal["real", "simulated"]
    stale_seconds: int
    exchanges: list[VenueHealth]


# ---- helpers ----


# ---- current ----


@blueprint.get("/volume/current")
@validate_querystring(CurrentQuery)
@document_response(CurrentVolume, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 503)
async def current_volume(query_args: CurrentQuery) -> Response:
    """Aggregated rolling-24h USD volume, per venue and in total.

    Each venue shows its figure, share of the total, the venue's as-of time, the age of the figure and a
    stale flag; a stale venue (too old, or its last poll failed) is listed in `excluded` and left out of
    `total_usd`. `change_24h` compares with snapshots taken about 24 hours earlier, when they exist.
    `?markets=N` adds the N largest markets. When PostgreSQL is unreachable the latest published document
    is served instead (`served_from: cache`), with ages, stale flags and the total judged again at the
    time of the request. `seq` orders documents (larger: built later); `judged_at` is when freshness
    was judged.
    """
    hub: Hub = current_app.extensions["hub"]
    doc = await serve_current(app_pool(), app_settings(), hub.latest.doc if hub.latest else None)
    if query_args.markets and doc["served_from"] == "database":
        doc["top_markets"] = top_markets_document(await snapshots.select_top_markets(app_pool(), query_args.markets))
    return jsonify(doc)


# ---- historical ----


@blueprint.get("/volume/historical")
@validate_querystring(HistoryQuery)
@document_response(Historical, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 503)
async def historical_volume(query_args: HistoryQuery) -> Response:
    """USD volume per UTC day, ISO week (Monday first) or calendar month, per venue and in total.

    Default range: the last 365 days through today (UTC); at most 3660 days per request. Each period
    says how many days each venue has stored against the days expected, and how many known markets still
    lack history there: a gap shows as `complete: false` (and `volume_usd: null` when a venue has no day at
    all), never as a silent zero. Today is still running, so its figures are partial (`days_incomplete`).
    Send `Accept: text/csv` (or use `/api/volume/historical.csv`) for CSV.
    """
    wants_csv = request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    return await _historical(query_args, as_csv=wants_csv)


@blueprint.get("/volume/historical.csv")
@validate_querystring(HistoryQuery)
@document_response(CsvTable, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 503)
async def historical_volume_csv(query_args: HistoryQuery) -> Response:
    """The historical series as CSV: one row per period and venue, plus a `total` row per period."""
    return await _historical(query_args, as_csv=True)


def parse_history_query(query: HistoryQuery, today: date) -> tuple[list[str], date, date]:
    """(exchanges, start, end) of a history query, or a 400 naming what is wrong; every history
    endpoint (venues, assets) reads its parameters through here."""
    try:
        exchanges = parse_exchanges(query.exchange)
        start, end = resolve_range(query.start_date, query.end_date, today)
    except QueryProblem as exc:
        raise bad_request(exc.code, exc.detail) from None
    return exchanges, start, end


async def _historical(query: HistoryQuery, *, as_csv: bool) -> Response:
    today = datetime.now(UTC).date()
    exchanges, start, end = parse_history_query(query, today)
    found = await build_history(app_pool(), exchanges, (start, end), query.granularity, today)
    if as_csv:
        return history_csv_response(found.periods, start, end, query.granularity)
    doc = historical_document(found.periods, exchanges, (start, end), query.granularity, found.bounds, app_settings())
    return jsonify(doc)


def history_csv_response(periods: list[PeriodDoc], start: date, end: date, granularity: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for period in periods:
        for venue in period["exchanges"]:
            writer.writerow([period["period_start"], period["period_end"], *_csv_cells(venue)])
        writer.writerow([
            period["period_start"], period["period_end"], "total", period["total_usd"] or "",
            "", period["days_expected"], "", "", "", "", str(period["complete"]).lower(),
        ])
    response = Response(out.getvalue(), mimetype="text/csv")
    name = f"perpvol-{granularity}-{start}-{end}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _csv_cells(venue: PeriodVenueDoc) -> list[Any]:
    return [
        venue["exchange"], venue["volume_usd"] or "", venue["days_covered"], venue["days_expected"],
        venue["days_incomplete"], venue["markets"], venue["markets_pending"],
        str(venue["estimated"]).lower(), str(venue["complete"]).lower(),
    ]


# ---- exchanges ----


@blueprint.get("/exchanges")
@document_response(Exchanges, 200)
@document_response(ErrorBody, 503)
async def exchanges() -> Response:
    """Venue health: last poll, last success, last error, consecutive failures, and backfill progress.

    `healthy` means the last poll succeeded within the stale limit (`stale_seconds`). Backfill progress
    counts known markets whose daily history is stored through yesterday (UTC); `completeness` counts the
    UTC days of the history window whose total is stored with every market listed that day.
    `estimate_error` is the median and worst absolute % by which the candle-based estimate missed the
    exact figure (the venue's rolling 24 h volume read at 00:00 UTC), over the days with both.
    """
    return jsonify(await build_exchanges(app_pool(), app_settings(), datetime.now(UTC)))
