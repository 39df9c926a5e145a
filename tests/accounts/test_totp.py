"""The optional TOTP second factor (ASVS 5.0 6.5, 6.6): enrolment with a QR code as SVG confirmed by a
code, the second sign-in step, wrong codes in the sign-in throttle, no replay within the window,
recovery codes usable once, turning it off, and the operator's `reset-password --clear-totp`."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pyotp
from quart import Quart

from cli.commands.accounts import reset_password, rotate_secret
from core.totp import open_secret, recovery_code_hash
from storage.credential_keys import load_keyring, reseal_to_current
from storage.queries import totp
from tests.accounts.conftest import PASSWORD, SECRET, account_settings, make_app, signed_up
from tests.exchanges_support import SIM_NOW

STEP = timedelta(seconds=30)


def code_at(secret: str, offset: int = 0) -> str:
    """The code of the time-step `offset` steps from the app's clock (SIM_NOW)."""
    return pyotp.TOTP(secret).at(SIM_NOW + offset * STEP)


async def _start(client: Any) -> str:
    """Start enrolment; the secret the security page shows."""
    assert (await client.post("/account/totp/start")).status_code == 303
    page = await (await client.get("/account/security")).get_data(as_text=True)
    found = re.search(r"Secret: <code>([A-Z2-7]+)</code>", page)
    assert found, page
    return found.group(1)


async def enrolled(web: Quart, email: str) -> tuple[Any, str, list[str]]:
    """A signed-in client of a user with TOTP on (confirmed with the code of the current step), its
    secret and its recovery codes."""
    client = await signed_up(web, email)
    secret = await _start(client)
    response = await client.post("/account/totp/confirm", form={"code": code_at(secret)})
    page = await response.get_data(as_text=True)
    assert response.status_code == 200, page
    codes = re.findall(r"<li><code>([0-9a-f-]{23})</code></li>", page)
    assert len(codes) == 10
    return client, secret, codes


async def _password_step(web: Quart, email: str) -> tuple[Any, str]:
    """A new browser that passed the password: its client and the pending sign-in token."""
    client = web.test_client()
    response = await client.post("/signin", form={"email": email, "password": PASSWORD, "next": "/account/keys"})
    page = await response.get_data(as_text=True)
    assert response.status_code == 200, page
    found = re.search(r'name="pending" value="([^"]+)"', page)
    assert found, page
    return client, found.group(1)


async def _signed_in(client: Any) -> bool:
    return int((await client.get("/api/keys")).status_code) == 200


async def test_enrolment_shows_an_svg_qr_code_under_the_strict_csp_and_needs_a_valid_code(
    web: Quart, db: asyncpg.Pool
) -> None:
    client = await signed_up(web, "enrol@example.com")
    secret = await _start(client)
    response = await client.get("/account/security")
    page = await response.get_data(as_text=True)
    qr = re.search(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert qr, page
    svg = base64.b64decode(qr.group(1)).decode()
    assert svg.startswith("<svg") and "<script" not in svg and "style" not in svg
    csp = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in csp and "'unsafe-inline'" not in csp
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert " style=" not in page
    # The secret is stored sealed, never in clear.
    sealed = await db.fetchval("SELECT ciphertext FROM user_totp")
    assert secret.encode() not in sealed
    wrong = await client.post("/account/totp/confirm", form={"code": code_at(secret, 5)})
    assert wrong.status_code == 400
    # Not confirmed yet: the password alone still signs in.
    other = web.test_client()
    assert (await other.post("/signin", form={"email": "enrol@example.com", "password": PASSWORD})).status_code == 303
    ok = await client.post("/account/totp/confirm", form={"code": code_at(secret)})
    assert ok.status_code == 200
    assert "shown only this once" in await ok.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM totp_recovery_codes WHERE used_at IS NULL") == 10
    again = await client.get("/account/security")
    assert "shown only this once" not in await again.get_data(as_text=True)


async def test_signing_in_with_totp_needs_the_code_after_the_password(web: Quart) -> None:
    _, secret, _ = await enrolled(web, "two@example.com")
    client, pending = await _password_step(web, "two@example.com")
    assert not await _signed_in(client)
    form = {"pending": pending, "code": code_at(secret, 1), "next": "/account/keys"}
    response = await client.post("/signin/totp", form=form)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/keys"
    assert await _signed_in(client)


async def test_a_code_cannot_be_replayed_within_its_window(web: Quart) -> None:
    _, secret, _ = await enrolled(web, "replay@example.com")
    first, pending = await _password_step(web, "replay@example.com")
    assert (await first.post("/signin/totp", form={"pending": pending, "code": code_at(secret, 1)})).status_code == 303
    second, pending = await _password_step(web, "replay@example.com")
    replayed = await second.post("/signin/totp", form={"pending": pending, "code": code_at(secret, 1)})
    assert replayed.status_code == 401
    # The enrolment's own code (an earlier step) is refused too.
    assert (await second.post("/signin/totp", form={"pending": pending, "code": code_at(secret)})).status_code == 401
    assert not await _signed_in(second)


async def test_wrong_codes_are_throttled_and_the_right_password_does_not_reset_the_count(web: Quart) -> None:
    _, secret, _ = await enrolled(web, "guess@example.com")
    client, pending = await _password_step(web, "guess@example.com")
    for wrong in ("000000", "111111", "222222"):
        assert (await client.post("/signin/totp", form={"pending": pending, "code": wrong})).status_code == 401
    # The right password again does not clear the count of wrong codes: the fourth one still counts,
    # and then even the right code waits (fail closed).
    client, pending = await _password_step(web, "guess@example.com")
    assert (await client.post("/signin/totp", form={"pending": pending, "code": "333333"})).status_code == 401
    limited = await client.post("/signin/totp", form={"pending": pending, "code": code_at(secret, 1)})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert not await _signed_in(client)
    again = await client.post("/signin", form={"email": "guess@example.com", "password": PASSWORD})
    assert again.status_code == 429


async def test_a_recovery_code_signs_in_once(web: Quart) -> None:
    _, _, codes = await enrolled(web, "lost@example.com")
    client, pending = await _password_step(web, "lost@example.com")
    used = codes[3].upper().replace("-", " ")
    assert (await client.post("/signin/totp", form={"pending": pending, "code": used})).status_code == 303
    assert await _signed_in(client)
    other, pending = await _password_step(web, "lost@example.com")
    assert (await other.post("/signin/totp", form={"pending": pending, "code": codes[3]})).status_code == 401
    assert (await other.post("/signin/totp", form={"pending": pending, "code": codes[4]})).status_code == 303


async def test_recovery_codes_are_stored_hashed(web: Quart, db: asyncpg.Pool) -> None:
    _, _, codes = await enrolled(web, "hashed@example.com")
    stored = {bytes(r["code_hash"]) for r in await db.fetch("SELECT code_hash FROM totp_recovery_codes")}
    assert stored == {recovery_code_hash(c) for c in codes}
    assert not any(c.replace("-", "").encode() in h for c in codes for h in stored)


async def test_a_pending_sign_in_expires_after_five_minutes(web: Quart, db: asyncpg.Pool) -> None:
    _, secret, _ = await enrolled(web, "slow@example.com")
    client, pending = await _password_step(web, "slow@example.com")
    expires = await db.fetchval("SELECT expires_at FROM totp_pending_logins")
    assert expires == SIM_NOW + timedelta(minutes=5)
    await db.execute("UPDATE totp_pending_logins SET expires_at = $1", SIM_NOW)
    response = await client.post("/signin/totp", form={"pending": pending, "code": code_at(secret, 1)})
    assert response.status_code == 400
    assert "expired" in await response.get_data(as_text=True)
    assert not await _signed_in(client)


async def test_turning_totp_off_needs_the_current_password_and_a_code(web: Quart) -> None:
    client, secret, _ = await enrolled(web, "off@example.com")
    no_code = await client.post("/account/totp/disable", form={"current_password": PASSWORD, "code": "123456"})
    assert no_code.status_code == 400
    bad_password = await client.post(
        "/account/totp/disable", form={"current_password": "not the password", "code": code_at(secret, 1)}
    )
    assert bad_password.status_code == 400
    off = await client.post("/account/totp/disable", form={"current_password": PASSWORD, "code": code_at(secret, 1)})
    assert off.status_code == 303
    other = web.test_client()
    assert (await other.post("/signin", form={"email": "off@example.com", "password": PASSWORD})).status_code == 303


async def test_enrolment_is_refused_with_a_clear_message_without_app_secret_key(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    settings = account_settings(db_dsn, redis_url, redis_prefix, tmp_path, APP_SECRET_KEY=None)
    app = make_app(settings, transport)
    async with app.test_app():
        client = await signed_up(app, "nosecret@example.com")
        response = await client.post("/account/totp/start")
        assert response.status_code == 400
        assert "needs APP_SECRET_KEY" in await response.get_data(as_text=True)


async def test_the_operator_clears_totp_with_reset_password(web: Quart, db: asyncpg.Pool) -> None:
    await enrolled(web, "phone@example.com")
    new_password = "a fresh and long passphrase 42"
    await reset_password(db, "phone@example.com", new_password, clear_totp=True)
    assert await db.fetchval("SELECT count(*) FROM user_totp") == 0
    assert await db.fetchval("SELECT count(*) FROM totp_recovery_codes") == 0
    client = web.test_client()
    response = await client.post("/signin", form={"email": "phone@example.com", "password": new_password})
    assert response.status_code == 303


async def test_rotate_secret_re_seals_totp_secrets_so_codes_still_work_under_the_new_secret(
    web: Quart,
    db: asyncpg.Pool,
    db_dsn: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    transport: httpx.AsyncBaseTransport,
) -> None:
    _, secret, _ = await enrolled(web, "rotate@example.com")
    new_secret = "a-brand-new-app-secret-key-9876543210-zyxwv"
    await rotate_secret(db, SECRET, new_secret)
    settings = account_settings(db_dsn, redis_url, redis_prefix, tmp_path, APP_SECRET_KEY=new_secret)
    app = make_app(settings, transport)
    async with app.test_app():
        client, pending = await _password_step(app, "rotate@example.com")
        response = await client.post("/signin/totp", form={"pending": pending, "code": code_at(secret, 1)})
        assert response.status_code == 303


async def test_the_workers_re_seal_moves_totp_secrets_saved_under_the_previous_secret(
    web: Quart, db: asyncpg.Pool
) -> None:
    _, secret, _ = await enrolled(web, "window@example.com")
    new_secret = "another-new-app-secret-key-0123456789-abcdef"
    keyring = await load_keyring(db, new_secret, SECRET)
    assert await reseal_to_current(db, keyring) == 1
    row = await totp.select_totp(db, (await db.fetchval("SELECT id FROM users")))
    assert row is not None and row.sealed.key_version == keyring.key_version
    current_only = await load_keyring(db, new_secret)
    assert open_secret(current_only, row.sealed, row.user_id) == secret


async def test_a_pending_sign_in_is_bound_to_its_user(web: Quart) -> None:
    """Another user's valid code never finishes Alice's pending sign-in (covers POST /signin/totp in
    tests/accounts/test_isolation.py)."""
    await enrolled(web, "alice2@example.com")
    _, mallory_secret, mallory_codes = await enrolled(web, "mallory2@example.com")
    client, pending = await _password_step(web, "alice2@example.com")
    for code in (code_at(mallory_secret, 1), mallory_codes[0]):
        assert (await client.post("/signin/totp", form={"pending": pending, "code": code})).status_code == 401
    assert not await _signed_in(client)
