"""The JSON API by underlying asset: `/api/assets`, `/api/assets/{asset}` and its history.

Money is a decimal string in USD; the assets plus `unmapped_usd` add up to `total_usd`, the counted
venues' aggregated rolling-24h total. History has the parameters, completeness and CSV of
`/api/volume/historical`, summed over the asset's markets on every venue.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from quart import Blueprint, Response, current_app, jsonify, request
from quart_schema import document_response, validate_querystring

from core.history_document import AssetHistoricalDoc, historical_document
from webapp.assets_doc import (
    ASSET_HISTORY_SOURCE,
    PublicAssetDoc,
    build_asset,
    build_asset_history,
    build_assets,
    public_asset_document,
)
from webapp.errors import ApiError, ErrorBody, bad_request
from webapp.views.api import CsvTable, Historical, HistoryQuery, history_csv_response, parse_history_query
from webapp.views.responses import app_pool, app_settings

blueprint = Blueprint("assets_api", __name__, url_prefix="/api/assets")

_ASSET = re.compile(r"[A-Za-z0-9]{1,40}")


class AssetsQuery(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=1000, description="Only the N largest assets")
    q: str | None = Field(
        default=None, max_length=40, pattern=r"^[A-Za-z0-9]*$", description="Only assets whose name contains this"
    )


class AssetVenue(BaseModel):
    exchange: str
    label: str
    volume_usd: str = Field(description="The asset's rolling-24h USD volume on this venue")
    share: str | None = Field(description="Fraction of the asset's volume, 0..1; null when the venue is stale")
    stale: bool = Field(description="The venue is stale or failing: shown, not summed")
    markets: int


class AssetItem(BaseModel):
    asset: str = Field(description="Canonical underlying asset, e.g. BTC (scaled tickers mapped: 1000PEPE -> PEPE)")
    volume_usd: str | None = Field(description="Rolling-24h USD over counted venues; null when none counts")
    share: str | None = Field(description="Fraction of total_usd, 0..1")
    markets: int = Field(description="Perp markets of this asset with a current figure, on all venues")
    complete: bool = Field(description="False when a venue listing it is stale (left out of volume_usd)")
    estimated: bool
    exchanges: list[AssetVenue]


class UnmappedItem(BaseModel):
    exchange: str
    symbol: str
    volume_usd: str
    stale: bool
    reason: str = Field(description="Why the market has no asset (never guessed)")


class Assets(BaseModel):
    as_of: str | None
    data_mode: str | None
    simulated: bool
    window: str = Field(description="rolling_24h")
    unit: str = Field(description="USD")
    total_usd: str | None = Field(description="Counted venues' total; equals the assets plus unmapped_usd")
    unmapped_usd: str | None = Field(description="Volume of markets without an asset")
    excluded: list[str] = Field(description="Stale or failing venues, left out of every sum")
    asset_count: int = Field(description="Assets with a current figure")
    matches: int = Field(description="Assets whose name contains `q` (all without it); `assets` lists up to `limit`")
    assets: list[AssetItem]
    unmapped: list[UnmappedItem]


class AssetMarket(BaseModel):
    symbol: str
    kind: str | None
    quote: str | None
    multiplier: str | None = Field(description="Coins per contract unit (1000 for 1000PEPEUSDT, kPEPE)")
    volume_usd: str
    estimated: bool
    as_of: str | None


class AssetDetailVenue(BaseModel):
    exchange: str
    label: str
    volume_usd: str
    share: str | None
    stale: bool
    markets: list[AssetMarket]


class AssetDetail(BaseModel):
    as_of: str | None
    data_mode: str | None
    simulated: bool
    window: str
    unit: str
    total_usd: str | None = Field(description="All counted venues' total (the denominator of share)")
    asset: str
    volume_usd: str | None
    share: str | None
    markets: int
    complete: bool
    estimated: bool
    exchanges: list[AssetDetailVenue]


class AssetHistorical(Historical):
    asset: str


def parse_asset(raw: str) -> str:
    if not _ASSET.fullmatch(raw):
        raise bad_request("invalid_asset", "an asset is 1-40 letters and digits, e.g. BTC or PEPE")
    return raw.upper()


def _unknown(asset: str) -> ApiError:
    return ApiError(404, "unknown_asset", f"no perp market of {asset} is known; see /api/assets")


@blueprint.get("")
@validate_querystring(AssetsQuery)
@document_response(Assets, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 503)
async def assets(query_args: AssetsQuery) -> Response:
    """Rolling-24h USD volume per underlying asset across all venues, largest first, split by venue.

    Each perp market's asset comes from the venue's own base-coin field, scaled tickers mapped to the
    real coin (Bybit `1000PEPEUSDT`, Hyperliquid `kPEPE` -> PEPE); linear and inverse markets of a coin
    roll up together. Markets whose name cannot be read without guessing are listed in `unmapped` with
    the reason, and their volume is `unmapped_usd`. A stale venue is shown but left out of every sum.
    """
    search = (query_args.q or "").upper()
    return jsonify(await build_assets(app_pool(), app_settings(), query_args.limit, search))


@blueprint.get("/<asset>")
@document_response(AssetDetail, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 503)
async def asset(asset: str) -> Response:
    """One asset's rolling-24h USD volume per venue and per market (with each market's multiplier)."""
    name = parse_asset(asset)
    doc = await build_asset(app_pool(), app_settings(), name)
    if doc is None:
        raise _unknown(name)
    return jsonify(doc)


@blueprint.get("/<asset>/historical")
@validate_querystring(HistoryQuery)
@document_response(AssetHistorical, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 503)
async def asset_historical(asset: str, query_args: HistoryQuery) -> Response:
    """The asset's USD volume per UTC day, ISO week or month, per venue and in total.

    Same parameters and completeness as `/api/volume/historical`, over the asset's markets only.
    Send `Accept: text/csv` (or use `/api/assets/{asset}/historical.csv`) for CSV.
    """
    wants_csv = request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    return await _historical(parse_asset(asset), query_args, as_csv=wants_csv)


@blueprint.get("/<asset>/historical.csv")
@validate_querystring(HistoryQuery)
@document_response(CsvTable, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 503)
async def asset_historical_csv(asset: str, query_args: HistoryQuery) -> Response:
    """The asset's historical series as CSV: one row per period and venue, plus a `total` row."""
    return await _historical(parse_asset(asset), query_args, as_csv=True)


async def _historical(asset: str, query: HistoryQuery, *, as_csv: bool) -> Response:
    today = datetime.now(UTC).date()
    exchanges, start, end = parse_history_query(query, today)
    found = await build_asset_history(app_pool(), asset, exchanges, (start, end), query.granularity, today)
    if found is None:
        raise _unknown(asset)
    if as_csv:
        response = history_csv_response(found.periods, start, end, query.granularity)
        name = f"perpvol-{asset}-{query.granularity}-{start}-{end}.csv"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    doc = historical_document(
        found.periods, exchanges, (start, end), query.granularity, found.bounds, app_settings(), ASSET_HISTORY_SOURCE
    )
    asset_doc: AssetHistoricalDoc = {"asset": asset, **doc}
    return jsonify(asset_doc)


# ---- the widget's `data-asset` ----

public_blueprint = Blueprint("assets_public", __name__)
PUBLIC_CACHE_SECONDS = 5.0
PUBLIC_CACHE_ASSETS = 1000


class PublicAssetVenue(BaseModel):
    exchange: str
    label: str
    volume_usd: str | None
    stale: bool


class PublicAsset(BaseModel):
    as_of: str | None
    data_mode: str | None
    simulated: bool
    asset: str
    window: str = Field(description="rolling_24h")
    unit: str = Field(description="USD")
    total_usd: str | None = Field(description="The asset's rolling-24h USD volume over the counted venues")
    complete: bool = Field(description="False when a venue listing the asset is stale (left out)")
    estimated: bool
    exchanges: list[PublicAssetVenue]


@public_blueprint.get("/public/asset/<asset>")
@document_response(PublicAsset, 200)
@document_response(ErrorBody, 400)
@document_response(ErrorBody, 404)
@document_response(ErrorBody, 503)
async def public_asset(asset: str) -> Response:
    """One asset's rolling-24h USD volume across venues, for the widget's `data-asset="BTC"`.

    CORS is open (`*`) and answers may be cached for 5 s: each web process builds one asset's answer
    at most once per 5 s, however many widgets ask.
    """
    name = parse_asset(asset)
    now = time.monotonic()
    # Per app (each has its own database): asset -> (monotonic time built, document).
    cache: dict[str, tuple[float, PublicAssetDoc]] = current_app.extensions.setdefault("public_assets", {})
    cached = cache.get(name)
    if cached is None or now - cached[0] > PUBLIC_CACHE_SECONDS:
        detail = await build_asset(app_pool(), app_settings(), name)
        if detail is None:
            raise _unknown(name)
        if len(cache) >= PUBLIC_CACHE_ASSETS:
            cache.clear()  # names come from clients: keep the cache bounded
        cached = cache[name] = (now, public_asset_document(detail))
    response = jsonify(cached[1])
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=5, stale-while-revalidate=30"
    return response
