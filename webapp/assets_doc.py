"""The current-volume-by-asset documents: `/api/assets`, `/api/assets/{asset}`, the Assets pages and the
widget's `data-asset`. Pure functions from rows to JSON-able dicts, plus the two builders that read them.

Which venues count is decided once, by the current-volume document (storage/current_cache.py): a stale or
failing venue's markets are listed with `stale: true` and left out of every sum. So the assets plus
`unmapped_usd` add up to `total_usd`, the same venues' total as `/api/volume/current`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import asyncpg

from core.current_volume import iso
from core.documents import CurrentVolumeDoc
from core.settings import Settings
from core.venues import LABELS
from storage.current_cache import build_from_db
from storage.queries import assets as assets_q
from storage.queries.assets import CurrentAssetMarket

SHARE_PLACES = Decimal("0.000001")


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
) -> dict[str, Any]:
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
) -> dict[str, Any]:
    by_venue: dict[str, list[CurrentAssetMarket]] = defaultdict(list)
    for row in group:
        by_venue[row.exchange].append(row)
    volume = sum((_sum(rows) for exchange, rows in by_venue.items() if exchange in counted), Decimal(0))
    has_counted = any(exchange in counted for exchange in by_venue)
    venues = []
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
    item: dict[str, Any], venues_then: set[str], volumes_then: dict[tuple[str, str], Decimal]
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


def _unmapped(row: CurrentAssetMarket, counted: bool) -> dict[str, Any]:
    return {
        "exchange": row.exchange,
        "symbol": row.symbol,
        "volume_usd": money(row.volume_usd),
        "stale": not counted,
        "reason": row.asset_reason or "unmapped",
    }


def asset_detail(current: CurrentVolumeDoc, asset: str, rows: Iterable[CurrentAssetMarket]) -> dict[str, Any]:
    """One asset's current figure per venue and per market (with each market's scale)."""
    counted = counted_venues(current)
    everything = list(rows)
    total = _sum(r for r in everything if r.exchange in counted) if counted else None
    mine = [r for r in everything if r.asset == asset]
    item = _asset_item(asset, mine, counted, total)
    for venue in item["exchanges"]:
        venue["markets"] = [_market(r) for r in mine if r.exchange == venue["exchange"]]
    return {
        "as_of": current.get("as_of"),
        "data_mode": current.get("data_mode"),
        "simulated": current.get("simulated", False),
        "window": "rolling_24h",
        "unit": "USD",
        "total_usd": money(total),
        **item,
    }


def _market(row: CurrentAssetMarket) -> dict[str, Any]:
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
) -> dict[str, Any]:
    current = await build_from_db(pool, settings)
    rows = await assets_q.select_current_markets(pool)
    return assets_document(current, rows, limit, search)


async def build_asset(pool: asyncpg.Pool, settings: Settings, asset: str) -> dict[str, Any] | None:
    """None when no stored market has this asset."""
    if not await assets_q.asset_exists(pool, asset):
        return None
    current = await build_from_db(pool, settings)
    rows = await assets_q.select_current_markets(pool)
    return asset_detail(current, asset, rows)
