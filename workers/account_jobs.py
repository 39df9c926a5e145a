"""arq jobs for users' own volume: thin wrappers over `workers.account_sync`.

Register in `workers/worker.py`: `cron(account_jobs.sync_account_fills, minute=set(range(0, 60, 10)),
second={30}, timeout=3600)` and `func(account_jobs.sync_one_credential, timeout=3600)`.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from workers import account_sync

log = logging.getLogger("perpvol.account_jobs")


async def _deps(ctx: dict[str, Any]) -> account_sync.SyncDeps | None:
    deps = ctx["deps"]  # ingest.Deps: the worker's settings and pool
    secret = deps.settings.app_secret_key
    if secret is None:
        log.warning("APP_SECRET_KEY is not set: users' fills are not synced")
        return None
    cipher = await account_sync.load_cipher(deps.pool, secret.get_secret_value())
    return account_sync.SyncDeps(deps.settings, deps.pool, cipher)


async def sync_account_fills(ctx: dict[str, Any]) -> dict[str, int]:
    """Every usable credential: new fills since each stream's cursor."""
    deps = await _deps(ctx)
    if deps is None:
        return {}
    results = await account_sync.sync_all(deps)
    return {str(r.credential_id): r.new_fills for r in results}


async def sync_one_credential(ctx: dict[str, Any], credential_id: str) -> int:
    """One credential right after it was saved, so the user does not wait for the next cron run."""
    deps = await _deps(ctx)
    if deps is None:
        return 0
    return (await account_sync.sync_credential(deps, UUID(credential_id))).new_fills
