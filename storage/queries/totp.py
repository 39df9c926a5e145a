"""The `user_totp`, `totp_recovery_codes` and `totp_pending_logins` tables (migrations/0009_totp.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.security import Sealed
from storage.queries._db import Executor, transaction


@dataclass(frozen=True, slots=True)
class TotpRow:
    user_id: int
    sealed: Sealed
    enabled: bool


async def select_totp(db: Executor, user_id: int) -> TotpRow | None:
    row = await db.fetchrow(
        "SELECT key_version, nonce, ciphertext, enabled_at FROM user_totp WHERE user_id = $1", user_id
    )
    if row is None:
        return None
    sealed = Sealed(row["key_version"], row["nonce"], row["ciphertext"])
    return TotpRow(user_id, sealed, row["enabled_at"] is not None)


async def totp_enabled(db: Executor, user_id: int) -> bool:
    found = await db.fetchval("SELECT enabled_at IS NOT NULL FROM user_totp WHERE user_id = $1", user_id)
    return bool(found)


async def upsert_enrolment(db: Executor, user_id: int, sealed: Sealed) -> bool:
    """Store a new, not yet enabled secret; False (nothing changes) when TOTP is already enabled."""
    status: str = await db.execute(
        """
        INSERT INTO user_totp (user_id, key_version, nonce, ciphertext) VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_id) DO UPDATE
            SET key_version = EXCLUDED.key_version, nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext,
                last_step = 0, created_at = now()
            WHERE user_totp.enabled_at IS NULL
        """,
        user_id,
        sealed.key_version,
        sealed.nonce,
        sealed.ciphertext,
    )
    return status.endswith(" 1")


async def select_all_for_update(conn: Executor) -> list[TotpRow]:
    """Every TOTP secret, locked (a rotation re-seals them in its transaction)."""
    rows = await conn.fetch(
        "SELECT user_id, key_version, nonce, ciphertext, enabled_at FROM user_totp ORDER BY user_id FOR UPDATE"
    )
    return [
        TotpRow(r["user_id"], Sealed(r["key_version"], r["nonce"], r["ciphertext"]), r["enabled_at"] is not None)
        for r in rows
    ]


async def update_sealed(db: Executor, user_id: int, sealed: Sealed) -> None:
    await db.execute(
        "UPDATE user_totp SET key_version = $2, nonce = $3, ciphertext = $4 WHERE user_id = $1",
        user_id,
        sealed.key_version,
        sealed.nonce,
        sealed.ciphertext,
    )


async def select_not_at_version(db: Executor, version: int) -> list[TotpRow]:
    rows = await db.fetch(
        "SELECT user_id, key_version, nonce, ciphertext, enabled_at FROM user_totp WHERE key_version <> $1", version
    )
    return [
        TotpRow(r["user_id"], Sealed(r["key_version"], r["nonce"], r["ciphertext"]), r["enabled_at"] is not None)
        for r in rows
    ]


async def update_sealed_from(db: Executor, user_id: int, from_version: int, sealed: Sealed) -> int:
    """Re-seal only if the row still has `from_version` (a concurrent rotation wins); rows changed."""
    status: str = await db.execute(
        """
        UPDATE user_totp SET key_version = $3, nonce = $4, ciphertext = $5
        WHERE user_id = $1 AND key_version = $2
        """,
        user_id,
        from_version,
        sealed.key_version,
        sealed.nonce,
        sealed.ciphertext,
    )
    return int(status.split()[-1])


async def claim_step(db: Executor, user_id: int, step: int) -> bool:
    """Record `step` as used; False when it (or a later one) was used already: a replayed code."""
    status: str = await db.execute(
        "UPDATE user_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2", user_id, step
    )
    return status == "UPDATE 1"


async def enable(db: Executor, user_id: int, now: datetime, code_hashes: Sequence[bytes]) -> None:
    """Turn the enrolled secret on and replace the recovery codes, in one transaction."""
    async with transaction(db) as conn:
        await conn.execute("UPDATE user_totp SET enabled_at = $2 WHERE user_id = $1", user_id, now)
        await conn.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", user_id)
        await conn.executemany(
            "INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
            [(user_id, h) for h in code_hashes],
        )


async def use_recovery_code(db: Executor, user_id: int, code_hash: bytes, now: datetime) -> bool:
    """Spend one recovery code; False when it is unknown or already used."""
    status: str = await db.execute(
        "UPDATE totp_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        user_id,
        code_hash,
        now,
    )
    return status == "UPDATE 1"


async def count_unused_recovery_codes(db: Executor, user_id: int) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM totp_recovery_codes WHERE user_id = $1 AND used_at IS NULL", user_id
    )
    return count


async def delete_totp(db: Executor, user_id: int) -> bool:
    """Remove the second factor, its recovery codes and pending sign-ins; whether one was there."""
    async with transaction(db) as conn:
        await conn.execute("DELETE FROM totp_recovery_codes WHERE user_id = $1", user_id)
        await conn.execute("DELETE FROM totp_pending_logins WHERE user_id = $1", user_id)
        status: str = await conn.execute("DELETE FROM user_totp WHERE user_id = $1", user_id)
    return status == "DELETE 1"


async def insert_pending(db: Executor, token_hash: bytes, user_id: int, expires_at: datetime) -> None:
    await db.execute(
        "INSERT INTO totp_pending_logins (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        user_id,
        expires_at,
    )


async def select_pending_user(db: Executor, token_hash: bytes, now: datetime) -> tuple[int, str] | None:
    """The (user id, email) a live pending sign-in belongs to."""
    row = await db.fetchrow(
        """
        SELECT p.user_id, u.email FROM totp_pending_logins p JOIN users u ON u.id = p.user_id
        WHERE p.token_hash = $1 AND p.expires_at > $2
        """,
        token_hash,
        now,
    )
    return (row["user_id"], row["email"]) if row else None


async def delete_pending(db: Executor, token_hash: bytes, now: datetime) -> None:
    """This pending sign-in (used) and every expired one."""
    await db.execute(
        "DELETE FROM totp_pending_logins WHERE token_hash = $1 OR expires_at <= $2", token_hash, now
    )
