"""Helpers for account tests: store a credential as the web app would, and flaky transports."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
from quart.testing import QuartClient
from werkzeug.datastructures import Headers

from core.security import CredentialSealer, mask
from storage.queries import credentials, users
from tests.exchanges_support import SIM_NOW


async def new_user(db: asyncpg.Pool, email: str) -> int:
    user = await users.insert_user(db, email, "not-a-real-hash")
    assert user is not None
    return user.id


async def store_credential(
    db: asyncpg.Pool, cipher: CredentialSealer, user_id: int, exchange: str, key: str, secret: str = ""
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


class SameOriginClient(QuartClient):
    """A test client that sends what a browser sends on its own site's requests
    (`Sec-Fetch-Site: same-origin`) unless the test sets `Sec-Fetch-Site` or `Origin` itself."""

    async def _make_request(self, path: str, method: str, headers: Any, *args: Any, **kwargs: Any) -> Any:
        sent = Headers(headers) if headers is not None else Headers()
        if "Sec-Fetch-Site" not in sent and "Origin" not in sent:
            sent["Sec-Fetch-Site"] = "same-origin"
        return await super()._make_request(path, method, sent, *args, **kwargs)


def bare_client(app: Any, like: QuartClient) -> QuartClient:
    """A client with `like`'s cookies that sends neither `Sec-Fetch-Site` nor `Origin`."""
    client = QuartClient(app)
    assert client.cookie_jar is not None and like.cookie_jar is not None
    for cookie in like.cookie_jar:
        client.cookie_jar.set_cookie(cookie)
    return client
