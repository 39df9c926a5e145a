"""arq `WorkerSettings`: cron jobs, and the shared clients created once per worker process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from typing import Any

from arq import cron, func
from arq.cron import CronJob
from redis.exceptions import RedisError

from core.settings import Settings, SettingsError, load_settings
from exchanges.base import EXCHANGES
from exchanges.registry import make_connector
from storage.db import create_pool
from storage.job_codec import JOB_CODEC
from storage.job_names import BACKFILL_HISTORY, SYNC_ONE_CREDENTIAL
from storage.redis_tls import arq_redis_settings
from workers import account_jobs, ingest, jobs

log = logging.getLogger("perpvol.worker")


def poll_schedule(seconds: int) -> tuple[set[int] | None, set[int]]:
    """arq cron (minute, second) for "every N seconds"; N must divide a minute or whole minutes an hour."""
    if seconds < 60 and 60 % seconds == 0:
        return None, set(range(0, 60, seconds))
    if seconds % 60 == 0 and 3600 % seconds == 0:
        return set(range(0, 60, seconds // 60)), {0}
    raise SettingsError(
        f"PERPVOL_POLL_SECONDS: {seconds} must divide 60 (e.g. 5, 10, 15, 30) or be whole minutes "
        "that divide an hour (60, 120, 300, ...)"
    )


# Time a poll job keeps after its venues' retry budget: storing, caching and publishing the figures.
POLL_MARGIN_SECONDS = 10


def poll_timeout(settings: Settings) -> int:
    """The poll job's time limit; each venue's retries must end POLL_MARGIN_SECONDS before it."""
    return max(60, settings.poll_seconds * 4)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    pool = await create_pool(settings.database_url or "")
    # Venue budgets live in Redis: every worker process shares one per venue (limits are per IP).
    connectors = {name: make_connector(name, settings, redis=ctx["redis"]) for name in EXCHANGES}
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    budget = poll_timeout(settings) - POLL_MARGIN_SECONDS
    ctx["deps"] = ingest.Deps(settings, pool, ctx["redis"], connectors, worker_id, poll_budget=budget)
    # A secret that opens no stored credential stops the worker here (SecretMismatch), before any job.
    await account_jobs.reseal_credentials(ctx)
    for exchange in EXCHANGES:
        # A job id per worker start: a killed worker's job must not block the one that resumes it.
        await ctx["redis"].enqueue_job(BACKFILL_HISTORY, exchange, _job_id=f"backfill:{exchange}:{worker_id}")
    log.info("worker %s started", worker_id)


async def shutdown(ctx: dict[str, Any]) -> None:
    deps: ingest.Deps | None = ctx.get("deps")
    if deps is None:
        return
    for connector in deps.connectors.values():
        await connector.aclose()
    await deps.pool.close()


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`, built from perpvol's settings."""
    minute, second = poll_schedule(settings.poll_seconds)
    cron_jobs: list[CronJob] = [
        cron(
            jobs.poll_current_volume,
            minute=minute,
            second=second,
            run_at_startup=True,
            timeout=poll_timeout(settings),
        ),
        cron(jobs.revise_recent_history, minute={5}, second={0}, timeout=1800),
        # A worker killed mid-backfill leaves its arq job for hours: the others take over its markets.
        cron(jobs.resume_backfills, minute=set(range(1, 60, 2)), second={40}, timeout=6 * 3600),
        cron(jobs.discover_markets, hour={0}, minute={10}, second={0}, timeout=1800),
        # Users' own fills: every 10 minutes, incremental after each credential's first sync.
        cron(account_jobs.sync_account_fills, minute=set(range(0, 60, 10)), second={30}, timeout=3600),
        # Sign-in sessions past their expiry: hourly (they are refused anyway; this keeps the table small).
        cron(account_jobs.delete_expired_sessions, minute={20}, second={0}, timeout=300),
        cron(account_jobs.reseal_credentials, minute={40}, second={0}, timeout=600),
    ]
    return {
        "functions": [
            func(jobs.backfill_history, name=BACKFILL_HISTORY, timeout=6 * 3600, max_tries=1000),
            func(account_jobs.sync_one_credential, name=SYNC_ONE_CREDENTIAL, timeout=3600),
        ],
        "cron_jobs": cron_jobs,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_redis_settings(settings.redis_url or "redis://127.0.0.1:6379"),
        "queue_name": settings.arq_queue_name,
        "ctx": {"settings": settings},
        "max_jobs": 8,
        "handle_signals": True,
        "health_check_key": f"{settings.key_prefix}:arq:health",
        **JOB_CODEC,
    }


def run_worker(settings: Settings | None = None) -> None:
    asyncio.run(serve_worker(settings or load_settings()))


async def serve_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    max_backoff: float = 30.0,
) -> None:
    """Run arq's worker until SIGINT/SIGTERM (or `stop`). arq's own loop exits when Redis goes away;
    this starts a fresh worker with backoff instead, so a Redis restart never needs a person.
    (`perpvol up`'s supervisor and compose's restart policy stay a second line.)"""
    from arq.worker import Worker

    stop = stop or asyncio.Event()
    current: list[Worker] = []
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _on_signal, sig, stop, current)
    backoff = 1.0
    while not stop.is_set():
        worker = Worker(**{**worker_settings(settings), "handle_signals": False})
        current[:] = [worker]
        started = time.monotonic()
        error = await _run_until_stopped(worker, stop)
        await _close_worker(worker)
        if error is None:
            return
        if time.monotonic() - started > 60:
            backoff = 1.0  # it had been running fine: this is a new outage
        log.warning("worker: Redis unavailable (%s); reconnecting in %.0fs", error, backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, max_backoff)
    log.info("worker stopped")


def _on_signal(sig: signal.Signals, stop: asyncio.Event, current: list[Any]) -> None:
    stop.set()
    if current:
        current[0].handle_sig(sig)


async def _run_until_stopped(worker: Any, stop: asyncio.Event) -> BaseException | None:
    """The Redis error that ended the worker; None when it stopped because it was told to."""
    worker.main_task = asyncio.create_task(worker.main())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({worker.main_task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not worker.main_task.done():
        worker.main_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(worker.main_task, return_exceptions=True)
    if stop.is_set() or worker.main_task.cancelled():
        return None
    error = worker.main_task.exception()
    if error is None:
        return None
    if not isinstance(error, (RedisError, OSError)):
        raise error
    return error


async def _close_worker(worker: Any) -> None:
    """arq's close() needs Redis; this also works while Redis is gone."""
    for task in worker.tasks.values():
        task.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    if worker.ctx.get("deps") is not None:
        try:
            await shutdown(worker.ctx)
        except Exception as exc:
            log.warning("worker: shutdown incomplete: %s", exc)
        worker.ctx.pop("deps", None)
    if worker._pool is not None:
        with contextlib.suppress(Exception):
            await worker._pool.aclose()
        worker._pool = None
