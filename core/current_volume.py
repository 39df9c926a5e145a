"""The "current volume" document: what `/api/volume/current`, `/public/latest-volume`, the live feeds
and the widget all show, and its public subset. Pure functions: rows in, typed JSON-able documents out
(TypedDicts, so mypy checks every key the views and the cache read or write).

A venue whose last good figure is older than the stale limit, or whose last poll failed, is shown
with its age and error and is left out of `total_usd` (listed in `excluded`): never silently summed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from core.documents import Change24hDoc, CurrentVolumeDoc, PublicVolumeDoc, VenueDoc
from core.venues import LABELS, VENUES

# Why there is no total when no venue counts (`no_data_reason`); the pages and the widget show it.
NO_VENUE_REACHABLE = "cannot reach any exchange"
NO_FIGURE_YET = "no figures yet: the first poll has not finished"
ALL_STALE = "every venue's figure is stale"
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
    as_of_note: str | None = None


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
    seq: int | None = None,
) -> CurrentVolumeDoc:
    """The document as judged at `now`. `seq` orders documents (larger: built later); `judged_at`
    orders judgements of one document (a re-judged copy carries the same `seq`)."""
    by_name = {f.exchange: f for f in figures}
    venues = [_venue(by_name.get(name), name, now, stale_seconds) for name in EXCHANGES]
    fresh = [v for v in venues if not v["stale"] and v["volume_usd"] is not None]
    total = sum((_usd(v) for v in fresh), Decimal(0))
    for v in venues:
        share = _usd(v) / total if v in fresh and total else None
        v["share"] = str(share.quantize(Decimal("0.000001"))) if share is not None else None
    doc: CurrentVolumeDoc = {
        "as_of": iso(now),
        "seq": seq,
        "judged_at": iso(now),
        "data_mode": data_mode,
        "simulated": data_mode == "simulated",
        "window": "rolling_24h",
        "unit": "USD",
        # null, never "0", when no venue counts: a zero would read as "nothing traded".
        "total_usd": str(total) if fresh else None,
        "no_data_reason": None if fresh else no_data_reason(venues),
        "complete": len(fresh) == len(venues),
        "excluded": [v["exchange"] for v in venues if v not in fresh],
        "estimated": any(v["estimated"] for v in fresh),
        "exchanges": venues,
    }
    if previous is not None:
        doc["change_24h"] = _change(venues, fresh, previous)
    return doc


def no_data_reason(venues: list[VenueDoc]) -> str:
    """Why no venue counts: every polled venue failing (network, proxy, firewall), none polled yet, or
    all figures too old (e.g. no worker running)."""
    failing = [v for v in venues if v["error"] and v["error"] != "no data yet"]
    if failing and all(v in failing or v["error"] == "no data yet" for v in venues):
        return NO_VENUE_REACHABLE
    if all(v["volume_usd"] is None for v in venues):
        return NO_FIGURE_YET
    return ALL_STALE


def _usd(venue: VenueDoc) -> Decimal:
    """The figure of a venue that counts in the total (fresh venues only, which all have one)."""
    assert venue["volume_usd"] is not None
    return Decimal(venue["volume_usd"])


def _venue(f: VenueFigure | None, name: str, now: datetime, stale_seconds: int) -> VenueDoc:
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
            "as_of_note": None,
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
        "as_of_note": f.as_of_note,
    }


def _change(venues: list[VenueDoc], fresh: list[VenueDoc], previous: dict[str, Decimal]) -> Change24hDoc:
    """Change of the total against 24h earlier, over the venues that have both figures."""
    both = [v for v in fresh if v["exchange"] in previous]
    if not both:
        return {"available": False, "pct": None, "previous_usd": None, "exchanges": []}
    now_total = sum((_usd(v) for v in both), Decimal(0))
    then_total = sum((previous[v["exchange"]] for v in both), Decimal(0))
    pct = ((now_total - then_total) / then_total * 100) if then_total else None
    return {
        "available": pct is not None,
        "pct": str(pct.quantize(Decimal("0.01"))) if pct is not None else None,
        "previous_usd": str(then_total),
        "exchanges": [v["exchange"] for v in both],
    }


def rejudge(doc: Mapping[str, Any], *, now: datetime, stale_seconds: int) -> CurrentVolumeDoc:
    """`doc` with every venue's age, stale flag and share, the total, `complete` and `excluded` judged
    again at `now`: the one rule (`is_fresh`) applied at serving time, whatever cache the document
    came from. Keys it does not judge (`seq`, `served_from`, ...) are kept; the build time stays `as_of`.
    `doc` is a built document as decoded from JSON."""
    figures = [figure_from_doc(v) for v in doc.get("exchanges", [])]
    judged = build_current(
        figures, now=now, stale_seconds=stale_seconds, data_mode=doc["data_mode"], seq=doc.get("seq")
    )
    judged["as_of"] = doc.get("as_of")
    change = doc.get("change_24h")
    if change is not None:
        compared = set(change.get("exchanges", []))
        # The comparison stays true only while every venue in it still counts.
        still = compared <= {v["exchange"] for v in judged["exchanges"] if not v["stale"]}
        unavailable: Change24hDoc = {"available": False, "pct": None, "previous_usd": None, "exchanges": []}
        judged["change_24h"] = change if still else unavailable
    return cast(CurrentVolumeDoc, {**doc, **judged})


def public_doc(doc: Mapping[str, Any], *, now: datetime, stale_seconds: int) -> PublicVolumeDoc:
    """The embeddable subset of the current document (`/public/latest-volume`, the widget), with stale
    flags and total re-judged at `now`. `doc` is a published document as decoded from JSON."""
    fresh = rejudge(doc, now=now, stale_seconds=stale_seconds)
    return {
        "as_of": doc.get("as_of"),
        "seq": fresh["seq"],
        "data_mode": fresh["data_mode"],
        "simulated": fresh["simulated"],
        "window": fresh["window"],
        "unit": fresh["unit"],
        "total_usd": fresh["total_usd"],
        "no_data_reason": fresh["no_data_reason"],
        "complete": fresh["complete"],
        "estimated": fresh["estimated"],
        "excluded": fresh["excluded"],
        "exchanges": [
            {
                "exchange": v["exchange"],
                "label": v["label"],
                "volume_usd": v["volume_usd"],
                "share": v["share"],
                "as_of": v["as_of"],
                "stale": v["stale"],
            }
            for v in fresh["exchanges"]
        ],
    }


def figure_from_doc(venue: Mapping[str, Any]) -> VenueFigure:
    """A venue entry of a built document back into the figure it was built from."""
    volume = venue.get("volume_usd")
    return VenueFigure(
        exchange=venue["exchange"],
        volume_usd=Decimal(volume) if volume is not None else None,
        as_of=_parse(venue.get("as_of")),
        fetched_at=_parse(venue.get("fetched_at")),
        markets=venue.get("markets", 0),
        estimated=venue.get("estimated", False),
        source=venue.get("source", ""),
        # The document carries an error only while it is newer than the last success.
        error=venue.get("error"),
        as_of_note=venue.get("as_of_note"),
    )


def judgement(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a re-judgement can change that a viewer must be told about (not the ticking ages)."""
    return (
        doc.get("total_usd"),
        tuple(doc.get("excluded", [])),
        tuple((v["exchange"], v["stale"], v.get("error")) for v in doc.get("exchanges", [])),
    )


def is_older(doc: Mapping[str, Any], than: Mapping[str, Any]) -> bool:
    """Whether `doc` is older than `than`: by build order (`seq`) when both carry one, else (and for two
    judgements of one build) by when they were judged. A document that says neither is never older."""
    seq, other = doc.get("seq"), than.get("seq")
    if seq is not None and other is not None and seq != other:
        return int(seq) < int(other)
    at, other_at = _stamp(doc), _stamp(than)
    return at is not None and other_at is not None and at < other_at


def _stamp(doc: Mapping[str, Any]) -> datetime | None:
    return _parse(doc.get("judged_at") or doc.get("as_of"))


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
