"""Issue 15, wrong figure 2: one judgement of freshness, made at serving time, on every surface."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cli.commands.status import collect_status
from core.settings import Settings
from exchanges.sim.app import Fault, SimulatorApp
from tests.conftest import make_settings
from tests.faults.conftest import STALE_SECONDS, Clock, DepsFactory
from tests.faults.support import refusing_postgres, served
from workers import ingest

VENUES = ["bybit", "woox", "hyperliquid", "paradex"]


def _stale(doc: dict[str, Any]) -> dict[str, bool]:
    return {v["exchange"]: v["stale"] for v in doc["exchanges"]}


async def test_the_cache_served_during_a_postgres_outage_is_judged_at_serving_time(
    make_deps: DepsFactory, clock: Clock, fault_settings: Settings
) -> None:
    clock.at = datetime.now(UTC) - timedelta(seconds=64)
    assert all((await ingest.poll_all(make_deps("w1"))).values())
    async with refusing_postgres() as dsn:
        down = make_settings(
            DATABASE_URL=dsn,
            REDIS_URL=fault_settings.redis_url,
            PERPVOL_REDIS_PREFIX=fault_settings.redis_prefix,
            PERPVOL_STALE_SECONDS=STALE_SECONDS,
        )
        async with served(down) as client:
            current = (await client.get("/api/volume/current")).json()
            public = (await client.get("/public/latest-volume")).json()
    assert current["served_from"] == "cache"
    assert current["complete"] is False and current["excluded"] == VENUES
    assert all(v["age_seconds"] >= 60 for v in current["exchanges"])
    assert _stale(current) == dict.fromkeys(VENUES, True)
    assert (public["excluded"], _stale(public)) == (current["excluded"], _stale(current))
    assert current["total_usd"] == public["total_usd"]


async def _surfaces(client: Any, settings: Settings, db: Any) -> dict[str, dict[str, bool]]:
    current = (await client.get("/api/volume/current")).json()
    public = (await client.get("/public/latest-volume")).json()
    health = (await client.get("/api/exchanges")).json()
    cli = await collect_status(db, settings)
    return {
        "api": _stale(current),
        "public": _stale(public),
        "exchanges": {v["exchange"]: not v["healthy"] for v in health["exchanges"]},
        "status": {v["exchange"]: v["stale"] for v in cli["exchanges"]},
    }


@pytest.mark.parametrize("fault", ["skew", "error5xx"])
async def test_api_public_exchanges_and_status_agree_on_every_venue(
    fault: str, make_deps: DepsFactory, sim: SimulatorApp, clock: Clock, fault_settings: Settings, db: Any
) -> None:
    deps = make_deps("w1")
    clock.at = datetime.now(UTC) - timedelta(seconds=45)
    if fault == "skew":
        # Hyperliquid's clock 3 minutes ahead once; the later correct polls must win.
        sim.faults.append(Fault(kind="skew", venue="hyperliquid", ms=180_000, count=1))
    assert all((await ingest.poll_all(deps)).values())
    clock.advance(STALE_SECONDS + 10)
    if fault == "error5xx":
        sim.faults.append(Fault(kind="error5xx", venue="woox"))
    await ingest.poll_all(deps)
    async with served(fault_settings) as client:
        seen = await _surfaces(client, fault_settings, db)
    expected = {name: fault == "error5xx" and name == "woox" for name in VENUES}
    assert seen == dict.fromkeys(seen, expected)


async def test_a_slow_poll_that_lands_after_a_failure_is_judged_by_its_completion(
    make_deps: DepsFactory, sim: SimulatorApp, clock: Clock, fault_settings: Settings, db: Any
) -> None:
    deps = make_deps("w1")
    clock.at = datetime.now(UTC) - timedelta(seconds=20)
    assert await ingest.poll_current(deps, "woox")
    sim.faults.append(Fault(kind="latency", venue="woox", ms=400, count=1))
    slow = asyncio.create_task(ingest.poll_current(deps, "woox"))
    await asyncio.sleep(0.1)  # the slow request is in flight
    sim.faults.append(Fault(kind="error5xx", venue="woox", count=2))  # both attempts
    clock.advance(5)
    assert await ingest.poll_current(deps, "woox") is False
    clock.advance(5)
    assert await slow  # it lands after the failure: the venue is answering again
    async with served(fault_settings) as client:
        seen = await _surfaces(client, fault_settings, db)
    assert all(surface["woox"] is False for surface in seen.values()), seen
