"""The `users` and `sessions` tables (session tokens are stored as SHA-256 hashes only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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


async def insert_session(
    db: Executor, token_hash: bytes, user_id: int, created_at: datetime, expires_at: datetime
) -> None:
    await db.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash,
        user_id,
        created_at,
        expires_at,
    )


async def select_session_user(db: Executor, token_hash: bytes, now: datetime) -> User | None:
    row = await db.fetchrow(
        f"""
        SELECT {", ".join("u." + c.strip() for c in _USER_COLUMNS.split(","))}
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1 AND s.expires_at > $2
        """,
        token_hash,
        now,
    )
    return _user(row) if row else None


async def delete_session(db: Executor, token_hash: bytes) -> None:
    await db.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)


async def delete_expired_sessions(db: Executor, now: datetime) -> int:
    result: str = await db.execute("DELETE FROM sessions WHERE expires_at <= $1", now)
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
