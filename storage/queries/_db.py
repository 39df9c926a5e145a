"""What query functions accept: a pool, or a connection (possibly inside the caller's transaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# asyncpg ships no type hints, so these are Any to mypy; the alias still documents intent.
Executor: TypeAlias = "asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy"


@asynccontextmanager
async def transaction(db: Executor) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction (a savepoint when the caller already opened one)."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db
