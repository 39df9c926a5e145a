"""The scale-out proof of bench/scale.py, small: 2 workers and 2 web processes against the simulator with
its rate limits on, one of each killed with -9 mid-run."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module
    spec.loader.exec_module(module)
    return module


async def _not_across_midnight(run_seconds: float = 600) -> None:
    """The reference and the workers must see the same UTC day: a run that would cross midnight starts
    just after it instead."""
    now = datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    if (midnight - now).total_seconds() < run_seconds:
        await asyncio.sleep((midnight - now).total_seconds() + 5)


async def test_workers_and_web_processes_share_one_storage_and_survive_kill_9(
    pg_dsn: str, redis_url: str, settings: Settings
) -> None:
    await _not_across_midnight()
    bench = _bench()
    cfg = bench.Config(
        workers=2, webs=2, days=2, market_scale=0.05, clients=40, updates=2, throughput_seconds=0,
        database=pg_dsn, redis=redis_url, timeout=240,
    )
    report = await bench.run_scale(cfg)
    # Backfill from empty through the shared venue budgets: no 429, every (market, day) once, exact.
    assert sum(report.throttled.values()) == 0, report.throttled
    assert report.expected_rows > 0
    assert (report.missing, report.unexpected, report.different) == (0, 0, 0), report.mismatch_sample
    assert report.venue_total_mismatches == 0
    assert report.worker_killed_at != "-"
    # One PUBLISH reaches the clients of both web processes.
    assert [row["delivered"] for row in report.fanout] == ["40/40", "40/40"]
    # The killed web process's clients are back on the other within the SSE retry interval (3 s) and
    # get the next update.
    assert report.web_killed and report.reconnected == report.dropped_clients == 20
    assert report.reconnect_max_seconds < 3
    assert report.delivered_after_kill == "40/40"
