"""The encryption secret (ASVS 5.0 11.4.4, 11.5.1, 11.2.2, 16.5.3): weak ones are refused with how to
make one, a secret that opens none of the stored credentials stops web and worker, and a rotation
leaves no credential behind under the old version."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from cli.commands.accounts import CommandError, rotate_secret
from core.secret_strength import secret_bits
from core.security import CredentialCipher, secret_fingerprint
from core.settings import SettingsError, load_settings
from storage.credential_keys import SecretMismatch, load_keyring, reseal_to_current
from storage.queries import credentials
from tests.accounts.conftest import SECRET, account_settings, make_app, signed_up
from tests.accounts.support import new_user, store_credential
from workers import account_jobs
from workers.worker import shutdown, startup, worker_settings

NEW = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    "weak", ["a", "password", "correcthorsebatterystaple", "a" * 64, "abc" * 20, "0123456789abcdef"]
)
def test_weak_app_secret_key_is_refused_with_how_to_make_one(
    weak: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_SECRET_KEY", weak)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "APP_SECRET_KEY" in message and "128 bits" in message
    assert "secrets.token_urlsafe(32)" in message
    assert "(got (hidden))" in message  # the secret is never echoed


@pytest.mark.parametrize("strong", [secrets.token_hex(16), secrets.token_urlsafe(32), SECRET])
def test_generated_secrets_are_accepted(strong: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_SECRET_KEY", strong)
    settings = load_settings()
    assert settings.app_secret_key is not None and secret_bits(strong) >= 128


async def test_rotate_secret_refuses_a_weak_new_secret(db: asyncpg.Pool) -> None:
    await load_keyring(db, SECRET)
    with pytest.raises(CommandError, match="PERPVOL_NEW_SECRET_KEY is too weak"):
        await rotate_secret(db, SECRET, "hunter2hunter2")


async def _stored_under(db: asyncpg.Pool, secret: str, email: str = "owner@example.com") -> None:
    keyring = await load_keyring(db, secret)
    await store_credential(db, keyring, await new_user(db, email), "bybit", "StoredKey000001", "s")


async def test_web_refuses_to_start_when_the_secret_opens_no_stored_credential(
    db: asyncpg.Pool,
    db_dsn: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    transport: httpx.AsyncBaseTransport,
) -> None:
    await _stored_under(db, SECRET)
    wrong = account_settings(db_dsn, redis_url, redis_prefix, tmp_path, APP_SECRET_KEY=NEW)
    app = make_app(wrong, transport)
    # The ASGI server sees start-up fail (the test harness wraps the SecretMismatch in its own error).
    with pytest.raises(Exception, match="APP_SECRET_KEY opens none of the 1 stored"):
        async with app.test_app():
            pass
    # The wrong secret was not registered as a new key version.
    assert await credentials.select_key_version(db, secret_fingerprint(NEW)) is None


async def _worker_ctx(settings: Any, redis_url: str) -> dict[str, Any]:
    redis: ArqRedis = await create_pool(RedisSettings.from_dsn(redis_url))
    return {"settings": settings, "redis": redis}


async def test_worker_refuses_to_start_when_the_secret_opens_no_stored_credential(
    db: asyncpg.Pool, db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    await _stored_under(db, SECRET)
    wrong = account_settings(db_dsn, redis_url, redis_prefix, tmp_path, APP_SECRET_KEY=NEW)
    assert worker_settings(wrong)["on_startup"] is startup
    ctx = await _worker_ctx(wrong, redis_url)
    try:
        with pytest.raises(SecretMismatch):
            await startup(ctx)
    finally:
        await shutdown(ctx)
        await ctx["redis"].aclose()
    assert await credentials.select_key_version(db, secret_fingerprint(NEW)) is None


async def test_a_first_secret_with_nothing_stored_is_registered(db: asyncpg.Pool) -> None:
    keyring = await load_keyring(db, NEW)
    assert await credentials.select_key_version(db, secret_fingerprint(NEW)) == keyring.key_version


async def test_a_key_saved_by_a_web_process_still_on_the_old_secret_ends_under_the_new_one(
    db: asyncpg.Pool,
    db_dsn: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    transport: httpx.AsyncBaseTransport,
) -> None:
    # The web app runs on the old secret; the operator rotates; the web app saves a key before it restarts.
    old_web = make_app(account_settings(db_dsn, redis_url, redis_prefix, tmp_path), transport)
    async with old_web.test_app():
        client = await signed_up(old_web, "late@example.com")
        assert (await client.post("/api/keys", json=_hyperliquid(1))).status_code == 201
        count, new_version = await rotate_secret(db, SECRET, NEW)
        assert count == 1
        assert (await client.post("/api/keys", json=_hyperliquid(2))).status_code == 201
    assert await credentials.count_by_key_version(db) == {new_version - 1: 1, new_version: 1}

    # Restarted with the new secret and the old one as previous: the worker starts and re-seals.
    both = account_settings(
        db_dsn, redis_url, redis_prefix, tmp_path, APP_SECRET_KEY=NEW, APP_SECRET_KEY_PREVIOUS=SECRET
    )
    ctx = await _worker_ctx(both, redis_url)
    try:
        await startup(ctx)
        assert await credentials.count_by_key_version(db) == {new_version: 2}
        assert await account_jobs.reseal_credentials(ctx) == 0
    finally:
        await shutdown(ctx)
        await ctx["redis"].aclose()

    # The web app on both secrets seals new keys under the new version only, and later rotations work.
    new_web = make_app(both, transport)
    async with new_web.test_app():
        client = await signed_up(new_web, "later@example.com")
        assert (await client.post("/api/keys", json=_hyperliquid(3))).status_code == 201
    assert await credentials.count_by_key_version(db) == {new_version: 3}
    newer = secrets.token_urlsafe(32)
    assert (await rotate_secret(db, NEW, newer))[0] == 3


async def test_reseal_opens_every_moved_credential_under_the_current_secret(db: asyncpg.Pool) -> None:
    await _stored_under(db, SECRET)
    _, version = await rotate_secret(db, SECRET, NEW)
    old = CredentialCipher(SECRET, version - 1)  # a process started before the rotation still holds it
    await store_credential(db, old, await new_user(db, "second@example.com"), "woox", "WooKey000000001", "w")
    keyring = await load_keyring(db, NEW, SECRET)
    assert await reseal_to_current(db, keyring) == 1
    current_only = await load_keyring(db, NEW)
    for row_id in [r["id"] for r in await db.fetch("SELECT id FROM credentials")]:
        found = await credentials.select_sealed(db, row_id)
        assert found is not None
        row, sealed = found
        assert sealed.key_version == version
        assert current_only.open(sealed, row.user_id, row.exchange, row.id)["key"].endswith("001")


def _hyperliquid(n: int) -> dict[str, str]:
    return {"exchange": "hyperliquid", "address": "0x" + f"{n:02x}" * 20}
