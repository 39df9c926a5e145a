"""Charts of the Assets pages: pure functions from rows to Vega-Lite specs, built with Altair (no I/O).

An asset's own history uses `webapp.charts.history_chart` (the periods have the API's shape); this module
adds the top-assets venue split and the comparison of several assets over time.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import altair as alt

from core.current_volume import EXCHANGES
from core.venues import LABELS
from webapp.assets_doc import AssetItemDoc
from webapp.charts import COMPACT_USD, _color, _finish, _time_axis, _usd_axis

SPLIT_DATA = "asset_split"
COMPARE_DATA = "compare"
CompareView = Literal["volume", "share"]
# Okabe–Ito again, in an order that differs from the venue colours' first entries.
ASSET_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00")
_TITLES = {"daily": "UTC day", "weekly": "ISO week (Monday, UTC)", "monthly": "Month (UTC)"}


def split_rows(assets: Sequence[AssetItemDoc]) -> list[dict[str, Any]]:
    """One row per asset and counted venue, for the stacked bar of the top assets."""
    rows = []
    for rank, item in enumerate(assets):
        for venue in item["exchanges"]:
            if venue["stale"]:
                continue
            rows.append({
                "asset": item["asset"],
                "rank": rank,
                "venue": LABELS.get(venue["exchange"], venue["exchange"]),
                "order": EXCHANGES.index(venue["exchange"]) if venue["exchange"] in EXCHANGES else 99,
                "volume": float(Decimal(venue["volume_usd"])),
            })
    return rows


def split_chart(assets: Sequence[AssetItemDoc]) -> dict[str, Any]:
    """Horizontal bars, one per asset (largest first), stacked by venue."""
    spec = copy.deepcopy(_split_template(len(assets)))
    spec["datasets"] = {SPLIT_DATA: split_rows(assets)}
    return spec


@functools.lru_cache(maxsize=8)
def _split_template(count: int) -> dict[str, Any]:
    chart = (
        alt.Chart(alt.NamedData(SPLIT_DATA))
        .transform_calculate(volume_text=COMPACT_USD)
        .mark_bar()
        .encode(
            y=alt.Y("asset:N", title=None, sort=alt.EncodingSortField("rank", op="min", order="ascending")),
            x=alt.X("sum(volume):Q", title="Rolling-24h USD volume", axis=_usd_axis(), stack="zero"),
            color=_color(list(EXCHANGES)),
            order=alt.Order("order:Q", sort="ascending"),
            tooltip=[
                alt.Tooltip("asset:N", title="Asset"),
                alt.Tooltip("venue:N", title="Venue"),
                alt.Tooltip("volume_text:N", title="24h volume"),
            ],
        )
        .properties(width="container", height=max(120, 22 * count))
    )
    return _finish(chart, SPLIT_DATA, [])


def compare_rows(
    periods: list[tuple[date, date]],
    volumes: dict[tuple[str, date], Decimal],
    totals: dict[date, Decimal],
    names: list[str],
) -> list[dict[str, Any]]:
    """One row per asset and period with data: its USD and its share of all venues' total then."""
    rows = []
    for start, end in periods:
        total = totals.get(start)
        for order, name in enumerate(names):
            volume = volumes.get((name, start))
            if volume is None:
                continue  # no stored day: a gap in the line, not a zero
            rows.append({
                "period": start.isoformat(),
                "end": (end + timedelta(days=1)).isoformat(),
                "asset": name,
                "order": order,
                "volume": float(volume),
                "share": float(volume / total) if total else None,
            })
    return rows


def compare_chart(rows: list[dict[str, Any]], names: list[str], granularity: str, view: CompareView) -> dict[str, Any]:
    spec = copy.deepcopy(_compare_template(tuple(names), granularity, view))
    spec["datasets"] = {COMPARE_DATA: rows}
    return spec


@functools.lru_cache(maxsize=64)
def _compare_template(names: tuple[str, ...], granularity: str, view: CompareView) -> dict[str, Any]:
    title = _TITLES.get(granularity, "UTC day")
    share = view == "share"
    y = (
        alt.Y("share:Q", title="Share of all perp volume", axis=alt.Axis(format="%"))
        if share
        else alt.Y("volume:Q", title="USD volume", axis=_usd_axis())
    )
    chart = (
        alt.Chart(alt.NamedData(COMPARE_DATA))
        .transform_calculate(volume_text=COMPACT_USD, share_text="format(datum.share, '.2%')")
        .mark_line(point=len(names) <= 5 and granularity != "daily")
        .encode(
            x=alt.X("period:T", title=title, scale=alt.Scale(type="utc"), axis=_time_axis(granularity)),
            y=y,
            color=alt.Color(
                "asset:N", title="Asset", scale=alt.Scale(domain=list(names), range=list(ASSET_COLORS[: len(names)])),
                legend=alt.Legend(orient="top", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("utcyearmonthdate(period):T", title=title),
                alt.Tooltip("asset:N", title="Asset"),
                alt.Tooltip("volume_text:N", title="Volume (USD)"),
                alt.Tooltip("share_text:N", title="Share of total"),
            ],
        )
        .properties(width="container", height=340)
    )
    return _finish(chart, COMPARE_DATA, [])
