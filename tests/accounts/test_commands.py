"""`perpvol user create`, `perpvol user reset-password` and `perpvol rotate-secret` through the real
command line entry point."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from cli.main import main as perpvol_main
from core.security import CredentialCipher, token_hash
from core.totp import new_recovery_codes, new_secret, recovery_code_hash, seal_secret
from storage.credential_keys import load_keyring
from storage.queries import credentials, totp, users
from tests.accounts.conftest import SECRET
from tests.accounts.support import new_user, store_credential


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_dsn: str, redis_url: str, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    for name, value in {
        "DATABASE_URL": db_dsn,
        "REDIS_URL": redis_url,
        "APP_SECRET_KEY": SECRET,
        "PERPVOL_DATA_DIR": str(tmp_path),
        "PERPVOL_SIGNUP": "closed",
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


async def test_user_create_makes_an_account_even_with_signup_closed(
    env: pytest.MonkeyPatch, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    with pytest.raises(SystemExit) as exit_:
        await _in_thread(["user", "create", "Ops@Example.com", "--password-stdin"])
    assert exit_.value.code == 0
    assert "created user" in capsys.readouterr().out
    assert await users.select_user_login(db, "ops@example.com") is not None
    env.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(SystemExit) as again:
        await _in_thread(["user", "create", "other@example.com", "--password-stdin"])
    assert again.value.code == 2


async def test_rotate_secret_command_prints_the_new_secret_and_keeps_credentials(
    env: pytest.MonkeyPatch, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    cipher = await load_keyring(db, SECRET)
    user = await new_user(db, "r@example.com")
    cid = await store_credential(db, cipher, user, "woox", "RotateKey0001==", "rotate-secret")
    env.delenv("PERPVOL_NEW_SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as exit_:
        await _in_thread(["rotate-secret"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    new_secret = out.split("APP_SECRET_KEY=")[1].split()[0]
    found = await credentials.select_sealed(db, cid)
    assert found is not None
    row, sealed = found
    opened = CredentialCipher(new_secret, sealed.key_version).open(sealed, row.user_id, row.exchange, row.id)
    assert opened["secret"] == "rotate-secret"


async def _in_thread(argv: list[str]) -> None:
    import asyncio

    # The command runs its own event loop, as it does from a shell.
    await asyncio.to_thread(perpvol_main, argv)


async def test_user_reset_password_command_sets_it_and_ends_every_session(
    env: pytest.MonkeyPatch, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await new_user(db, "lost@example.com")
    now = datetime.now(UTC)
    await users.insert_session(db, token_hash("old-session"), user, now, now + timedelta(days=1))
    env.setattr("sys.stdin", io.StringIO("a brand new long passphrase\n"))
    with pytest.raises(SystemExit) as exit_:
        await _in_thread(["user", "reset-password", "Lost@Example.com", "--password-stdin"])
    assert exit_.value.code == 0
    assert "1 session(s) ended" in capsys.readouterr().out
    assert await users.select_session_user(db, token_hash("old-session"), now) is None
    login = await users.select_user_login(db, "lost@example.com")
    assert login is not None and login.password_hash.startswith("$argon2id$")
    env.setattr("sys.stdin", io.StringIO("a brand new long passphrase\n"))
    with pytest.raises(SystemExit) as unknown:
        await _in_thread(["user", "reset-password", "nobody@example.com", "--password-stdin"])
    assert unknown.value.code == 2
    assert "no account" in capsys.readouterr().err


async def test_user_reset_password_clear_totp_removes_the_second_factor_and_recovery_codes(
    env: pytest.MonkeyPatch, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await new_user(db, "phone@example.com")
    sealed = seal_secret(await load_keyring(db, SECRET), new_secret(), user)
    await totp.upsert_enrolment(db, user, sealed)
    await totp.enable(db, user, datetime.now(UTC), [recovery_code_hash(c) for c in new_recovery_codes()])
    env.setattr("sys.stdin", io.StringIO("a brand new long passphrase\n"))
    with pytest.raises(SystemExit) as kept:
        await _in_thread(["user", "reset-password", "phone@example.com", "--password-stdin"])
    assert kept.value.code == 0
    assert await totp.totp_enabled(db, user)
    env.setattr("sys.stdin", io.StringIO("a brand new long passphrase\n"))
    with pytest.raises(SystemExit) as cleared:
        await _in_thread(["user", "reset-password", "phone@example.com", "--password-stdin", "--clear-totp"])
    assert cleared.value.code == 0
    assert "two-factor sign-in removed" in capsys.readouterr().out
    assert not await totp.totp_enabled(db, user)
    assert await totp.count_unused_recovery_codes(db, user) == 0
