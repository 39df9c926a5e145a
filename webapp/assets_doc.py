"""The current-volume-by-asset documents: `/api/assets`, `/api/assets/{asset}`, the Assets pages and the
widget's `data-asset`, and one asset's history. Pure functions from rows to typed JSON-able dicts, plus
the builders that read the rows.

Which venues count is decided once, by the current-volume document (storage/current_cache.py): a stale or
failing venue's markets are listed with `stale: true` and left out of every sum. So the assets plus
`unmapped_usd` add up to `total_usd`, the same venues' total as `/api/volume/current`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, TypedDict, overload

import asyncpg

from core.current_volume import iso
from core.documents import CurrentVolumeDoc
from core.history import PeriodDoc, period_document
from core.settings import Settings
from core.venues import LABELS
from storage.current_cache import build_from_db
from storage.queries import assets as assets_q
from storage.queries import daily, dashboard, history
from storage.queries.assets import CurrentAssetMarket
from storage.queries.records import DayBounds

SHARE_PLACES = Decimal("0.000001")
ASSET_HISTORY_SOURCE = "sum of the asset's per-market UTC-day volume on every venue (USD notional)"


class AssetVenueDoc(TypedDict):
    """One venue's part of an asset (webapp.views.assets_api.AssetVenue for OpenAPI)."""

    exchange: str
    label: str
    volume_usd: str
    share: str | None  # of the asset's volume; None when the venue is stale
    stale: bool
    markets: int


class AssetItemDoc(TypedDict):
    """One asset of `/api/assets` (webapp.views.assets_api.AssetItem)."""

    asset: str
    volume_usd: str | None
    share: str | None  # of total_usd
    markets: int
    complete: bool
    estimated: bool
    exchanges: list[AssetVenueDoc]


class UnmappedDoc(TypedDict):
    exchange: str
    symbol: str
    volume_usd: str
    stale: bool
    reason: str


class AssetsDoc(TypedDict):
    """`/api/assets` (webapp.views.assets_api.Assets)."""

    as_of: str | None
    data_mode: str | None
    simulated: bool
    window: Literal["rolling_24h"]
    unit: Literal["USD"]
    total_usd: str | None
    unmapped_usd: str | None
    excluded: list[str]
    asset_count: int
    matches: int
    assets: list[AssetItemDoc]
    unmapped: list[UnmappedDoc]


class AssetMarketDoc(TypedDict):
    symbol: str
    kind: str | None
    quote: str | None
    multiplier: str | None
    volume_usd: str
    estimated: bool
    as_of: str | None


class AssetDetailVenueDoc(TypedDict):
    exchange: str
    label: str
    volume_usd: str
    share: str | None
    stale: bool
    markets: list[AssetMarketDoc]


class AssetDetailDoc(TypedDict):
    """`/api/assets/{asset}` (webapp.views.assets_api.AssetDetail)."""

    as_of: str | None
    data_mode: str | None
    simulated: bool
    window: Literal["rolling_24h"]
    unit: Literal["USD"]
    total_usd: str | None  # all counted venues' total: the denominator of share
    asset: str
    volume_usd: str | None
    share: str | None
    markets: int
    complete: bool
    estimated: bool
    exchanges: list[AssetDetailVenueDoc]


class PublicAssetVenueDoc(TypedDict):
    exchange: str
    label: str
    volume_usd: str | None
    stale: bool


class PublicAssetDoc(TypedDict):
    """`/public/asset/{asset}`, the widget's `data-asset` (webapp.views.assets_api.PublicAsset)."""

    as_of: str | None
    data_mode: str | None
    simulated: bool
    asset: str
    window: Literal["rolling_24h"]
    unit: Literal["USD"]
    total_usd: str | None
    complete: bool
    estimated: bool
    exchanges: list[PublicAssetVenueDoc]


@overload
def money(value: Decimal) -> str: ...
@overload
def money(value: Decimal | None) -> str | None: ...
def money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def share(part: Decimal, whole: Decimal | None) -> str | None:
    if not whole:
        return None
    return str((part / whole).quantize(SHARE_PLACES))


def counted_venues(current: CurrentVolumeDoc) -> set[str]:
    """Venues whose figure the current document sums (fresh, with a figure)."""
    return {
        v["exchange"] for v in current["exchanges"] if not v["stale"] and v.get("volume_usd") is not None
    }


def assets_document(
    current: CurrentVolumeDoc, rows: Iterable[CurrentAssetMarket], limit: int | None = None, search: str = ""
) -> AssetsDoc:
    """Assets by rolling-24h USD volume across the counted venues, largest first: the `limit` largest
    (of those whose name contains `search`) in full; `asset_count` counts them all."""
    counted = counted_venues(current)
    by_asset: dict[str, list[CurrentAssetMarket]] = defaultdict(list)
    unmapped: list[CurrentAssetMarket] = []
    for row in rows:
        (by_asset[row.asset] if row.asset is not None else unmapped).append(row)
    volumes = {name: _sum(r for r in group if r.exchange in counted) for name, group in by_asset.items()}
    unmapped_usd = _sum(r for r in unmapped if r.exchange in counted)
    total = sum(volumes.values(), unmapped_usd) if counted else None
    # Only the assets shown are built in full: there are hundreds, and a page lists a few dozen.
    ranked = sorted(volumes, key=lambda name: (-volumes[name], name))
    matching = [name for name in ranked if search in name] if search else ranked
    items = [_asset_item(name, by_asset[name], counted, total) for name in matching[:limit]]
    return {
        "as_of": current.get("as_of"),
        "data_mode": current.get("data_mode"),
        "simulated": current.get("simulated", False),
        "window": "rolling_24h",
        "unit": "USD",
        "total_usd": money(total),
        "unmapped_usd": money(unmapped_usd) if counted else None,
        "excluded": sorted(set(current.get("excluded", [])), key=_venue_order),
        "asset_count": len(ranked),
        "matches": len(matching),
        "assets": items,
        "unmapped": [_unmapped(r, r.exchange in counted) for r in unmapped],
    }


def _asset_item(
    name: str, group: list[CurrentAssetMarket], counted: set[str], total: Decimal | None
) -> AssetItemDoc:
    by_venue: dict[str, list[CurrentAssetMarket]] = defaultdict(list)
    for row in group:
        by_venue[row.exchange].append(row)
    volume = sum((_sum(rows) for exchange, rows in by_venue.items() if exchange in counted), Decimal(0))
    has_counted = any(exchange in counted for exchange in by_venue)
    venues: list[AssetVenueDoc] = []
    for exchange in sorted(by_venue, key=_venue_order):
        rows = by_venue[exchange]
        venue_usd = _sum(rows)
        fresh = exchange in counted
        venues.append({
            "exchange": exchange,
            "label": LABELS.get(exchange, exchange),
            "volume_usd": money(venue_usd),
            "share": share(venue_usd, volume) if fresh else None,
            "stale": not fresh,
            "markets": len(rows),
        })
    return {
        "asset": name,
        "volume_usd": money(volume) if has_counted else None,
        "share": share(volume, total) if has_counted else None,
        "markets": len(group),
        "complete": all(not v["stale"] for v in venues),
        "estimated": any(r.estimated for r in group if r.exchange in counted),
        "exchanges": venues,
    }


def change_24h_pct(
    item: AssetItemDoc, venues_then: set[str], volumes_then: dict[tuple[str, str], Decimal]
) -> str | None:
    """The asset's change in % against its figure about 24 h earlier, over the venues counted now; None
    (shown "—") when one of them has no sample from then or the asset had no volume then."""
    counted = [v["exchange"] for v in item["exchanges"] if not v["stale"]]
    if not counted or item["volume_usd"] is None or any(e not in venues_then for e in counted):
        return None
    then = sum((volumes_then.get((e, item["asset"]), Decimal(0)) for e in counted), Decimal(0))
    if not then:
        return None
    return str(((Decimal(item["volume_usd"]) - then) / then * 100).quantize(Decimal("0.01")))


def _unmapped(row: CurrentAssetMarket, counted: bool) -> UnmappedDoc:
    return {
        "exchange": row.exchange,
        "symbol": row.symbol,
        "volume_usd": money(row.volume_usd),
        "stale": not counted,
        "reason": row.asset_reason or "unmapped",
    }


def asset_detail(current: CurrentVolumeDoc, asset: str, rows: Iterable[CurrentAssetMarket]) -> AssetDetailDoc:
    """One asset's current figure per venue and per market (with each market's scale)."""
    counted = counted_venues(current)
    everything = list(rows)
    total = _sum(r for r in everything if r.exchange in counted) if counted else None
    mine = [r for r in everything if r.asset == asset]
    item = _asset_item(asset, mine, counted, total)
    venues: list[AssetDetailVenueDoc] = [
        {**venue, "markets": [_market(r) for r in mine if r.exchange == venue["exchange"]]}
        for venue in item["exchanges"]
    ]
    return {
        "as_of": current.get("as_of"),
        "data_mode": current.get("data_mode"),
        "simulated": current.get("simulated", False),
        "window": "rolling_24h",
        "unit": "USD",
        "total_usd": money(total),
        **item,
        "exchanges": venues,
    }


def public_asset_document(detail: AssetDetailDoc) -> PublicAssetDoc:
    """The asset detail in the shape of the current-volume document the widget reads."""
    return {
        "as_of": detail["as_of"], "data_mode": detail["data_mode"], "simulated": detail["simulated"],
        "asset": detail["asset"], "window": "rolling_24h", "unit": "USD", "total_usd": detail["volume_usd"],
        "complete": detail["complete"], "estimated": detail["estimated"],
        "exchanges": [
            {"exchange": v["exchange"], "label": v["label"], "volume_usd": v["volume_usd"], "stale": v["stale"]}
            for v in detail["exchanges"]
        ],
    }


def _market(row: CurrentAssetMarket) -> AssetMarketDoc:
    return {
        "symbol": row.symbol,
        "kind": row.kind,
        "quote": row.quote,
        "multiplier": money(row.asset_multiplier),
        "volume_usd": money(row.volume_usd),
        "estimated": row.estimated,
        "as_of": iso(row.as_of),
    }


def _sum(rows: Iterable[CurrentAssetMarket]) -> Decimal:
    return sum((r.volume_usd for r in rows), Decimal(0))


_ORDER = {name: n for n, name in enumerate(LABELS)}


def _venue_order(exchange: str) -> int:
    return _ORDER.get(exchange, len(_ORDER))


async def build_assets(
    pool: asyncpg.Pool, settings: Settings, limit: int | None = None, search: str = ""
) -> AssetsDoc:
    current = await build_from_db(pool, settings)
    rows = await assets_q.select_current_markets(pool)
    return assets_document(current, rows, limit, search)


async def build_asset(pool: asyncpg.Pool, settings: Settings, asset: str) -> AssetDetailDoc | None:
    """None when no stored market has this asset."""
    if not await assets_q.asset_exists(pool, asset):
        return None
    current = await build_from_db(pool, settings)
    rows = await assets_q.select_current_markets(pool)
    return asset_detail(current, asset, rows)


@dataclass(frozen=True)
class AssetHistory:
    """One asset's period documents (as `/api/volume/historical` lists them) and each venue's stored days."""

    periods: list[PeriodDoc]
    bounds: dict[str, DayBounds]


async def build_asset_history(
    pool: asyncpg.Pool,
    asset: str,
    exchanges: list[str],
    days: tuple[date, date],
    granularity: history.Granularity,
    today: date,
) -> AssetHistory | None:
    """The asset's history over its markets on the venues asked for, `days` the first and last UTC day;
    None when no market has this asset."""
    start, end = days
    spans = history.periods(start, end, granularity)
    cutoff = today - timedelta(days=1)
    async with pool.acquire() as conn:
        if not await assets_q.asset_exists(conn, asset):
            return None
        rows = await assets_q.select_asset_period_volumes(conn, asset, start, end, granularity, exchanges)
        lagging = await assets_q.select_asset_lagging(conn, asset, cutoff, exchanges)
        bounds = await daily.select_daily_bounds(conn)
    pending = dashboard.pending_by_period(lagging, [(p, min(last, cutoff)) for p, _, last in spans])
    found = {(r.period_start, r.exchange): r for r in rows}
    return AssetHistory([period_document(span, exchanges, found, pending) for span in spans], bounds)
