"""Sign-in throttling on both Redis servers perpvol supports (embedded 6.2 and the configured 7): a
progressive delay per (account, address), looser ceilings per account and per address, and failing
closed: when a counter cannot be read or written the attempt is refused, never let through."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from quart import Quart, Response

from core.security import SESSION_COOKIE
from tests.accounts.conftest import PASSWORD, account_settings, make_app, signed_up
from webapp import signin_throttle


@pytest.fixture
async def web_on_each_redis(
    db_dsn: str, each_redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> AsyncIterator[Quart]:
    app = make_app(account_settings(db_dsn, each_redis_url, redis_prefix, tmp_path), transport)
    async with app.test_app():
        yield app


ATTACKER = ("198.51.100.66", 40000)
OWNER = ("203.0.113.10", 50000)


async def _signin(web: Quart, email: str, password: str, client: tuple[str, int] = ATTACKER) -> Response:
    return await web.test_client().post(
        "/signin", form={"email": email, "password": password}, scope_base={"client": client}
    )


async def _end_delays(url: str, prefix: str) -> None:
    """What waiting out the current delay does (without the test sleeping for it)."""
    redis = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:signin:block:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def test_guessing_from_one_address_waits_twice_as_long_after_each_failure(
    web_on_each_redis: Quart, each_redis_url: str, redis_prefix: str
) -> None:
    web = web_on_each_redis
    await signed_up(web, "carol@example.com")
    for _ in range(signin_throttle.PAIR_FREE_FAILURES):
        assert (await _signin(web, "carol@example.com", "wrong password!")).status_code == 401
    waits = []
    for _ in range(4):
        assert (await _signin(web, "carol@example.com", "wrong password!")).status_code == 401
        blocked = await _signin(web, "carol@example.com", PASSWORD)  # even the right one waits
        assert blocked.status_code == 429
        assert SESSION_COOKIE not in blocked.headers.get("Set-Cookie", "")
        waits.append(int(blocked.headers["Retry-After"]))
        await _end_delays(each_redis_url, redis_prefix)
    assert waits == [2, 4, 8, 16]
    assert (await _signin(web, "carol@example.com", PASSWORD)).status_code == 303


async def test_the_owner_signs_in_from_another_address_while_one_address_guesses(
    web_on_each_redis: Quart, each_redis_url: str, redis_prefix: str
) -> None:
    web = web_on_each_redis
    await signed_up(web, "dave@example.com")
    for _ in range(12):
        await _signin(web, "dave@example.com", "wrong password!")
        await _end_delays(each_redis_url, redis_prefix)
        await _signin(web, "dave@example.com", "wrong password!")
    assert (await _signin(web, "dave@example.com", PASSWORD)).status_code == 429
    assert (await _signin(web, "dave@example.com", PASSWORD, OWNER)).status_code == 303
    # Another account from the guessing address is not locked out by dave's failures either.
    await signed_up(web, "erin@example.com")
    assert (await _signin(web, "erin@example.com", PASSWORD)).status_code == 303


async def test_guessing_spread_over_many_addresses_hits_the_account_ceiling(
    web_on_each_redis: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin_throttle, "ACCOUNT_FAILURES", 6)
    web = web_on_each_redis
    await signed_up(web, "grace@example.com")
    for n in range(6):
        wrong = await _signin(web, "grace@example.com", "wrong password!", (f"192.0.2.{n + 1}", 1))
        assert wrong.status_code == 401
    locked = await _signin(web, "grace@example.com", PASSWORD, OWNER)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= signin_throttle.ACCOUNT_WINDOW


async def test_one_address_failing_on_many_accounts_hits_the_address_ceiling(
    web_on_each_redis: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin_throttle, "ADDRESS_FAILURES", 4)
    web = web_on_each_redis
    await signed_up(web, "ivan@example.com")
    for n in range(4):
        assert (await _signin(web, f"nobody{n}@example.com", "wrong password!")).status_code == 401
    stuffed = await _signin(web, "ivan@example.com", PASSWORD)
    assert stuffed.status_code == 429
    assert 0 < int(stuffed.headers["Retry-After"]) <= signin_throttle.ADDRESS_WINDOW
    assert (await _signin(web, "ivan@example.com", PASSWORD, OWNER)).status_code == 303


async def test_failure_counters_expire_with_their_window_on_each_redis(
    web_on_each_redis: Quart, each_redis_url: str, redis_prefix: str
) -> None:
    await _signin(web_on_each_redis, "frank@example.com", "wrong password!")
    redis = aioredis.Redis.from_url(each_redis_url)
    windows = {
        "pair": signin_throttle.PAIR_WINDOW,
        "account": signin_throttle.ACCOUNT_WINDOW,
        "addr": signin_throttle.ADDRESS_WINDOW,
    }
    try:
        keys = [key.decode() async for key in redis.scan_iter(match=f"{redis_prefix}:signin:*")]
        assert sorted(k.split(":")[-3 if ":pair:" in k else -2] for k in keys) == sorted(windows)
        for key in keys:
            kind = key.split(":")[-3 if ":pair:" in key else -2]
            assert await redis.get(key) == b"1"
            assert 0 < await redis.ttl(key) <= windows[kind]
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    ("allowed", "what"),
    [
        (["+get", "+mget", "+ttl", "+pttl"], "a failure that cannot be counted"),
        (["+eval", "+evalsha", "+incr", "+expire", "+set"], "counters that cannot be read"),
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
