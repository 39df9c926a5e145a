"""The current-volume document's life cycle: built from PostgreSQL (the truth), cached pre-encoded in
Redis, and published on a Redis channel that every web process fans out to its live clients.

Workers call `refresh_current` after each poll; web processes read `cached_current` and fall back to
building it from PostgreSQL when Redis was flushed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from redis.asyncio import Redis

from core.current_volume import VenueFigure, build_current
from core.documents import CurrentVolumeDoc
from core.settings import Settings
from storage.queries import snapshots, status


def current_key(settings: Settings) -> str:
    return f"{settings.key_prefix}:current"


def live_channel(settings: Settings) -> str:
    return f"{settings.key_prefix}:live"


async def build_from_db(
    pool: asyncpg.Pool, settings: Settings, now: datetime | None = None
) -> CurrentVolumeDoc:
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn:
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
    )


def encode(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


async def refresh_current(
    pool: asyncpg.Pool, redis: Redis, settings: Settings, now: datetime | None = None
) -> CurrentVolumeDoc:
    """Rebuild the document, cache it and publish it: one message per update to every web process."""
    doc = await build_from_db(pool, settings, now)
    payload = encode(doc)
    await redis.set(current_key(settings), payload)
    await redis.publish(live_channel(settings), payload)
    return doc


async def cached_current(redis: Redis, settings: Settings) -> bytes | None:
    value: bytes | None = await redis.get(current_key(settings))
    return value
