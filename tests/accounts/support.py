"""Helpers for account tests: store a credential as the web app would, and flaky transports."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import asyncpg
import httpx

from core.security import CredentialCipher, mask
from storage.queries import credentials, users
from tests.exchanges_support import SIM_NOW


async def new_user(db: asyncpg.Pool, email: str) -> int:
    user = await users.insert_user(db, email, "not-a-real-hash")
    assert user is not None
    return user.id


async def store_credential(
    db: asyncpg.Pool, cipher: CredentialCipher, user_id: int, exchange: str, key: str, secret: str = ""
) -> UUID:
    new = credentials.NewCredential(
        uuid4(), user_id, exchange, exchange, mask(key), ("read",), "ok", None, None, SIM_NOW
    )
    sealed = cipher.seal({"key": key, "secret": secret}, user_id, exchange, new.id)
    await credentials.insert_credential(db, new, sealed)
    return new.id


class FailingTransport(httpx.AsyncBaseTransport):
    """Passes `allowed` requests to `inner`, then fails every request (or hangs, to be cancelled)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, allowed: int, *, hang: bool = False) -> None:
        self.inner, self.allowed, self.hang, self.sent = inner, allowed, hang, 0
        self.tripped = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        if self.sent > self.allowed:
            self.tripped.set()
            if self.hang:
                await asyncio.Event().wait()
            raise httpx.ConnectError("simulated network failure", request=request)
        return await self.inner.handle_async_request(request)
