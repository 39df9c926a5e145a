"""arq jobs for users' own volume: thin wrappers over `workers.account_sync`.

Registered in `workers/worker.py`: `sync_account_fills` every 10 minutes, `delete_expired_sessions` and
`reseal_credentials` hourly (cron), and `sync_one_credential`, which the web app enqueues by name when a
key is saved.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from core.security import Keyring
from storage.credential_keys import load_keyring, reseal_to_current
from storage.queries import credentials, users
from workers import account_sync

log = logging.getLogger("perpvol.account_jobs")


async def worker_keyring(ctx: dict[str, Any]) -> Keyring | None:
    """The worker's keyring, loaded once (at start-up, where a secret that opens no stored credential
    stops the worker); None without APP_SECRET_KEY."""
    if "keyring" not in ctx:
        deps = ctx["deps"]  # ingest.Deps: the worker's settings and pool
        secret = deps.settings.app_secret_key
        if secret is None:
            ctx["keyring"] = None
        else:
            previous = deps.settings.app_secret_key_previous
            ctx["keyring"] = await load_keyring(
                deps.pool, secret.get_secret_value(), previous.get_secret_value() if previous else None
            )
    keyring: Keyring | None = ctx["keyring"]
    return keyring


async def _deps(ctx: dict[str, Any]) -> account_sync.SyncDeps | None:
    keyring = await worker_keyring(ctx)
    deps = ctx["deps"]
    if keyring is None:
        # Only news when someone saved keys (most installs, and every simulated run, have none), and
        # only once per worker: the sync runs every 10 minutes.
        waiting = await credentials.select_syncable_ids(deps.pool)
        if waiting and not ctx.get("secret_note_given"):
            log.warning(
                "note: APP_SECRET_KEY is not set, so %d saved exchange key(s) are not synced; "
                "set it to the secret they were saved with",
                len(waiting),
            )
            ctx["secret_note_given"] = True
        return None
    return account_sync.SyncDeps(deps.settings, deps.pool, keyring, redis=deps.redis)


async def reseal_credentials(ctx: dict[str, Any]) -> int:
    """At start-up and hourly: credentials still sealed under APP_SECRET_KEY_PREVIOUS move to the
    current secret (closing a rotation, including keys saved by a web process not yet restarted)."""
    keyring = await worker_keyring(ctx)
    return 0 if keyring is None else await reseal_to_current(ctx["deps"].pool, keyring)


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


async def delete_expired_sessions(ctx: dict[str, Any]) -> int:
    """Hourly: sign-in sessions past their expiry or idle timeout are useless (never accepted) and are
    deleted."""
    deps = ctx["deps"]
    deleted = await users.delete_expired_sessions(deps.pool, datetime.now(UTC), deps.settings.session_idle)
    if deleted:
        log.info("deleted %d expired sessions", deleted)
    return deleted
