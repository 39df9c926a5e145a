"""Dashboard charts: pure functions from rows to Vega-Lite specs (dicts), built with Altair. No I/O.

The browser renders them with the vendored vega-embed; `vl-convert` renders the same specs to SVG/PNG
for downloads. Data goes in as a named dataset (`datasets`), so a two-year daily series costs one list
and not Altair's per-value conversion. Times are UTC (`scale: utc`): a day is a UTC calendar day.
"""

from __future__ import annotations

import copy
import functools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import altair as alt

from webapp.formatting import percent, usd_compact
from webapp.live_state import EXCHANGES, LABELS

# Colour-blind-safe (Okabe–Ito) and distinct in both themes.
VENUE_COLORS = {"bybit": "#E69F00", "woox": "#0072B2", "hyperliquid": "#009E73", "paradex": "#CC79A7"}
TOTAL_COLOR = "#888888"
HISTORY_DATA = "history"
SHARE_DATA = "share"

View = Literal["volume", "share"]
Scale = Literal["linear", "log"]

# "$12.34B" in the tooltip, computed by vega (the same rounding as webapp.formatting.usd_compact).
COMPACT_USD = (
    " : ".join(
        f"datum.volume >= {size} ? '$' + format(datum.volume / {size}, ',.2f') + '{suffix}'"
        for size, suffix in (("1e12", "T"), ("1e9", "B"), ("1e6", "M"), ("1e3", "K"))
    )
    + " : '$' + format(datum.volume, ',.2f')"
)

_GRANULARITY_TITLE = {"daily": "UTC day", "weekly": "ISO week (Monday, UTC)", "monthly": "Month (UTC)"}


def _color(domain_keys: list[str], with_total: bool = False) -> alt.Color:
    domain = [LABELS[key] for key in domain_keys]
    colors = [VENUE_COLORS[key] for key in domain_keys]
    if with_total:
        domain.append("Total")
        colors.append(TOTAL_COLOR)
    return alt.Color(
        "venue:N",
        title="Venue",
        scale=alt.Scale(domain=domain, range=colors),
        sort=domain,
        legend=alt.Legend(orient="top", direction="horizontal"),
    )


def _finish(chart: alt.TopLevelMixin, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict(validate=False)
    spec["datasets"] = {name: rows}
    spec["autosize"] = {"type": "fit", "contains": "padding"}
    return spec


def share_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per venue counted in the total (stale venues have no share)."""
    rows = []
    for venue in doc.get("exchanges", []):
        if venue.get("share") is None or venue.get("volume_usd") is None:
            continue
        rows.append(
            {
                "venue": venue["label"],
                "volume": float(Decimal(venue["volume_usd"])),
                "volume_text": usd_compact(venue["volume_usd"]),
                "share_text": percent(venue["share"]),
            }
        )
    return rows


def share_chart(doc: dict[str, Any]) -> dict[str, Any]:
    """Donut of each venue's share of the rolling-24h total."""
    spec = copy.deepcopy(_share_template())
    spec["datasets"] = {SHARE_DATA: share_rows(doc)}
    return spec


@functools.lru_cache(maxsize=1)
def _share_template() -> dict[str, Any]:
    chart = (
        alt.Chart(alt.NamedData(SHARE_DATA), title="Share of 24h volume")
        .mark_arc(innerRadius=55, stroke=None)
        .encode(
            theta=alt.Theta("volume:Q", stack=True),
            color=_color(list(EXCHANGES)),
            order=alt.Order("volume:Q", sort="descending"),
            tooltip=[
                alt.Tooltip("venue:N", title="Venue"),
                alt.Tooltip("volume_text:N", title="24h volume"),
                alt.Tooltip("share_text:N", title="Share"),
            ],
        )
        .properties(width="container", height=240)
    )
    return _finish(chart, SHARE_DATA, [])


def history_rows(periods: list[dict[str, Any]], *, with_total: bool = False) -> list[dict[str, Any]]:
    """Long rows (one per period and venue) from the API's period documents.

    A venue without any stored day in a period has no row at all: the chart shows a gap, not a zero.
    The compact tooltip text is computed in the chart (`COMPACT_USD`); exact figures are in the table.
    """
    rows: list[dict[str, Any]] = []
    for period in periods:
        start = period["period_start"]
        following = (date.fromisoformat(period["period_end"]) + timedelta(days=1)).isoformat()
        for venue in period["exchanges"]:
            if venue["volume_usd"] is None:
                continue
            rows.append(
                {
                    "period": start,
                    "next": following,
                    "venue": LABELS[venue["exchange"]],
                    "volume": float(venue["volume_usd"]),
                    "complete": venue["complete"],
                    "status": "complete" if venue["complete"] else _status(venue),
                }
            )
        if with_total and period["total_usd"] is not None:
            status = "complete" if period["complete"] else "incomplete: " + ", ".join(period["gaps"])
            rows.append(
                {
                    "period": start,
                    "next": following,
                    "venue": "Total",
                    "volume": float(period["total_usd"]),
                    "complete": period["complete"],
                    "status": status,
                }
            )
    return rows


def _status(venue: dict[str, Any]) -> str:
    missing = venue["days_expected"] - venue["days_covered"]
    parts = []
    if missing:
        parts.append(f"{missing} day(s) missing")
    if venue["days_incomplete"]:
        parts.append("day still running")
    if venue["markets_pending"]:
        parts.append(f"{venue['markets_pending']} market(s) pending backfill")
    if venue["estimated"]:
        parts.append("estimated")
    return "incomplete: " + ", ".join(parts)


def history_chart(
    periods: list[dict[str, Any]],
    exchanges: list[str],
    *,
    granularity: str = "daily",
    view: View = "volume",
    scale: Scale = "linear",
) -> dict[str, Any]:
    """Volume over time stacked by venue (bars spanning each period); `share` stacks to 100%; `log`
    draws one line per venue plus the total (stacking on a log axis would mislead). Incomplete periods
    are drawn faded; a venue with no stored day in a period leaves a gap."""
    lines = scale == "log" and view == "volume"
    spec = copy.deepcopy(_history_template(granularity, view, lines, tuple(exchanges), len(periods) <= 120))
    spec["datasets"] = {HISTORY_DATA: history_rows(periods, with_total=lines)}
    return spec


@functools.lru_cache(maxsize=64)
def _history_template(
    granularity: str, view: View, lines: bool, exchanges: tuple[str, ...], points: bool
) -> dict[str, Any]:
    """The spec without data; Altair's to_dict costs milliseconds, so each shape is built once."""
    title = _GRANULARITY_TITLE.get(granularity, "UTC day")
    x = alt.X("period:T", title=title, scale=alt.Scale(type="utc"))
    tooltip = [
        alt.Tooltip("utcyearmonthdate(period):T", title=title),
        alt.Tooltip("venue:N", title="Venue"),
        alt.Tooltip("volume_text:N", title="Volume (USD)"),
        alt.Tooltip("status:N", title="Data"),
    ]
    if lines:
        y = alt.Y(
            "volume:Q",
            title="USD volume (log scale)",
            scale=alt.Scale(type="log"),
            axis=alt.Axis(format="$~s"),
        )
        chart = (
            alt.Chart(alt.NamedData(HISTORY_DATA))
            .transform_calculate(volume_text=COMPACT_USD)
            .mark_line(point=points)
            .encode(x=x, y=y, color=_color(list(exchanges), with_total=True), tooltip=tooltip)
        )
        return _finish(chart.properties(width="container", height=340), HISTORY_DATA, [])
    # Bars span each period (x to x2), so Vega-Lite will not stack them by itself: stack explicitly.
    share = view == "share"
    y = alt.Y(
        "y0:Q",
        title="Share of total" if share else "USD volume",
        axis=alt.Axis(format="%" if share else "$~s"),
    )
    opacity = alt.condition("datum.complete", alt.value(1.0), alt.value(0.45))
    chart = (
        alt.Chart(alt.NamedData(HISTORY_DATA))
        .transform_calculate(volume_text=COMPACT_USD)
        .transform_stack(
            stack="volume",
            as_=["y0", "y1"],
            groupby=["period"],
            sort=[alt.SortField("venue", order="ascending")],
            offset="normalize" if share else "zero",
        )
        .mark_bar()
        .encode(
            x=x,
            x2="next:T",
            y=y,
            y2="y1:Q",
            color=_color(list(exchanges)),
            opacity=opacity,
            tooltip=tooltip,
        )
        .properties(width="container", height=340)
    )
    return _finish(chart, HISTORY_DATA, [])
