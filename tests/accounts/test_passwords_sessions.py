"""Passwords and sessions (ASVS 5.0 6.2.2-6.2.4, 6.2.12, 6.3.3, 7.2.4, 7.3.1, 7.3.2, 7.5.2): common and
context-specific passwords refused, changing the password needs the current one and ends the other
sessions, an inactivity timeout, signing in again ends the browser's previous session, a sessions page
with "sign out everywhere else", and the operator's password reset."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from quart import Quart

from cli.commands.accounts import CommandError, reset_password
from core.security import SESSION_COOKIE, common_passwords, password_problem
from tests.accounts.conftest import PASSWORD, signed_up
from tests.accounts.support import bare_client
from tests.exchanges_support import SIM_NOW

NEW_PASSWORD = "a fresh and long passphrase 42"


def test_the_bundled_list_holds_the_10000_most_common_passwords() -> None:
    common = common_passwords()
    assert len(common) == 10_000
    assert {"123456", "password", "qwertyuiop", "1234567890"} <= common


@pytest.mark.parametrize(
    ("email", "password", "why"),
    [
        ("amy@example.com", "qwertyuiop", "most common"),
        ("amy@example.com", "1q2w3e4r5t", "most common"),
        ("mallory@example.com", "mallory@example.com", "email"),
        ("mallory@example.com", "Mallory-2024-secret", "email"),
        ("amy@example.com", "my perpvol password", "name"),
    ],
)
async def test_common_and_context_specific_passwords_are_refused_at_sign_up(
    web: Quart, email: str, password: str, why: str
) -> None:
    assert why in (password_problem(password, email) or "")
    response = await web.test_client().post("/signup", form={"email": email, "password": password})
    assert response.status_code == 400
    assert why in await response.get_data(as_text=True)


async def _keys_status(client: object) -> int:
    return int((await client.get("/api/keys")).status_code)  # type: ignore[attr-defined]


async def _second_browser(web: Quart, email: str, password: str = PASSWORD) -> object:
    client = web.test_client()
    response = await client.post("/signin", form={"email": email, "password": password})
    assert response.status_code == 303
    return client


async def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(web: Quart) -> None:
    here = await signed_up(web, "change@example.com")
    elsewhere = await _second_browser(web, "change@example.com")
    form = {"current_password": "not it at all", "new_password": NEW_PASSWORD}
    wrong = await here.post("/account/password", form=form)
    assert wrong.status_code == 400 and "current password is wrong" in await wrong.get_data(as_text=True)
    weak = await here.post("/account/password", form={"current_password": PASSWORD, "new_password": "1234567890"})
    assert weak.status_code == 400
    changed = await here.post("/account/password", form={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 303
    assert await _keys_status(here) == 200
    assert await _keys_status(elsewhere) == 401
    old = await web.test_client().post("/signin", form={"email": "change@example.com", "password": PASSWORD})
    assert old.status_code == 401
    await _second_browser(web, "change@example.com", NEW_PASSWORD)


async def test_sessions_page_lists_each_session_and_signs_out_everywhere_else(web: Quart) -> None:
    here = await signed_up(web, "many@example.com")
    elsewhere = await _second_browser(web, "many@example.com")
    page = await (await here.get("/account/security", headers={"User-Agent": "TestBrowser/1.0"})).get_data(as_text=True)
    assert page.count("<tr>") == 3  # a header row and two sessions
    assert "(this browser)" in page and SIM_NOW.strftime("%Y-%m-%d %H:%M UTC") in page
    ended = await here.post("/account/sessions/end-others")
    assert ended.status_code == 303
    assert await _keys_status(here) == 200
    assert await _keys_status(elsewhere) == 401
    page = await (await here.get("/account/security?done=others")).get_data(as_text=True)
    assert page.count("<tr>") == 2 and "Every other session is signed out." in page


async def test_a_session_unused_for_the_idle_timeout_ends_before_its_lifetime(web: Quart) -> None:
    client = await signed_up(web, "idle@example.com")
    accounts = web.extensions["accounts"]
    idle = accounts.settings.session_idle
    accounts.now = lambda: SIM_NOW + idle - timedelta(minutes=5)
    assert await _keys_status(client) == 200  # used in time: seen again, the timeout restarts
    accounts.now = lambda: SIM_NOW + 2 * idle - timedelta(minutes=10)
    assert await _keys_status(client) == 200
    accounts.now = lambda: SIM_NOW + 3 * idle
    assert await _keys_status(client) == 401


async def test_signing_in_again_ends_the_previous_session_of_that_browser(web: Quart, db: asyncpg.Pool) -> None:
    client = await signed_up(web, "again@example.com")
    before = bare_client(web, client)  # keeps the first session's cookie
    again = await client.post("/signin", form={"email": "again@example.com", "password": PASSWORD})
    assert again.status_code == 303 and SESSION_COOKIE in again.headers["Set-Cookie"]
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1
    assert await _keys_status(before) == 401
    assert await _keys_status(client) == 200


async def test_operator_resets_a_password_and_every_session_ends(web: Quart, db: asyncpg.Pool) -> None:
    client = await signed_up(web, "forgot@example.com")
    assert await reset_password(db, "Forgot@Example.com", NEW_PASSWORD) == 1
    assert await _keys_status(client) == 401
    await _second_browser(web, "forgot@example.com", NEW_PASSWORD)
    with pytest.raises(CommandError, match="no account"):
        await reset_password(db, "nobody@example.com", NEW_PASSWORD)
    with pytest.raises(CommandError, match="most common"):
        await reset_password(db, "forgot@example.com", "qwertyuiop")
