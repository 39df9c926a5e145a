"""Fault tests: the simulator in process for the venues, real PostgreSQL and Redis for the rest.

The clock is one mutable `Clock` shared by the simulator and the workers, so a test can move time
forward (a venue going stale) without sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import asyncpg
import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from exchanges.http import RetryPolicy
from exchanges.sim.app import SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims
from tests.conftest import make_settings
from tests.exchanges_support import SIM_NOW, sim_connectors
from workers import ingest

STALE_SECONDS = 30


class Clock:
    """The test's time: starts at SIM_NOW, moves only when told."""

    def __init__(self) -> None:
        self.at = SIM_NOW

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def model(clock: Clock) -> SimModel:
    # Few markets and a short history keep each test to a second or two.
    return SimModel(seed=7, now=clock, history_days=60, scale=0.1)


@pytest.fixture
def sim(model: SimModel) -> SimulatorApp:
    return SimulatorApp(model, venue_sims(model), enforce_limits=False)


@pytest.fixture
def fault_settings(db_dsn: str, redis_url: str, redis_prefix: str) -> Settings:
    return make_settings(
        DATABASE_URL=db_dsn,
        REDIS_URL=redis_url,
        PERPVOL_REDIS_PREFIX=redis_prefix,
        PERPVOL_HISTORY_DAYS=20,
        PERPVOL_STALE_SECONDS=STALE_SECONDS,
        PERPVOL_LEASE_SECONDS=2,
    )


DepsFactory = Callable[[str], ingest.Deps]


@pytest.fixture
async def make_deps(
    db: asyncpg.Pool, redis: aioredis.Redis, sim: SimulatorApp, fault_settings: Settings, clock: Clock
) -> AsyncIterator[DepsFactory]:
    made: list[ingest.Deps] = []

    def factory(worker_id: str) -> ingest.Deps:
        policy = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.01, timeout=1.0)
        connectors = sim_connectors(fault_settings, sim, policy)
        deps = ingest.Deps(fault_settings, db, redis, connectors, worker_id, lease_retry_seconds=0.2)
        deps.now = clock
        made.append(deps)
        return deps

    yield factory
    for deps in made:
        for connector in deps.connectors.values():
            await connector.aclose()
