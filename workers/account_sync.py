"""Sync each user's perp fills from the venues into `user_fills`, resumable and idempotent.

Per credential and stream, fills are fetched window by window (Bybit: 7 days) from the stream's cursor
to now; a window's fills and the cursor's advance are written in one transaction, so a sync killed at
any point resumes at the first window not stored (no gaps), and refetched fills are dropped by their
venue id (no doubles). Each run starts `OVERLAP` before the cursor to catch fills the venue publishes
late. The decrypted credential lives only in this process's memory for the duration of one sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import redis.asyncio as aioredis

from core.security import CredentialDecryptError, CredentialSealer
from core.settings import Settings
from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from exchanges.http import RetryPolicy
from exchanges.private.base import ApiCredential, CredentialError, PrivateClient
from exchanges.private.registry import make_private_client
from storage.queries import credentials, fills

log = logging.getLogger("perpvol.account_sync")

OVERLAP = timedelta(minutes=10)


@dataclass
class SyncDeps:
    settings: Settings
    pool: asyncpg.Pool
    cipher: CredentialSealer
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    transport: httpx.AsyncBaseTransport | None = None
    policy: RetryPolicy | None = None
    # Shares each key's budget with the other worker processes (venues limit per key/account).
    redis: aioredis.Redis | None = None


@dataclass(frozen=True, slots=True)
class SyncResult:
    credential_id: UUID
    exchange: str
    new_fills: int
    windows: int
    error: str | None = None



async def sync_all(deps: SyncDeps) -> list[SyncResult]:
    """Every usable credential, one after the other (each venue client keeps under its own limit)."""
    results = []
    for credential_id in await credentials.select_syncable_ids(deps.pool):
        results.append(await sync_credential(deps, credential_id))
    return results


async def sync_credential(deps: SyncDeps, credential_id: UUID) -> SyncResult:
    found = await credentials.select_sealed(deps.pool, credential_id)
    if found is None:
        return SyncResult(credential_id, "", 0, 0, "credential deleted")
    row, sealed = found
    try:
        opened = deps.cipher.open(sealed, row.user_id, row.exchange, row.id)
    except CredentialDecryptError as exc:
        await credentials.record_sync(deps.pool, row.id, deps.now(), str(exc), None)
        log.error("credential %s of user %s cannot be decrypted: %s", row.id, row.user_id, exc)
        return SyncResult(row.id, row.exchange, 0, 0, str(exc))
    client = make_private_client(
        _exchange(row.exchange),
        deps.settings,
        ApiCredential.from_fields(opened),
        transport=deps.transport,
        clock=deps.now,
        policy=deps.policy,
        redis=deps.redis,
    )
    del opened
    try:
        return await _sync_streams(deps, row.id, row.user_id, client)
    finally:
        await client.aclose()


async def _sync_streams(
    deps: SyncDeps, credential_id: UUID, user_id: int, client: PrivateClient
) -> SyncResult:
    new, windows, error, first_start = 0, 0, None, None
    try:
        for stream in client.streams:
            start, stream_new, stream_windows = await _sync_stream(
                deps, credential_id, user_id, client, stream
            )
            new, windows = new + stream_new, windows + stream_windows
            first_start = start if first_start is None else min(first_start, start)
    except CredentialError as exc:
        error = str(exc)
        await credentials.update_status(deps.pool, credential_id, exc.status, exc.message)
        log.warning("sync of credential %s stopped: %s", credential_id, exc)
    except ExchangeError as exc:
        error = str(exc)
        log.warning("sync of credential %s stopped, the next run resumes: %s", credential_id, exc)
    await credentials.record_sync(deps.pool, credential_id, deps.now(), error, first_start)
    return SyncResult(credential_id, client.name, new, windows, error)


async def _sync_stream(
    deps: SyncDeps, credential_id: UUID, user_id: int, client: PrivateClient, stream: str
) -> tuple[datetime, int, int]:
    """Fetch [cursor - OVERLAP, now) window by window; returns (first start, new fills, windows)."""
    now = deps.now()
    cursor = await fills.select_cursor(deps.pool, credential_id, stream)
    first = (cursor - OVERLAP) if cursor is not None else now - client.lookback
    start, new, windows = first, 0, 0
    while start < now:
        end = min(start + client.window, now)
        batch = await client.fetch_fills(stream, start, end)
        async with deps.pool.acquire() as conn, conn.transaction():
            new += await fills.insert_fills(conn, user_id, client.name, credential_id, batch)
            await fills.upsert_cursor(conn, credential_id, stream, end)
        start, windows = end, windows + 1
    return first, new, windows


def _exchange(name: str) -> Exchange:
    from core.venues import parse_exchange

    return parse_exchange(name)
