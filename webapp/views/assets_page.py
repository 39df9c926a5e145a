"""The Assets pages' view models: top assets (live over SSE), one asset's venues, markets and history, and
the comparison of two to five assets. Figures come from `webapp.assets_doc` and the asset queries, so the
pages show exactly what `/api/assets*` answers.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode

import asyncpg
from quart import Quart

from core.documents import CurrentVolumeDoc
from core.exact_days import estimate_errors
from core.records import EXCHANGES
from core.settings import Settings
from storage.queries import assets as assets_q
from storage.queries import daily, dashboard, history, snapshots
from storage.queries import exact_days as exact_q
from webapp import asset_charts, charts
from webapp.assets_doc import assets_document, build_asset, change_24h_pct
from webapp.broadcast import Update
from webapp.formatting import percent
from webapp.views.api import HistoryQuery
from webapp.views.assets_api import asset_history
from webapp.views.history_page import RANGES, HistoryState, parse_history_state
from webapp.views.live import sse_event
from webapp.views.page_args import choice

TOP_ASSETS = 60
SPLIT_ASSETS = 15
MAX_COMPARE = 5
_NAME = re.compile(r"[A-Z0-9]{1,40}")
# "About 24 h earlier": the newest hourly sample at or before now − 24 h, and no older than this before it.
CHANGE_TOLERANCE = timedelta(minutes=90)


async def assets_context(pool: asyncpg.Pool, current: CurrentVolumeDoc, q: str = "") -> dict[str, Any]:
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


def split_segments(item: dict[str, Any]) -> dict[str, Any]:
    """The asset's venue split as bar segments (x and width in percent of the bar; counted venues only)
    and the sentence that says it, computed here: a Jinja macro per cell costs more than the whole row."""
    segments, parts, x = [], [], Decimal(0)
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


@dataclass
class _Rendered:
    seq: int = -1
    payload: bytes = b""
    lock: asyncio.Lock | None = None


async def render_assets_events(app: Quart, update: Update) -> bytes:
    """The `assets` SSE event (the unfiltered top assets, `#assets-live`), rendered once per update for all
    clients."""
    cache: _Rendered = app.extensions.setdefault("assets_events", _Rendered(lock=asyncio.Lock()))
    assert cache.lock is not None
    async with cache.lock:
        if cache.seq != update.seq:
            context = await assets_context(app.extensions["pool"], update.doc)
            html = await app.jinja_env.get_template("partials/_assets_live.html").render_async(**context)
            cache.seq, cache.payload = update.seq, sse_event("assets", html.strip())
        return cache.payload


def parse_asset_name(raw: str) -> str | None:
    name = raw.upper()
    return name if _NAME.fullmatch(name) else None


async def asset_context(
    pool: asyncpg.Pool, settings: Settings, name: str, args: Any, today: date
) -> dict[str, Any] | None:
    """One asset's page: current figure per venue and market, and its history by venue. None: unknown."""
    detail = await build_asset(pool, settings, name)
    if detail is None:
        return None
    async with pool.acquire() as conn:
        bounds = await daily.select_daily_bounds(conn)
    first = min((b.first_day for b in bounds.values()), default=None)
    state = parse_history_state(args, today, first)
    query = HistoryQuery(
        start_date=state.start, end_date=state.end, granularity=state.granularity, exchange=",".join(state.exchanges)
    )
    periods, _ = await asset_history(pool, name, query)
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


async def compare_context(pool: asyncpg.Pool, args: Any, today: date) -> dict[str, Any]:
    """Two to five assets on one chart, absolute or as a share of all venues' total per period."""
    wanted = []
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


async def asset_status_context(pool: asyncpg.Pool) -> dict[str, Any]:
    """For the Status page: markets that have no asset, with the reason (never guessed), and each
    venue's estimate error over the days made exact from the midnight rolling figure."""
    async with pool.acquire() as conn:
        unmapped = await assets_q.select_unmapped(conn)
        comparisons = await exact_q.select_day_comparisons(conn)
    errors = estimate_errors(comparisons)
    return {"unmapped": unmapped, "estimate_errors": [errors[e] for e in EXCHANGES if e in errors]}

