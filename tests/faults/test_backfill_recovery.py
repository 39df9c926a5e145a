"""Issue 15, recovery 4 and the duplicate start-up backfills: a failed backfill run is retried with
backoff, leaves no lease behind and shows its error on Status until a run finishes."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from arq import Retry

from cli.commands.status import collect_status
from exchanges.sim.app import Fault, SimulatorApp
from storage.db import database_name, quote_ident
from storage.queries import status
from tests.faults.conftest import DepsFactory
from tests.faults.support import served
from workers import ingest, jobs


async def _claims(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM backfill_claims"))


async def test_a_venue_failure_is_retried_with_backoff_and_shown_until_a_run_finishes(
    make_deps: DepsFactory, sim: SimulatorApp, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    sim.faults.append(Fault(kind="error5xx", venue="woox", path="/v3/public/klineHistory"))
    with pytest.raises(Retry) as first:
        await jobs.backfill_history({"deps": deps, "job_try": 1}, "woox")
    with pytest.raises(Retry) as third:
        await jobs.backfill_history({"deps": deps, "job_try": 3}, "woox")
    assert (first.value.defer_score, third.value.defer_score) == (10_000, 40_000)
    assert await _claims(db) == 0
    row = next(r for r in await status.select_venue_status(db) if r.exchange == "woox")
    assert row.backfill_error is not None and "HTTP 503" in row.backfill_error
    assert row.backfill_retry_at is not None
    async with served(deps.settings) as client:
        woox = next(v for v in (await client.get("/api/exchanges")).json()["exchanges"] if v["exchange"] == "woox")
        page = (await client.get("/status")).text
    assert "HTTP 503" in woox["backfill"]["error"] and woox["backfill"]["retry_at"]
    assert "Backfill error" in page
    cli = next(v for v in (await collect_status(db, deps.settings))["exchanges"] if v["exchange"] == "woox")
    assert "HTTP 503" in cli["backfill_error"]
    sim.faults.clear()
    assert await jobs.backfill_history({"deps": deps, "job_try": 4}, "woox") > 0
    row = next(r for r in await status.select_venue_status(db) if r.exchange == "woox")
    assert row.backfill_error is None


async def test_two_backfill_runs_in_one_worker_never_take_the_same_market(
    make_deps: DepsFactory, sim: SimulatorApp, db: asyncpg.Pool
) -> None:
    deps = make_deps("w1")
    await asyncio.gather(ingest.backfill_exchange(deps, "woox"), ingest.backfill_exchange(deps, "woox"))
    together = sim.requests["woox"]
    sim.requests["woox"] = 0
    async with db.acquire() as conn:
        await conn.execute("DELETE FROM backfill_checkpoints")
    await ingest.backfill_exchange(make_deps("alone"), "woox")
    alone = sim.requests["woox"]
    # Each run lists markets once; beyond that no market's history is fetched twice.
    assert together <= alone + 2, (together, alone)


async def test_a_postgresql_outage_fails_the_backfill_run_into_a_retry_and_the_retry_finishes(
    make_deps: DepsFactory, db: asyncpg.Pool, db_dsn: str, pg_dsn: str
) -> None:
    # The blip: PostgreSQL answers "database is not currently accepting connections"
    # (ObjectNotInPrerequisiteState) and drops the pool's connections. The job must turn that into an
    # arq Retry (not a final failure), and a later try must finish the history.
    deps = make_deps("w1")
    name = database_name(db_dsn)
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f"ALTER DATABASE {quote_ident(name)} WITH ALLOW_CONNECTIONS false")
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        with pytest.raises(Retry):
            await jobs.backfill_history({"deps": deps, "job_try": 1}, "woox")
    finally:
        await admin.execute(f"ALTER DATABASE {quote_ident(name)} WITH ALLOW_CONNECTIONS true")
        await admin.close()
    written = None
    for job_try in range(2, 8):  # each pooled connection killed by the outage may fail one try
        try:
            written = await jobs.backfill_history({"deps": deps, "job_try": job_try}, "woox")
            break
        except Retry:
            continue
    assert written is not None and written > 0
    assert await _claims(db) == 0
    row = next(r for r in await status.select_venue_status(db) if r.exchange == "woox")
    assert row.backfill_error is None
