"""The web process's garbage collection: full collections only at a quiet moment of the live feed."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.settings import Settings
from storage.current_cache import live_channel
from webapp.broadcast import Hub
from webapp.collector import NEVER, YOUNG_THRESHOLD, collect_when_quiet

ROOT = Path(__file__).resolve().parents[2]


def test_the_server_entry_point_freezes_what_the_app_built_and_leaves_full_collections_to_the_app(
    settings: Settings,
) -> None:
    script = (
        "import gc, json; from webapp.asgi import app; app(); "
        "print(json.dumps([gc.get_threshold(), gc.get_freeze_count()]))"
    )
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "DATABASE_URL": settings.database_url or ""}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    threshold, frozen = json.loads(out.stdout.strip().splitlines()[-1])
    assert threshold == [YOUNG_THRESHOLD, 20, NEVER]
    assert frozen > 10_000  # the modules, templates and schemas the app loaded


async def test_a_full_collection_waits_until_the_feed_is_quiet() -> None:
    readings = [0.0, 0.1, 0.2]  # seconds since the last update: busy three times, then quiet
    asked: list[float] = []
    full: list[int] = []

    def quiet_for() -> float:
        asked.append(readings.pop(0) if readings else 5.0)
        return asked[-1]

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(len(asked))

    gc.callbacks.append(watch)
    was_enabled = gc.isenabled()
    gc.disable()  # so the only full collection is the collector's
    task = asyncio.create_task(collect_when_quiet(quiet_for, every=0.01, quiet=0.5))
    try:
        async with asyncio.timeout(5):
            while not full:  # noqa: ASYNC110 — the collector signals nothing else
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        gc.callbacks.remove(watch)
        if was_enabled:
            gc.enable()
    assert full[0] == 4  # collected only after the fourth reading, the first quiet one


async def test_the_hub_counts_quiet_time_from_the_last_update_it_handed_out(settings: Settings) -> None:
    hub = Hub(settings.redis_url or "", live_channel(settings))
    await asyncio.sleep(0.05)
    assert hub.quiet_for() >= 0.05
    hub.publish_local(b'{"n":1}')
    assert hub.quiet_for() < 0.05
