"""The `credentials` and `credential_keys` tables. Every read and write by a user names its owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from core.security import Sealed
from storage.queries._db import Executor, transaction

STATUSES = ("ok", "expired", "revoked", "invalid", "permission", "error")


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """What may be shown about a credential: never the key or secret themselves."""

    id: UUID
    user_id: int
    exchange: str
    label: str
    key_hint: str
    permissions: tuple[str, ...]
    status: str
    status_detail: str | None
    expires_at: datetime | None
    created_at: datetime
    last_sync_at: datetime | None
    last_sync_error: str | None
    history_from: datetime | None


@dataclass(frozen=True, slots=True)
class NewCredential:
    id: UUID
    user_id: int
    exchange: str
    label: str
    key_hint: str
    permissions: tuple[str, ...]
    status: str
    status_detail: str | None
    expires_at: datetime | None
    created_at: datetime


_COLUMNS = """id, user_id, exchange, label, key_hint, permissions, status, status_detail, expires_at,
              created_at, last_sync_at, last_sync_error, history_from"""


def _row(r: asyncpg.Record) -> CredentialRow:
    return CredentialRow(
        r["id"], r["user_id"], r["exchange"], r["label"], r["key_hint"], tuple(r["permissions"]),
        r["status"], r["status_detail"], r["expires_at"], r["created_at"], r["last_sync_at"],
        r["last_sync_error"], r["history_from"],
    )  # fmt: skip


def _sealed(r: asyncpg.Record) -> Sealed:
    return Sealed(r["key_version"], bytes(r["nonce"]), bytes(r["ciphertext"]))


async def insert_credential(db: Executor, new: NewCredential, sealed: Sealed) -> None:
    await db.execute(
        """
        INSERT INTO credentials (id, user_id, exchange, label, key_hint, key_version, nonce, ciphertext,
                                 permissions, status, status_detail, expires_at, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10, $11, $12, $13)
        """,
        new.id, new.user_id, new.exchange, new.label, new.key_hint, sealed.key_version, sealed.nonce,
        sealed.ciphertext, list(new.permissions), new.status, new.status_detail, new.expires_at,
        new.created_at,
    )  # fmt: skip


async def select_credentials(db: Executor, user_id: int) -> list[CredentialRow]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM credentials WHERE user_id = $1 ORDER BY exchange, created_at", user_id
    )
    return [_row(r) for r in rows]


async def select_credential(db: Executor, user_id: int, credential_id: UUID) -> CredentialRow | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM credentials WHERE user_id = $1 AND id = $2", user_id, credential_id
    )
    return _row(row) if row else None


async def delete_credential(db: Executor, user_id: int, credential_id: UUID, with_fills: bool) -> bool:
    """Delete the owner's credential (and its fills when asked); False when the owner has no such one."""
    async with transaction(db) as conn:
        if with_fills:
            await conn.execute(
                "DELETE FROM user_fills WHERE user_id = $1 AND credential_id = $2", user_id, credential_id
            )
        result: str = await conn.execute(
            "DELETE FROM credentials WHERE user_id = $1 AND id = $2", user_id, credential_id
        )
    return result.endswith(" 1")


async def select_sealed(db: Executor, credential_id: UUID) -> tuple[CredentialRow, Sealed] | None:
    """For the sync worker: the credential and its ciphertext (opened only in memory, only there)."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS}, key_version, nonce, ciphertext FROM credentials WHERE id = $1", credential_id
    )
    return (_row(row), _sealed(row)) if row else None


async def select_all_sealed_for_update(conn: asyncpg.Connection) -> list[tuple[CredentialRow, Sealed]]:
    """Every credential, locked until the caller's transaction ends (secret rotation)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, key_version, nonce, ciphertext FROM credentials ORDER BY id FOR UPDATE"
    )
    return [(_row(r), _sealed(r)) for r in rows]


async def update_sealed(db: Executor, credential_id: UUID, sealed: Sealed) -> None:
    await db.execute(
        "UPDATE credentials SET key_version = $2, nonce = $3, ciphertext = $4 WHERE id = $1",
        credential_id,
        sealed.key_version,
        sealed.nonce,
        sealed.ciphertext,
    )


async def select_sealed_not_at_version(db: Executor, version: int) -> list[tuple[CredentialRow, Sealed]]:
    """Credentials sealed under any key version but `version` (to re-seal after a rotation)."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS}, key_version, nonce, ciphertext FROM credentials WHERE key_version <> $1 ORDER BY id",
        version,
    )
    return [(_row(r), _sealed(r)) for r in rows]


async def update_sealed_from(db: Executor, credential_id: UUID, from_version: int, sealed: Sealed) -> int:
    """Replace the ciphertext only if it is still under `from_version`; 1 when it was replaced."""
    result: str = await db.execute(
        """
        UPDATE credentials SET key_version = $3, nonce = $4, ciphertext = $5
        WHERE id = $1 AND key_version = $2
        """,
        credential_id,
        from_version,
        sealed.key_version,
        sealed.nonce,
        sealed.ciphertext,
    )
    return int(result.split()[-1])


async def select_syncable_ids(db: Executor) -> list[UUID]:
    """Credentials a sync may use: not known to be expired, revoked or refused."""
    rows = await db.fetch(
        "SELECT id FROM credentials WHERE status IN ('ok', 'error') ORDER BY last_sync_at NULLS FIRST"
    )
    return [r["id"] for r in rows]


async def update_status(db: Executor, credential_id: UUID, status: str, detail: str | None) -> None:
    await db.execute(
        "UPDATE credentials SET status = $2, status_detail = $3 WHERE id = $1", credential_id, status, detail
    )


async def record_sync(
    db: Executor, credential_id: UUID, at: datetime, error: str | None, history_from: datetime | None
) -> None:
    await db.execute(
        """
        UPDATE credentials SET last_sync_at = $2, last_sync_error = $3,
               status = CASE WHEN $3::text IS NULL AND status = 'error' THEN 'ok' ELSE status END,
               history_from = COALESCE(history_from, $4)
        WHERE id = $1
        """,
        credential_id,
        at,
        error,
        history_from,
    )


# ---- key versions ---------------------------------------------------------------------------------


async def select_key_version(db: Executor, fingerprint: str) -> int | None:
    version: int | None = await db.fetchval(
        "SELECT version FROM credential_keys WHERE fingerprint = $1", fingerprint
    )
    return version


async def insert_key_version(db: Executor, fingerprint: str) -> int:
    """The version of `fingerprint`, registering it as the next version if it is new."""
    async with transaction(db) as conn:
        # Two processes meeting a new secret at once must not both take max + 1.
        await conn.execute("LOCK TABLE credential_keys IN SHARE ROW EXCLUSIVE MODE")
        version: int = await conn.fetchval(
            """
            WITH added AS (
                INSERT INTO credential_keys (version, fingerprint)
                SELECT COALESCE(max(version), 0) + 1, $1 FROM credential_keys
                ON CONFLICT (fingerprint) DO NOTHING
                RETURNING version
            )
            SELECT version FROM added
            UNION ALL SELECT version FROM credential_keys WHERE fingerprint = $1
            LIMIT 1
            """,
            fingerprint,
        )
    return version


async def count_by_key_version(db: Executor) -> dict[int, int]:
    rows = await db.fetch("SELECT key_version, count(*) AS n FROM credentials GROUP BY key_version")
    return {r["key_version"]: r["n"] for r in rows}
