"""Sign-in throttling on both Redis servers perpvol supports (embedded 6.2 and the configured 7), and
failing closed: when a counter cannot be read or written the attempt is refused, never let through."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from quart import Quart

from core.security import SESSION_COOKIE
from tests.accounts.conftest import PASSWORD, account_settings, make_app, signed_up


@pytest.fixture
async def web_on_each_redis(
    db_dsn: str, each_redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> AsyncIterator[Quart]:
    app = make_app(account_settings(db_dsn, each_redis_url, redis_prefix, tmp_path), transport)
    async with app.test_app():
        yield app


async def test_signin_is_throttled_per_email_after_five_failures(web_on_each_redis: Quart) -> None:
    web = web_on_each_redis
    await signed_up(web, "carol@example.com")
    client = web.test_client()
    for _ in range(5):
        wrong = await client.post("/signin", form={"email": "carol@example.com", "password": "wrong password!"})
        assert wrong.status_code == 401
    blocked = await client.post("/signin", form={"email": "carol@example.com", "password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    # Another account from the same address is not locked out by carol's failures.
    await signed_up(web, "dave@example.com")
    other = await client.post("/signin", form={"email": "dave@example.com", "password": PASSWORD})
    assert other.status_code == 303


async def test_failure_counters_expire_with_their_window_on_each_redis(
    web_on_each_redis: Quart, each_redis_url: str, redis_prefix: str
) -> None:
    client = web_on_each_redis.test_client()
    await client.post("/signin", form={"email": "frank@example.com", "password": "wrong password!"})
    redis = aioredis.Redis.from_url(each_redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}:signin-failures:*")]
        assert len(keys) == 2
        for key in keys:
            assert await redis.get(key) == b"1"
            assert 0 < await redis.ttl(key) <= 900
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    ("allowed", "what"),
    [
        (["+get", "+mget", "+ttl"], "a failure that cannot be counted"),
        (["+eval", "+evalsha", "+incr", "+expire"], "counters that cannot be read"),
    ],
)
async def test_signin_fails_closed_when_redis_refuses_the_throttle(
    db_dsn: str,
    each_redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    transport: httpx.AsyncBaseTransport,
    allowed: list[str],
    what: str,
) -> None:
    # A Redis user denied part of the throttle's commands (real ACLs, on Redis 6.2 and 7 alike).
    admin = aioredis.Redis.from_url(each_redis_url)
    user, password = f"perpvol-test-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    basics = ["+@connection", "+client", "+select", "+ping", "+info", "+subscribe", "+psubscribe"]
    await admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"], commands=basics + allowed
    )
    try:
        app = make_app(account_settings(db_dsn, each_redis_url, redis_prefix, tmp_path), transport)
        async with app.test_app():
            await signed_up(app, "heidi@example.com")
        restricted = _with_user(each_redis_url, user, password)
        app = make_app(account_settings(db_dsn, restricted, redis_prefix, tmp_path), transport)
        async with app.test_app():
            client = app.test_client()
            for _ in range(7):
                wrong = await client.post("/signin", form={"email": "heidi@example.com", "password": "wrong pw!"})
                assert wrong.status_code == 503, f"{what}: an attempt must be refused, not judged"
                assert "Retry-After" in wrong.headers
            right = await client.post("/signin", form={"email": "heidi@example.com", "password": PASSWORD})
            assert right.status_code == 503, f"{what}: even the right password waits for the throttle"
            assert SESSION_COOKIE not in right.headers.get("Set-Cookie", "")
    finally:
        await admin.acl_deluser(user)
        await admin.aclose()


def _with_user(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://{user}:{password}@{rest}"
