from __future__ import annotations

from typing import Any

from webapp.charts import DAY_LABELS, history_chart, share_chart


def _period(day: str, volumes: dict[str, str | None]) -> dict[str, Any]:
    return {
        "period_start": day,
        "period_end": day,
        "total_usd": None,
        "complete": False,
        "gaps": [],
        "exchanges": [
            {
                "exchange": name,
                "volume_usd": value,
                "complete": value is not None,
                "days_expected": 1,
                "days_covered": int(value is not None),
                "days_incomplete": 0,
                "markets_pending": 0,
                "estimated": False,
            }
            for name, value in volumes.items()
        ],
    }


def test_history_bars_are_stacked_per_period_and_a_missing_venue_is_a_gap() -> None:
    periods = [
        _period("2026-01-01", {"bybit": "10", "woox": "5"}),
        _period("2026-01-02", {"bybit": "12", "woox": None}),
    ]
    spec = history_chart(periods, ["bybit", "woox"])
    stack = next(t for t in spec["transform"] if "stack" in t)
    assert stack["groupby"] == ["period"] and stack["offset"] == "zero"
    assert spec["encoding"]["y"]["field"] == "y0" and spec["encoding"]["y2"]["field"] == "y1"
    rows = next(iter(spec["datasets"].values()))
    assert [(r["period"], r["venue"]) for r in rows] == [
        ("2026-01-01", "Bybit"),
        ("2026-01-01", "WOO X"),
        ("2026-01-02", "Bybit"),
    ]


def test_share_view_stacks_to_one() -> None:
    spec = history_chart([_period("2026-01-01", {"bybit": "3", "woox": "1"})], ["bybit", "woox"], view="share")
    assert next(t for t in spec["transform"] if "stack" in t)["offset"] == "normalize"


def test_history_time_axis_reads_nov_15_and_months_read_nov_2025() -> None:
    period = [_period("2026-01-01", {"bybit": "3"})]
    for granularity in ("daily", "weekly"):
        axis = history_chart(period, ["bybit"], granularity=granularity)["encoding"]["x"]["axis"]
        assert axis["labelExpr"] == DAY_LABELS and "format" not in axis
    for scale in ("linear", "log"):
        monthly = history_chart(period, ["bybit"], granularity="monthly", scale=scale)
        encoding = monthly["encoding"] if "encoding" in monthly else monthly["layer"][0]["encoding"]
        assert encoding["x"]["axis"]["format"] == "%b %Y"
    assert "'%b %-d'" in DAY_LABELS and "%B" not in DAY_LABELS


def test_the_share_donut_has_no_tiny_title_or_legend_title_of_its_own() -> None:
    doc = {"exchanges": [{"exchange": "bybit", "label": "Bybit", "volume_usd": "3", "share": "1", "stale": False}]}
    spec = share_chart(doc)
    assert "title" not in spec
    legend = spec["encoding"]["color"]
    assert legend["title"] is None and legend["legend"]["labelFontSize"] == 12
