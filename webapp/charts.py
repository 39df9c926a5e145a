"""Dashboard charts: pure functions from rows to Vega-Lite specs (dicts), built with Altair. No I/O.

The browser renders them with the vendored vega-embed; `vl-convert` renders the same specs to SVG/PNG
for downloads. Data goes in as a named dataset (`datasets`), so a two-year daily series costs one list
and not Altair's per-value conversion. Times are UTC (`scale: utc`): a day is a UTC calendar day.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import altair as alt
from markupsafe import Markup

from core.current_volume import EXCHANGES
from core.venues import COLOURS, LABELS
from webapp.formatting import percent, usd_compact

# Colour-blind-safe (Okabe–Ito) and distinct in both themes.
VENUE_COLORS = COLOURS
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


def _usd_axis() -> alt.Axis:
    """`$12B` ticks: d3's SI prefix for 1e9 is G, but money is in billions, as everywhere on the pages."""
    return alt.Axis(format="$~s", labelExpr="replace(datum.label, 'G', 'B')")


# Time axes read "Nov 15" (the year added on Jan 1), monthly ones "Nov 2025": Vega's default multi-format
# mixes "November", "Nov 15" and "2025" on one axis.
DAY_LABELS = (
    "utcFormat(datum.value, utcmonth(datum.value) == 0 && utcdate(datum.value) == 1 ? '%b %-d, %Y' : '%b %-d')"
)


def _time_axis(granularity: str) -> alt.Axis:
    if granularity in ("monthly", "month"):
        return alt.Axis(format="%b %Y", formatType="utc")
    return alt.Axis(labelExpr=DAY_LABELS)


def _color(domain_keys: list[str], with_total: bool = False, legend_title: str | None = "Venue") -> alt.Color:
    domain = [LABELS[key] for key in domain_keys]
    colors = [VENUE_COLORS[key] for key in domain_keys]
    if with_total:
        domain.append("Total")
        colors.append(TOTAL_COLOR)
    return alt.Color(
        "venue:N",
        title=legend_title,
        scale=alt.Scale(domain=domain, range=colors),
        sort=domain,
        legend=alt.Legend(orient="top", direction="horizontal", labelFontSize=12),
    )


def _finish(chart: alt.TopLevelMixin, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict(validate=False)
    spec["datasets"] = {name: rows}
    spec["autosize"] = {"type": "fit", "contains": "padding"}
    return spec


_HTML_SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"))


def spec_json(spec: dict[str, Any]) -> Markup:
    """A spec as compact JSON, safe inside `<script type="application/json">` (the Jinja filter `spec_json`).

    Like Jinja's `tojson` (the same escapes of `<`, `>`, `&` and `'`), without sorting keys or spaces:
    a two-year daily chart carries thousands of rows, and `tojson` costs several milliseconds more.
    """
    text = json.dumps(spec, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _HTML_SAFE:  # str.replace: far quicker than str.translate on a long string
        text = text.replace(char, escaped)
    return Markup(text)


def share_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
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


def share_chart(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Donut of each venue's share of the rolling-24h total."""
    spec = copy.deepcopy(_share_template())
    spec["datasets"] = {SHARE_DATA: share_rows(doc)}
    return spec


@functools.lru_cache(maxsize=1)
def _share_template() -> dict[str, Any]:
    chart = (
        # No chart title or legend title: the card's heading ("Market share") already says both.
        alt.Chart(alt.NamedData(SHARE_DATA))
        .mark_arc(innerRadius=55, stroke=None)
        .encode(
            theta=alt.Theta("volume:Q", stack=True),
            color=_color(list(EXCHANGES), legend_title=None),
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


def history_rows(periods: Sequence[Mapping[str, Any]], *, with_total: bool = False) -> list[dict[str, Any]]:
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
                    "order": EXCHANGES.index(venue["exchange"]),
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
    periods: Sequence[Mapping[str, Any]],
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
    x = alt.X("period:T", title=title, scale=alt.Scale(type="utc"), axis=_time_axis(granularity))
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
            axis=_usd_axis(),
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
        axis=alt.Axis(format="%") if share else _usd_axis(),
        # Normalised sums can land a hair over 1, which `nice` would round up to a 110% axis.
        scale=alt.Scale(domain=[0, 1]) if share else alt.Undefined,
    )
    opacity = alt.condition("datum.complete", alt.value(1.0), alt.value(0.45))
    chart = (
        alt.Chart(alt.NamedData(HISTORY_DATA))
        .transform_calculate(volume_text=COMPACT_USD)
        .transform_stack(
            stack="volume",
            as_=["y0", "y1"],
            groupby=["period"],
            sort=[alt.SortField("order", order="ascending")],
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


# ---- a signed-in user's own volume ----------------------------------------------------------------------

OWN_DATA = "own"
_OWN_TITLE = {"day": "UTC day", "week": "Week (Monday, UTC)", "month": "Month (UTC)"}


def next_period(start: date, interval: str) -> date:
    """The first day after the period that starts on `start`."""
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=1)


def own_rows(periods: Sequence[Mapping[str, Any]], interval: str) -> list[dict[str, Any]]:
    """Chart rows from the account API's period rows (`period_start`, `exchange`, `volume_usd`, `fills`,
    `market_volume_usd`, `share`): one per period and venue, spanning the period; `share` is None where the
    venue's market volume for the period is not stored."""
    rows = []
    for p in periods:
        if p["volume_usd"] is None:
            continue
        start = date.fromisoformat(p["period_start"])
        rows.append(
            {
                "period": start.isoformat(),
                "next": next_period(start, interval).isoformat(),
                "venue": LABELS.get(p["exchange"], p["exchange"]),
                "order": EXCHANGES.index(p["exchange"]) if p["exchange"] in EXCHANGES else len(EXCHANGES),
                "volume": float(Decimal(p["volume_usd"])),
                "volume_text": usd_compact(p["volume_usd"]),
                "fills": p["fills"],
                "share": None if p["share"] is None else float(Decimal(p["share"])),
                "share_text": percent(p["share"], 4),
                "market_text": usd_compact(p["market_volume_usd"]),
            }
        )
    return rows


def _own_venues(periods: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    present = {p["exchange"] for p in periods}
    return tuple(name for name in EXCHANGES if name in present)


def own_volume_chart(periods: Sequence[Mapping[str, Any]], interval: str = "day") -> dict[str, Any]:
    """The user's own USD volume per period, bars spanning each day/week/month, stacked by venue."""
    spec = copy.deepcopy(_own_template(interval, "volume", _own_venues(periods)))
    spec["datasets"] = {OWN_DATA: own_rows(periods, interval)}
    return spec


def own_share_chart(periods: Sequence[Mapping[str, Any]], interval: str = "day") -> dict[str, Any]:
    """The user's share of each venue's whole market volume per period, one line per venue (periods
    without a stored market figure are left out)."""
    spec = copy.deepcopy(_own_template(interval, "share", _own_venues(periods)))
    rows = [row for row in own_rows(periods, interval) if row["share"] is not None]
    spec["datasets"] = {OWN_DATA: rows}
    return spec


@functools.lru_cache(maxsize=32)
def _own_template(interval: str, view: View, exchanges: tuple[str, ...]) -> dict[str, Any]:
    title = _OWN_TITLE.get(interval, "UTC day")
    x = alt.X("period:T", title=title, scale=alt.Scale(type="utc"), axis=_time_axis(interval))
    tooltip = [
        alt.Tooltip("utcyearmonthdate(period):T", title=title),
        alt.Tooltip("venue:N", title="Venue"),
        alt.Tooltip("volume_text:N", title="My volume (USD)"),
        alt.Tooltip("fills:Q", title="Fills"),
        alt.Tooltip("market_text:N", title="Venue's market volume"),
        alt.Tooltip("share_text:N", title="My share"),
    ]
    base = alt.Chart(alt.NamedData(OWN_DATA))
    if view == "share":
        chart = base.mark_line(point=True).encode(
            x=x,
            y=alt.Y("share:Q", title="Share of the venue's volume", axis=alt.Axis(format="~%")),
            color=_color(list(exchanges)),
            tooltip=tooltip,
        )
        return _finish(chart.properties(width="container", height=220), OWN_DATA, [])
    # Bars span each period (x to x2), so Vega-Lite will not stack them by itself: stack explicitly.
    chart = (
        base.transform_stack(
            stack="volume", as_=["y0", "y1"], groupby=["period"], sort=[alt.SortField("order", order="ascending")]
        )
        .mark_bar()
        .encode(
            x=x,
            x2="next:T",
            y=alt.Y("y0:Q", title="My USD volume", axis=_usd_axis()),
            y2="y1:Q",
            color=_color(list(exchanges)),
            tooltip=tooltip,
        )
        .properties(width="container", height=300)
    )
    return _finish(chart, OWN_DATA, [])
