"""The Assets pages' view models: top assets (with each one's venue split and 24 h change), one asset's
venues, markets and history (with the range's total), and the comparison of two to five assets (their
sums and all venues' total). Figures come from `webapp.assets_doc` and the asset queries, so the pages
show exactly what `/api/assets*` answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict, cast
from urllib.parse import urlencode

import asyncpg

from core.documents import CurrentVolumeDoc
from core.history import PeriodDoc
from core.records import EXCHANGES
from core.settings import Settings
from storage.queries import assets as assets_q
from storage.queries import daily, dashboard, history, snapshots
from webapp import asset_charts, charts
from webapp.assets_doc import (
    AssetDetailDoc,
    AssetItemDoc,
    AssetsDoc,
    assets_document,
    build_asset,
    build_asset_history,
    change_24h_pct,
)
from webapp.formatting import percent
from webapp.view_models.history import RANGES, HistoryState, parse_history_state
from webapp.view_models.page_args import choice

TOP_ASSETS = 60
SPLIT_ASSETS = 15
MAX_COMPARE = 5
_NAME = re.compile(r"[A-Z0-9]{1,40}")
# "About 24 h earlier": the newest hourly sample at or before now − 24 h, and no older than this before it.
CHANGE_TOLERANCE = timedelta(minutes=90)


class Segment(TypedDict):
    x: str  # percent of the bar
    w: str
    color: str


class SplitSegments(TypedDict):
    segments: list[Segment]
    split_label: str  # the split in words, for screen readers and the tooltip


class AssetRow(AssetItemDoc, SplitSegments):
    change_pct: str | None  # against about 24 h earlier


class AssetsContext(TypedDict):
    """What `pages/assets.html`, `partials/_assets_panel.html` and `_assets_live.html` render."""

    doc: AssetsDoc
    q: str
    assets: list[AssetRow]
    matches: int
    split_spec: dict[str, Any]  # the Vega-Lite venue split of the largest assets
    venue_order: list[str]


async def assets_context(pool: asyncpg.Pool, current: CurrentVolumeDoc, q: str = "") -> AssetsContext:
    """The top-assets panel: the assets document, filtered by a search, with the venue-split chart."""
    rows = await assets_q.select_current_markets(pool)
    query = q.strip().upper()[:40]
    doc = assets_document(current, rows, limit=TOP_ASSETS, search=query)
    venues_then, volumes_then = await snapshots.select_asset_volumes_near(
        pool, datetime.now(UTC) - timedelta(hours=24), CHANGE_TOLERANCE
    )
    return {
        "doc": doc,
        "q": query,
        "assets": [
            {**a, **split_segments(a), "change_pct": change_24h_pct(a, venues_then, volumes_then)}
            for a in doc["assets"]
        ],
        "matches": doc["matches"],
        "split_spec": asset_charts.split_chart(doc["assets"][:SPLIT_ASSETS]),
        "venue_order": [v["exchange"] for v in current["exchanges"]],
    }


def split_segments(item: AssetItemDoc) -> SplitSegments:
    """The asset's venue split as bar segments (x and width in percent of the bar; counted venues only)
    and the sentence that says it, computed here: a Jinja macro per cell costs more than the whole row."""
    segments: list[Segment] = []
    parts: list[str] = []
    x = Decimal(0)
    for venue in item["exchanges"]:
        if venue["stale"]:
            parts.append(f"{venue['label']} stale, not counted")
            continue
        if venue["share"] is None:  # the asset has no volume at all: nothing to split
            parts.append(f"{venue['label']} {percent(None)}")
            continue
        width = Decimal(venue["share"]) * 100
        color = charts.VENUE_COLORS.get(venue["exchange"], "#888")
        segments.append({"x": f"{x:.3f}", "w": f"{width:.3f}", "color": color})
        parts.append(f"{venue['label']} {percent(venue['share'])}")
        x += width
    return {"segments": segments, "split_label": ", ".join(parts)}


def parse_asset_name(raw: str) -> str | None:
    name = raw.upper()
    return name if _NAME.fullmatch(name) else None


class AssetContext(TypedDict):
    """What `pages/asset.html` and `partials/_asset_history.html` render."""

    asset: str
    detail: AssetDetailDoc
    state: HistoryState
    periods: list[PeriodDoc]
    spec: dict[str, Any]  # the Vega-Lite history chart
    range_total: str | None  # None: no stored day in the range
    gaps: int  # incomplete periods
    presets: tuple[str, ...]
    today: date


async def asset_context(
    pool: asyncpg.Pool, settings: Settings, name: str, args: Any, today: date
) -> AssetContext | None:
    """One asset's page: current figure per venue and market, and its history by venue. None: unknown."""
    detail = await build_asset(pool, settings, name)
    if detail is None:
        return None
    async with pool.acquire() as conn:
        bounds = await daily.select_daily_bounds(conn)
    first = min((b.first_day for b in bounds.values()), default=None)
    state = parse_history_state(args, today, first)
    found = await build_asset_history(pool, name, state.exchanges, (state.start, state.end), state.granularity, today)
    if found is None:
        return None
    periods = found.periods
    # One chart, as on History: `view=share` stacks each venue's share of the asset's volume to 100%.
    spec = charts.history_chart(
        periods, state.exchanges, granularity=state.granularity, view=state.view, scale=state.scale
    )
    with_data = [Decimal(p["total_usd"]) for p in periods if p["total_usd"] is not None]
    return {
        "asset": name,
        "detail": detail,
        "state": state,
        "periods": periods,
        "spec": spec,
        "range_total": format(sum(with_data, Decimal(0)), "f") if with_data else None,
        "gaps": sum(1 for p in periods if not p["complete"]),
        "presets": RANGES,
        "today": today,
    }


@dataclass(frozen=True)
class CompareState:
    names: list[str]
    history: HistoryState
    view: asset_charts.CompareView
    unknown: list[str]

    def query(self, **changes: str) -> str:
        params = {"assets": ",".join(self.names), "range": self.history.range,
                  "granularity": self.history.granularity, "view": self.view}
        if self.history.range == "custom":
            params.update(start=self.history.start.isoformat(), end=self.history.end.isoformat())
        params.update(changes)
        return urlencode(params)


class CompareContext(TypedDict):
    """What `pages/asset_compare.html` and `partials/_asset_compare.html` render."""

    state: CompareState
    spec: dict[str, Any]  # the Vega-Lite comparison
    sums: dict[str, Decimal]  # each asset's USD over the range
    grand_total: Decimal  # all venues' USD over the range
    too_many: bool
    presets: tuple[str, ...]
    today: date


async def compare_context(pool: asyncpg.Pool, args: Any, today: date) -> CompareContext:
    """Two to five assets on one chart, absolute or as a share of all venues' total per period."""
    wanted: list[str] = []
    for raw in (args.get("assets") or "BTC,ETH").split(","):
        name = parse_asset_name(raw.strip())
        if name and name not in wanted:
            wanted.append(name)
    async with pool.acquire() as conn:
        known = await assets_q.select_known_assets(conn, wanted)
        bounds = await daily.select_daily_bounds(conn)
    names = [n for n in wanted if n in known][:MAX_COMPARE]
    first = min((b.first_day for b in bounds.values()), default=None)
    state = CompareState(
        names=names,
        history=parse_history_state(args, today, first),
        view=cast(asset_charts.CompareView, choice(args.get("view"), ("volume", "share"), "volume")),
        unknown=[n for n in wanted if n not in known],
    )
    h = state.history
    spans = history.periods(h.start, h.end, h.granularity)
    async with pool.acquire() as conn:
        rows = await assets_q.select_assets_periods(conn, names, h.start, h.end, h.granularity)
        venue_rows = await dashboard.select_period_totals(conn, h.start, h.end, h.granularity, EXCHANGES)
    volumes = {(r.asset, r.period_start): r.volume_usd for r in rows}
    totals: dict[date, Decimal] = {}
    for v in venue_rows:
        totals[v.period_start] = totals.get(v.period_start, Decimal(0)) + v.volume_usd
    spans_clipped = [(key, last) for key, _, last in spans]
    chart_rows = asset_charts.compare_rows(spans_clipped, volumes, totals, names)
    sums = {n: sum((r.volume_usd for r in rows if r.asset == n), Decimal(0)) for n in names}
    return {
        "state": state,
        "spec": asset_charts.compare_chart(chart_rows, names, h.granularity, state.view),
        "sums": sums,
        "grand_total": sum(totals.values(), Decimal(0)),
        "too_many": len([n for n in wanted if n in known]) > MAX_COMPARE,
        "presets": RANGES,
        "today": today,
    }
