"""The `users` and `sessions` tables (session tokens are stored as SHA-256 hashes only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from storage.queries._db import Executor


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    created_at: datetime
    embed_token: str | None = None
    embed_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserLogin:
    user: User
    password_hash: str


_USER_COLUMNS = "id, email, created_at, embed_token, embed_fields"


def _user(row: asyncpg.Record) -> User:
    return User(row["id"], row["email"], row["created_at"], row["embed_token"], tuple(row["embed_fields"]))


async def insert_user(db: Executor, email: str, password_hash: str) -> User | None:
    """The new user, or None when the email is taken."""
    row = await db.fetchrow(
        f"""
        INSERT INTO users (email, password_hash) VALUES ($1, $2)
        ON CONFLICT (email) DO NOTHING
        RETURNING {_USER_COLUMNS}
        """,
        email,
        password_hash,
    )
    return _user(row) if row else None


async def select_user_login(db: Executor, email: str) -> UserLogin | None:
    row = await db.fetchrow(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE email = $1", email)
    return UserLogin(_user(row), row["password_hash"]) if row else None




async def update_password_hash(db: Executor, user_id: int, password_hash: str) -> None:
    await db.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_hash: bytes
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client: str


async def insert_session(
    db: Executor, token_hash: bytes, user_id: int, created_at: datetime, expires_at: datetime, client: str = ""
) -> None:
    await db.execute(
        """
        INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, client)
        VALUES ($1, $2, $3, $4, $3, $5)
        """,
        token_hash,
        user_id,
        created_at,
        expires_at,
        client[:300],
    )


async def select_session_user(
    db: Executor, token_hash: bytes, now: datetime, idle: timedelta = timedelta(days=36500)
) -> User | None:
    """The session's user while it is neither expired nor idle for `idle`."""
    row = await db.fetchrow(
        f"""
        SELECT {", ".join("u." + c.strip() for c in _USER_COLUMNS.split(","))}
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $2::timestamptz - $3::interval
        """,
        token_hash,
        now,
        idle,
    )
    return _user(row) if row else None


async def touch_session(db: Executor, token_hash: bytes, now: datetime, every: timedelta) -> None:
    """Record use at most once per `every`: most requests match no row and write nothing."""
    await db.execute(
        "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2::timestamptz - $3::interval",
        token_hash,
        now,
        every,
    )


async def select_sessions(db: Executor, user_id: int, now: datetime) -> list[SessionRow]:
    rows = await db.fetch(
        """
        SELECT token_hash, created_at, last_seen_at, expires_at, client FROM sessions
        WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC
        """,
        user_id,
        now,
    )
    return [
        SessionRow(bytes(r["token_hash"]), r["created_at"], r["last_seen_at"], r["expires_at"], r["client"])
        for r in rows
    ]


async def delete_session(db: Executor, token_hash: bytes) -> None:
    await db.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)


async def delete_user_sessions(db: Executor, user_id: int, keep: bytes | None = None) -> int:
    """End every session of the user but `keep` (none kept when None); how many ended."""
    result: str = await db.execute(
        "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2", user_id, keep
    )
    return int(result.split()[-1])


async def delete_expired_sessions(db: Executor, now: datetime, idle: timedelta = timedelta(days=36500)) -> int:
    result: str = await db.execute(
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $1::timestamptz - $2::interval", now, idle
    )
    return int(result.split()[-1])


async def update_embed(db: Executor, user_id: int, token: str | None, fields: Sequence[str]) -> None:
    await db.execute(
        "UPDATE users SET embed_token = $2, embed_fields = $3::text[] WHERE id = $1",
        user_id,
        token,
        list(fields),
    )


async def select_user_by_embed_token(db: Executor, token: str) -> User | None:
    row = await db.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE embed_token = $1", token)
    return _user(row) if row else None
