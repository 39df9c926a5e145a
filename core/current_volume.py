"""The "current volume" document: what `/api/volume/current`, `/public/latest-volume`, the live feeds
and the widget all show. Pure functions: rows in, JSON-able dict out.

A venue whose last good figure is older than the stale limit, or whose last poll failed, is shown
with its age and error and is left out of `total_usd` (listed in `excluded`): never silently summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.venues import LABELS, VENUES

# The venues as plain names, in display order (pages and documents list them this way).
EXCHANGES: tuple[str, ...] = tuple(VENUES)


@dataclass(frozen=True, slots=True)
class VenueFigure:
    """The last good rolling-24h figure of one venue and how its latest poll went."""

    exchange: str
    volume_usd: Decimal | None
    as_of: datetime | None
    fetched_at: datetime | None
    markets: int
    estimated: bool
    source: str
    error: str | None = None
    error_at: datetime | None = None


def failed_since_success(
    last_success: datetime | None, last_error: str | None, last_error_at: datetime | None
) -> bool:
    """The venue's latest poll failed: an error no older than its last success (or no success at all).
    A tie counts as failed: showing a venue as failing is the safe side."""
    if last_error is None:
        return False
    return last_success is None or last_error_at is None or last_error_at >= last_success


def is_fresh(
    last_success: datetime | None,
    last_error: str | None,
    last_error_at: datetime | None,
    now: datetime,
    stale_seconds: int,
) -> bool:
    """The one staleness rule: a recent success and no failure after it."""
    if last_success is None or (now - last_success).total_seconds() > stale_seconds:
        return False
    return not failed_since_success(last_success, last_error, last_error_at)


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_current(
    figures: list[VenueFigure],
    *,
    now: datetime,
    stale_seconds: int,
    data_mode: str,
    previous: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    by_name = {f.exchange: f for f in figures}
    venues = [_venue(by_name.get(name), name, now, stale_seconds) for name in EXCHANGES]
    fresh = [v for v in venues if not v["stale"] and v["volume_usd"] is not None]
    total = sum((Decimal(v["volume_usd"]) for v in fresh), Decimal(0))
    for v in venues:
        share = Decimal(v["volume_usd"]) / total if v in fresh and total else None
        v["share"] = str(share.quantize(Decimal("0.000001"))) if share is not None else None
    doc: dict[str, Any] = {
        "as_of": iso(now),
        "data_mode": data_mode,
        "simulated": data_mode == "simulated",
        "window": "rolling_24h",
        "unit": "USD",
        "total_usd": str(total),
        "complete": len(fresh) == len(venues),
        "excluded": [v["exchange"] for v in venues if v not in fresh],
        "estimated": any(v["estimated"] for v in fresh),
        "exchanges": venues,
    }
    if previous is not None:
        doc["change_24h"] = _change(venues, fresh, previous)
    return doc


def _venue(f: VenueFigure | None, name: str, now: datetime, stale_seconds: int) -> dict[str, Any]:
    if f is None:
        return {
            "exchange": name,
            "label": LABELS[name],
            "volume_usd": None,
            "as_of": None,
            "age_seconds": None,
            "stale": True,
            "error": "no data yet",
            "estimated": False,
            "source": "",
            "markets": 0,
        }
    age = int((now - f.fetched_at).total_seconds()) if f.fetched_at else None
    failed_since = failed_since_success(f.fetched_at, f.error, f.error_at)
    stale = f.volume_usd is None or not is_fresh(f.fetched_at, f.error, f.error_at, now, stale_seconds)
    return {
        "exchange": name,
        "label": LABELS[name],
        "volume_usd": str(f.volume_usd) if f.volume_usd is not None else None,
        "as_of": iso(f.as_of),
        "fetched_at": iso(f.fetched_at),
        "age_seconds": age,
        "stale": stale,
        "error": f.error if failed_since else None,
        "estimated": f.estimated,
        "source": f.source,
        "markets": f.markets,
    }


def _change(
    venues: list[dict[str, Any]], fresh: list[dict[str, Any]], previous: dict[str, Decimal]
) -> dict[str, Any]:
    """Change of the total against 24h earlier, over the venues that have both figures."""
    both = [v for v in fresh if v["exchange"] in previous]
    if not both:
        return {"available": False, "pct": None, "previous_usd": None, "exchanges": []}
    now_total = sum((Decimal(v["volume_usd"]) for v in both), Decimal(0))
    then_total = sum((previous[v["exchange"]] for v in both), Decimal(0))
    pct = ((now_total - then_total) / then_total * 100) if then_total else None
    return {
        "available": pct is not None,
        "pct": str(pct.quantize(Decimal("0.01"))) if pct is not None else None,
        "previous_usd": str(then_total),
        "exchanges": [v["exchange"] for v in both],
    }
