"""Issue 15, recovery 6: a venue's clock running ahead neither pins nor hides the venue."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from exchanges.sim.app import Fault, SimulatorApp
from storage.current_cache import build_from_db
from storage.queries import snapshots
from tests.faults.conftest import Clock, DepsFactory
from workers import ingest


async def test_an_as_of_minutes_ahead_is_clamped_to_the_fetch_time_with_the_reason(
    make_deps: DepsFactory, sim: SimulatorApp, clock: Clock, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    sim.faults.append(Fault(kind="skew", venue="woox", ms=180_000, count=1))
    assert await ingest.poll_current(deps, "woox")
    (latest,) = await snapshots.select_latest_snapshots(db)
    assert latest.as_of == clock.at == latest.taken_at
    assert latest.as_of_note is not None and "180s ahead" in latest.as_of_note
    doc = await build_from_db(db, deps.settings, clock.at)
    woox = next(v for v in doc["exchanges"] if v["exchange"] == "woox")
    assert woox["as_of_note"] == latest.as_of_note and woox["stale"] is False


async def test_correct_polls_after_a_skewed_one_become_the_current_figure_at_once(
    make_deps: DepsFactory, sim: SimulatorApp, clock: Clock, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    # 20 s ahead: within the tolerance, so stored as the venue said, yet it must not pin the venue.
    sim.faults.append(Fault(kind="skew", venue="woox", ms=20_000, count=1))
    assert await ingest.poll_current(deps, "woox")
    clock.advance(15)
    assert await ingest.poll_current(deps, "woox")
    (latest,) = await snapshots.select_latest_snapshots(db)
    assert latest.taken_at == clock.at and latest.as_of == clock.at
    clock.advance(40)  # past the stale limit of the skewed poll's fetch, not of the latest one
    assert await ingest.poll_current(deps, "woox")
    doc = await build_from_db(db, deps.settings, clock.at + timedelta(seconds=1))
    woox = next(v for v in doc["exchanges"] if v["exchange"] == "woox")
    assert woox["stale"] is False and woox["age_seconds"] == 1


async def test_a_venue_clock_hours_behind_does_not_exclude_a_venue_that_answers(
    make_deps: DepsFactory, sim: SimulatorApp, clock: Clock, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    sim.faults.append(Fault(kind="skew", venue="bybit", ms=-3 * 3600_000))
    assert await ingest.poll_current(deps, "bybit")
    doc = await build_from_db(db, deps.settings, clock.at)
    bybit = next(v for v in doc["exchanges"] if v["exchange"] == "bybit")
    assert bybit["stale"] is False and "bybit" not in doc["excluded"]
