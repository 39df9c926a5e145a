"""Garbage collection for a web process that holds thousands of live connections.

CPython's full (generation 2) collection walks every tracked object. A web process with 5,000 live
clients has a few hundred thousand of them, so each full collection stopped the event loop for
100–130 ms, and they fell in the middle of fan-outs (a fan-out allocates a wake-up per client, which is
what triggers collections): one granian process with 10,000 clients went from p99 ~150 ms to ~300 ms
(bench/fanout.py, timing each collection with gc.callbacks).

So, once the app is built: what exists then (modules, templates, schemas) is frozen out of the
collector; young generations are collected less often (a fan-out's short-lived objects are freed by
reference counting before a collection would see them); and full collections leave the automatic
schedule for `collect_when_quiet`, which runs one every few minutes at a moment the live feed is
quiet, so reference cycles among long-lived objects are still reclaimed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20
# Full collections only from collect_when_quiet.
NEVER = 2**31 - 1
FULL_COLLECTION_SECONDS = 300.0
QUIET_SECONDS = 1.0
# A feed that is never quiet this long still gets its full collection after this much waiting.
MAX_WAIT_SECONDS = 60.0


def tune_for_serving() -> None:
    """Call once the app is built, in the server process that will hold the connections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, NEVER)


async def collect_when_quiet(
    quiet_for: Callable[[], float], every: float = FULL_COLLECTION_SECONDS, quiet: float = QUIET_SECONDS
) -> None:
    """Run a full collection every `every` seconds, once `quiet_for()` (seconds since the live feed last
    sent anything) reaches `quiet`, or after MAX_WAIT_SECONDS of waiting for that."""
    while True:
        await asyncio.sleep(every)
        waited = 0.0
        while quiet_for() < quiet and waited < MAX_WAIT_SECONDS:
            await asyncio.sleep(quiet / 2)
            waited += quiet / 2
        began = time.perf_counter()
        found = gc.collect()
        log.debug("full garbage collection: %d unreachable, %.0f ms", found, (time.perf_counter() - began) * 1e3)
