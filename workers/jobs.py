"""arq jobs: thin wrappers that take the shared clients from `ctx` and call `workers.ingest`."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

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
    """Any failure (venue, PostgreSQL, Redis) is retried with backoff and shown on Status until a run
    finishes: checkpoints keep what was done, so the retry resumes from there."""
    if exchange in _active(ctx):
        return 0
    deps = _deps(ctx)
    _active(ctx).add(exchange)
    try:
        written = await ingest.backfill_exchange(deps, exchange, days)
    except Exception as exc:
        attempt = int(ctx.get("job_try") or 1)
        delay = ingest.backfill_retry_seconds(attempt)
        log.warning("backfill of %s failed (try %d), retrying in %.0fs: %s", exchange, attempt, delay, exc)
        await ingest.record_backfill_outcome(deps, exchange, exc, delay)
        raise Retry(defer=delay) from exc
    finally:
        _active(ctx).discard(exchange)
    await ingest.record_backfill_outcome(deps, exchange, None)
    return written


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
