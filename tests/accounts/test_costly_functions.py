"""Costly functions are bounded (ASVS 5.0 2.4.1, 15.2.2): password hashing per process (a few at once,
a short queue, then 503 with Retry-After), and sign-ups per client address in Redis (6.2 and 7)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from quart import Quart

from core.security import Passwords
from tests.accounts.conftest import PASSWORD, account_settings, sim_now
from tests.accounts.support import SameOriginClient
from webapp import signin_throttle
from webapp.account_routes import register_accounts
from webapp.app import create_app


class GatedHasher(PasswordHasher):
    """A cheap argon2 that holds every hash until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.started.release()
        assert self.gate.wait(10), "the test never opened the gate"
        return super().hash(password, salt=salt)


@pytest.fixture
async def gated_web(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> AsyncIterator[tuple[Quart, GatedHasher]]:
    hasher = GatedHasher()
    app = create_app(account_settings(db_dsn, redis_url, redis_prefix, tmp_path), accounts=False)
    app.test_client_class = SameOriginClient
    register_accounts(app, passwords=Passwords(hasher, concurrency=1, queue=1), venue_transport=transport, now=sim_now)
    async with app.test_app():
        yield app, hasher
    hasher.gate.set()


async def _signup(app: Quart, email: str, address: str = "198.51.100.7") -> Any:
    return await app.test_client().post(
        "/signup", form={"email": email, "password": PASSWORD}, scope_base={"client": (address, 1)}
    )


async def test_password_hashing_beyond_its_queue_answers_503_with_retry_after(
    gated_web: tuple[Quart, GatedHasher],
) -> None:
    app, hasher = gated_web
    running = asyncio.create_task(_signup(app, "one@example.com"))
    await asyncio.to_thread(hasher.started.acquire, True, 5)  # one hash holds the only slot
    queued = asyncio.create_task(_signup(app, "two@example.com"))
    for _ in range(100):  # until the second request waits in the queue
        if app.extensions["accounts"].passwords.pending == 2:
            break
        await asyncio.sleep(0.01)
    busy = await _signup(app, "three@example.com")
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "2"
    assert (await busy.get_json())["error"] == "busy"
    hasher.gate.set()
    assert (await running).status_code == 303
    assert (await queued).status_code == 303
    assert (await _signup(app, "three@example.com")).status_code == 303


async def test_sign_up_is_limited_per_client_address_on_each_redis(
    db_dsn: str,
    each_redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    transport: httpx.AsyncBaseTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signin_throttle, "SIGNUP_PER_ADDRESS", 3)
    app = create_app(account_settings(db_dsn, each_redis_url, redis_prefix, tmp_path), accounts=False)
    app.test_client_class = SameOriginClient
    register_accounts(app, passwords=Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)))
    async with app.test_app():
        for n in range(3):
            assert (await _signup(app, f"bulk{n}@example.com")).status_code == 303
        refused = await _signup(app, "bulk3@example.com")
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= signin_throttle.SIGNUP_WINDOW
        assert (await _signup(app, "bulk3@example.com", "203.0.113.99")).status_code == 303
