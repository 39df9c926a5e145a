"""Issue 15, also observed: retries end inside the poll job's time limit, and a poll that ends without
a figure always records why (never a stale venue with `error: null`)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from exchanges.http import RetryPolicy
from exchanges.sim.app import Fault, SimulatorApp
from storage.queries import status
from tests.faults.conftest import DepsFactory
from workers import ingest


async def _woox(db: asyncpg.Pool) -> status.VenueStatusRow:
    return next(r for r in await status.select_venue_status(db) if r.exchange == "woox")


async def test_a_venue_throttling_with_long_retry_after_fails_within_the_budget_with_its_reason(
    make_deps: DepsFactory, sim: SimulatorApp, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    deps.poll_budget = 1.0
    # Production retry settings: 5 attempts, Retry-After honoured.
    deps.connectors["woox"].client.policy = RetryPolicy(attempts=5, timeout=1.0)
    sim.faults.append(Fault(kind="throttle", venue="woox", retry_after=5))
    started = time.monotonic()
    assert await ingest.poll_current(deps, "woox") is False
    assert time.monotonic() - started < 3
    row = await _woox(db)
    assert row.consecutive_failures == 1 and row.last_error is not None
    assert "gave up after 1s" in row.last_error and "woox" in row.last_error
    assert "-1003" in row.last_error or "429" in row.last_error  # the venue's own reason survives


async def test_a_poll_killed_mid_request_still_records_an_error(
    make_deps: DepsFactory, sim: SimulatorApp, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    sim.faults.append(Fault(kind="latency", venue="woox", ms=5000))
    poll = asyncio.create_task(ingest.poll_current(deps, "woox"))
    await asyncio.sleep(0.3)
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    row = await _woox(db)
    assert row.last_error is not None and "cancelled" in row.last_error

