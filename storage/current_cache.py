"""The current-volume document's life cycle: built from PostgreSQL (the truth), cached pre-encoded in
Redis, and published on a Redis channel that every web process fans out to its live clients.

Workers call `refresh_current` after each poll; web processes read `cached_current` and fall back to
building it from PostgreSQL when Redis was flushed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import asyncpg
from redis.asyncio import Redis

from core.current_volume import VenueFigure, build_current, rejudge
from core.documents import CurrentVolumeDoc
from core.settings import Settings
from storage.queries import snapshots, status

# PostgreSQL unreachable, refusing connections ("the database system is starting up / shutting
# down", SQLSTATE class 57) or out of connection slots: a wait, not a bug.
STORAGE_DOWN: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


def current_key(settings: Settings) -> str:
    return f"{settings.key_prefix}:current"


def live_channel(settings: Settings) -> str:
    return f"{settings.key_prefix}:live"


# Serializes document builds across workers so that `seq` order is build order (see refresh_current).
_BUILD_LOCK = 0x70657270766F6C  # "perpvol"


async def build_from_db(
    pool: asyncpg.Pool, settings: Settings, now: datetime | None = None
) -> CurrentVolumeDoc:
    async with pool.acquire() as conn:
        return await build_on(conn, settings, now)


async def build_on(
    conn: asyncpg.Connection, settings: Settings, now: datetime | None = None
) -> CurrentVolumeDoc:
    """The document from PostgreSQL. Its `seq` is PostgreSQL's clock in microseconds: one clock for every
    worker and web process, so documents order the same wherever they are compared."""
    seq = await conn.fetchval("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
    now = now or datetime.now(UTC)
    latest = {row.exchange: row for row in await snapshots.select_latest_snapshots(conn)}
    health = {row.exchange: row for row in await status.select_venue_status(conn)}
    previous: dict[str, Decimal] = {}
    for exchange in latest:
        then = await snapshots.select_snapshot_near(conn, exchange, now - timedelta(hours=24))
        # Only a snapshot close to 24h ago is a fair comparison; an older one would mislead.
        if then is not None and now - then.taken_at <= timedelta(hours=25):
            previous[exchange] = then.volume_usd
    names = set(latest) | set(health)
    figures = [_figure(name, latest.get(name), health.get(name)) for name in sorted(names)]
    return build_current(
        figures,
        now=now,
        stale_seconds=settings.stale_seconds,
        data_mode=settings.data_mode,
        previous=previous,
        seq=int(seq),
    )


def _figure(name: str, snap: Any, health: Any) -> VenueFigure:
    return VenueFigure(
        exchange=name,
        volume_usd=snap.volume_usd if snap else None,
        as_of=snap.as_of if snap else None,
        fetched_at=snap.taken_at if snap else None,
        markets=snap.markets if snap else 0,
        estimated=snap.estimated if snap else False,
        source=snap.source if snap else "",
        error=health.last_error if health else None,
        error_at=health.last_error_at if health else None,
        as_of_note=snap.as_of_note if snap else None,
    )


def encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# Cache and publish only a document newer than the cached one: two workers finishing close together
# must not leave the older document cached, or deliver it after the newer one.
STORE_IF_NEWER = """
local seq = redis.call('GET', KEYS[2])
if seq and tonumber(seq) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1
"""


async def refresh_current(
    pool: asyncpg.Pool, redis: Redis, settings: Settings, now: datetime | None = None
) -> CurrentVolumeDoc:
    """Rebuild the document, cache it and publish it: one message per update to every web process."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _BUILD_LOCK)
        doc = await build_on(conn, settings, now)
    payload = encode(doc)
    keys = [current_key(settings), f"{current_key(settings)}:seq"]
    stored = redis.eval(STORE_IF_NEWER, 2, *keys, payload.decode(), str(doc["seq"]), live_channel(settings))
    await cast(Awaitable[Any], stored)
    return doc


async def serve_current(
    pool: asyncpg.Pool, settings: Settings, cached: Mapping[str, Any] | None
) -> CurrentVolumeDoc:
    """The document to serve now: from PostgreSQL, else `cached` (the latest one the live feed
    delivered) judged again at this moment, so a figure that aged past the limit is never served as
    fresh. Raises when PostgreSQL is down and there is nothing cached."""
    try:
        doc = await build_from_db(pool, settings)
    except STORAGE_DOWN:
        if cached is None:
            raise
        judged = rejudge(cached, now=datetime.now(UTC), stale_seconds=settings.stale_seconds)
        judged["served_from"] = "cache"
        return judged
    doc["served_from"] = "database"
    return doc


async def cached_current(redis: Redis, settings: Settings) -> bytes | None:
    value: bytes | None = await redis.get(current_key(settings))
    return value
