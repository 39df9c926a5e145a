"""arq jobs: thin wrappers that take the shared clients from `ctx` and call `workers.ingest`."""

from __future__ import annotations

import logging
from typing import Any

from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from storage.job_names import BACKFILL_HISTORY
from workers import ingest

log = logging.getLogger("perpvol.jobs")


def _deps(ctx: dict[str, Any]) -> ingest.Deps:
    deps: ingest.Deps = ctx["deps"]
    return deps


async def poll_current_volume(ctx: dict[str, Any]) -> dict[str, bool]:
    return {str(name): ok for name, ok in (await ingest.poll_all(_deps(ctx))).items()}


async def revise_recent_history(ctx: dict[str, Any]) -> dict[str, int]:
    written: dict[str, int] = {}
    for exchange in _deps(ctx).connectors:
        try:
            written[exchange] = await ingest.revise_recent(_deps(ctx), exchange)
        except ExchangeError as exc:
            log.warning("revising %s failed, next hour retries: %s", exchange, exc)
    return written


async def discover_markets(ctx: dict[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for exchange in _deps(ctx).connectors:
        try:
            found[exchange] = len(await ingest.sync_markets(_deps(ctx), exchange))
        except ExchangeError as exc:
            log.warning("market discovery on %s failed: %s", exchange, exc)
        else:
            # New listings need their history too; finished markets cost one request each.
            await ctx["redis"].enqueue_job(BACKFILL_HISTORY, exchange)
    return found


def _active(ctx: dict[str, Any]) -> set[str]:
    """Venues this process is backfilling now. Claims are per worker process, so two jobs of one
    process on the same venue would both hold its markets: the second one leaves it to the first."""
    active: set[str] = ctx.setdefault("active_backfills", set())
    return active


async def backfill_history(ctx: dict[str, Any], exchange: Exchange, days: int | None = None) -> int:
    if exchange in _active(ctx):
        return 0
    _active(ctx).add(exchange)
    try:
        return await ingest.backfill_exchange(_deps(ctx), exchange, days)
    except ExchangeError as exc:
        # Checkpoints keep what was done; the next run (hourly retry below) resumes from there.
        log.warning("backfill of %s stopped, will resume: %s", exchange, exc)
        await ctx["redis"].enqueue_job(BACKFILL_HISTORY, exchange, days, _defer_by=300)
        return 0
    finally:
        _active(ctx).discard(exchange)


async def resume_backfills(ctx: dict[str, Any]) -> dict[str, int]:
    """Every few minutes: finish what a killed worker left (see `ingest.resume_backfill`)."""
    written: dict[str, int] = {}
    for exchange in _deps(ctx).connectors:
        if exchange in _active(ctx):
            continue
        _active(ctx).add(exchange)
        try:
            written[exchange] = await ingest.resume_backfill(_deps(ctx), exchange)
        except ExchangeError as exc:
            log.warning("resuming the backfill of %s failed, the next run retries: %s", exchange, exc)
        finally:
            _active(ctx).discard(exchange)
    return written
