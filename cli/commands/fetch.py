"""`perpvol fetch current|history`: one-off fetches straight from the venues, printed as text or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TextIO

from core.settings import Settings
from exchanges.base import Connector, CurrentSnapshot, DailyVolume, Exchange, Market
from exchanges.errors import ExchangeError
from exchanges.registry import make_connector


@dataclass(frozen=True, slots=True)
class VenueResult:
    exchange: Exchange
    snapshot: CurrentSnapshot | None
    error: str | None
    source: str


async def _current_one(connector: Connector) -> VenueResult:
    try:
        snapshot = await connector.fetch_current()
    except ExchangeError as exc:
        return VenueResult(connector.name, None, str(exc), connector.info.current_source)
    finally:
        await connector.aclose()
    return VenueResult(connector.name, snapshot, None, snapshot.source)


async def fetch_current(settings: Settings, exchanges: tuple[Exchange, ...]) -> list[VenueResult]:
    connectors = [make_connector(exchange, settings) for exchange in exchanges]
    return list(await asyncio.gather(*(_current_one(c) for c in connectors)))


def current_document(results: list[VenueResult], as_of: datetime) -> dict[str, Any]:
    """The `--json` document; the total sums only venues that answered (failed ones say so)."""
    venues = []
    for r in results:
        snap = r.snapshot
        venues.append(
            {
                "exchange": r.exchange,
                "ok": snap is not None,
                "error": r.error,
                "total_usd": str(snap.total_usd) if snap else None,
                "window": "rolling_24h",
                "source": r.source,
                "as_of": _iso(snap.as_of) if snap else None,
                "estimated": snap.estimated if snap else False,
                "markets": [
                    {"symbol": m.symbol, "volume_usd": str(m.volume_usd), "estimated": m.estimated}
                    for m in (snap.markets if snap else ())
                ],
            }
        )
    answered = [r.snapshot.total_usd for r in results if r.snapshot]
    # null when no venue answered: "0" would read as "nothing traded".
    total = str(sum(answered, Decimal(0))) if answered else None
    return {"as_of": _iso(as_of), "total_usd": total, "exchanges": venues}


def print_current(results: list[VenueResult], as_of: datetime, out: TextIO) -> None:
    out.write(f"Rolling-24h perpetual volume (USD notional), fetched {_iso(as_of)}\n\n")
    for r in results:
        if r.snapshot is None:
            out.write(f"  {r.exchange:<12} FAILED  {r.error}\n")
            continue
        est = "  (estimated)" if r.snapshot.estimated else ""
        out.write(
            f"  {r.exchange:<12} {_usd(r.snapshot.total_usd):>24}  {len(r.snapshot.markets):>4} markets"
            f"  as of {_iso(r.snapshot.as_of)}{est}\n"
        )
        out.write(f"  {'':<12} source: {r.snapshot.source}\n")
    answered = [r.snapshot.total_usd for r in results if r.snapshot]
    failed = [r.exchange for r in results if r.snapshot is None]
    if not answered:
        out.write(f"\n  {'total':<12} {'no data':>24}  (no venue answered: check the network or proxy)\n")
        return
    note = f"  (excludes failed: {', '.join(failed)})" if failed else ""
    out.write(f"\n  {'total':<12} {_usd(sum(answered, Decimal(0))):>24}{note}\n")


async def fetch_history(
    settings: Settings,
    exchange: Exchange,
    start: date,
    end: date,
    market: str | None,
    progress: TextIO | None,
) -> list[DailyVolume]:
    connector = make_connector(exchange, settings)
    try:
        markets = await connector.list_markets()
        if market is not None:
            markets = [m for m in markets if m.symbol == market]
            if not markets:
                raise ExchangeError(exchange, "markets", f"no perpetual market named {market!r}")
        return await daily_for_markets(connector, markets, start, end, progress)
    finally:
        await connector.aclose()


async def daily_for_markets(
    connector: Connector, markets: list[Market], start: date, end: date, progress: TextIO | None
) -> list[DailyVolume]:
    """Daily rows of every market, four at a time (the connector's limiter keeps the pace)."""
    rows: list[DailyVolume] = []
    done = 0
    queue: asyncio.Queue[Market] = asyncio.Queue()
    for m in markets:
        queue.put_nowait(m)

    async def work() -> None:
        nonlocal done
        while not queue.empty():
            m = queue.get_nowait()
            rows.extend(await connector.fetch_daily(m, start, end))
            done += 1
            if progress is not None:
                _bar(progress, done, len(markets), m.symbol)

    await asyncio.gather(*(work() for _ in range(4)))
    if progress is not None:
        progress.write("\n")
    return rows


def history_document(exchange: Exchange, rows: list[DailyVolume]) -> dict[str, Any]:
    by_day: dict[date, list[DailyVolume]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    days = [
        {
            "day": day.isoformat(),
            "volume_usd": str(sum((r.volume_usd for r in items), Decimal(0))),
            "markets": len(items),
            "estimated": any(r.estimated for r in items),
            "complete": all(r.complete for r in items),
        }
        for day, items in sorted(by_day.items())
    ]
    return {"exchange": exchange, "window": "utc_day", "days": days}


def print_history(doc: dict[str, Any], out: TextIO) -> None:
    out.write(f"{doc['exchange']}: daily perpetual volume (USD notional, UTC days)\n")
    for d in doc["days"]:
        flags = ("  estimated" if d["estimated"] else "") + ("" if d["complete"] else "  (day not over)")
        out.write(f"  {d['day']}  {_usd(Decimal(d['volume_usd'])):>24}  {d['markets']:>4} markets{flags}\n")


def dump_json(doc: dict[str, Any], out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(doc, indent=2) + "\n")


def _bar(out: TextIO, done: int, total: int, label: str) -> None:
    width = 30
    filled = width * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[:24]:<24}")
    out.flush()


def _usd(value: Decimal) -> str:
    return f"${value:,.2f}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
