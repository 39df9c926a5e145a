"""Issue 15, wrong figure 1: a venue answering for only part of its markets (HTTP 200, valid JSON) is
refused, never summed as a smaller total."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from exchanges.sim.app import Fault, SimulatorApp
from exchanges.sim.model import SimModel
from storage.current_cache import cached_current
from storage.queries import status
from tests.faults.conftest import Clock, DepsFactory
from workers import ingest

CURRENT_PATHS = {
    "bybit": "/v5/market/tickers",
    "woox": "/v3/public/futures",
    "hyperliquid": "/info",
    "paradex": "/v1/markets/summary",
}


async def _doc(deps: ingest.Deps) -> dict[str, Any]:
    raw = await cached_current(deps.redis, deps.settings)
    assert raw is not None
    doc: dict[str, Any] = json.loads(raw)
    return doc


def _venue(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in doc["exchanges"] if v["exchange"] == name)


@pytest.mark.parametrize("venue", list(CURRENT_PATHS))
async def test_a_half_answer_is_refused_with_the_missing_count_and_the_venue_excluded(
    venue: str, make_deps: DepsFactory, sim: SimulatorApp, clock: Clock, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    assert all((await ingest.poll_all(deps)).values())
    before = Decimal(_venue(await _doc(deps), venue)["volume_usd"])
    sim.faults.append(Fault(kind="partial", venue=venue, path=CURRENT_PATHS[venue]))
    clock.advance(15)
    assert await ingest.poll_current(deps, venue) is False
    row = next(r for r in await status.select_venue_status(db) if r.exchange == venue)
    assert row.last_error is not None
    assert row.last_error.startswith(venue) and "partial answer:" in row.last_error
    assert " markets it lists are missing" in row.last_error
    doc = await _doc(deps)
    figure = _venue(doc, venue)
    assert figure["stale"] is True and venue in doc["excluded"] and doc["complete"] is False
    assert Decimal(figure["volume_usd"]) == before  # the last whole figure, never the half one
    others = [Decimal(v["volume_usd"]) for v in doc["exchanges"] if v["exchange"] != venue]
    assert Decimal(doc["total_usd"]) == sum(others, Decimal(0))


async def test_the_error_counts_exactly_the_missing_markets(
    make_deps: DepsFactory, sim: SimulatorApp, db: asyncpg.Pool, model: SimModel
) -> None:
    deps = make_deps("w1")
    assert await ingest.poll_current(deps, "woox")
    listed = [m for m in model.markets("woox") if m.trading_on(model.today())]
    sim.faults.append(Fault(kind="partial", venue="woox", path="/v3/public/futures"))
    assert await ingest.poll_current(deps, "woox") is False
    row = next(r for r in await status.select_venue_status(db) if r.exchange == "woox")
    missing = len(listed) - int(len(listed) * 0.5)
    assert row.last_error is not None and f"{missing} of {len(listed)} markets" in row.last_error


async def test_a_partial_first_answer_after_a_restart_is_refused_against_the_stored_registry(
    make_deps: DepsFactory, sim: SimulatorApp
) -> None:
    await ingest.sync_markets(make_deps("before-restart"), "bybit")
    sim.faults.append(Fault(kind="partial", venue="bybit", path="/v5/market/tickers"))
    assert await ingest.poll_current(make_deps("after-restart"), "bybit") is False


async def test_the_venue_counts_again_once_it_answers_for_every_market(
    make_deps: DepsFactory, sim: SimulatorApp, clock: Clock
) -> None:
    deps = make_deps("w1")
    assert await ingest.poll_current(deps, "bybit")
    sim.faults.append(Fault(kind="partial", venue="bybit", path="/v5/market/tickers", count=2))
    assert await ingest.poll_current(deps, "bybit") is False
    clock.advance(5)
    assert await ingest.poll_current(deps, "bybit")
    bybit = _venue(await _doc(deps), "bybit")
    assert bybit["stale"] is False and bybit["error"] is None


async def test_a_market_the_venue_delisted_meanwhile_is_not_taken_for_a_partial_answer(
    make_deps: DepsFactory, model: SimModel
) -> None:
    deps = make_deps("w1")
    assert await ingest.poll_current(deps, "woox")
    markets = model.markets("woox")
    index = next(i for i, m in enumerate(markets) if m.trading_on(model.today()))
    markets[index] = dataclasses.replace(markets[index], delisted=model.today())
    assert await ingest.poll_current(deps, "woox")
