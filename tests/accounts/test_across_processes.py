"""What a user expects to be global is global across web processes: sessions (PostgreSQL) and sign-in
throttling (Redis). Two app instances stand for two `perpvol web` processes on the same storage."""

from __future__ import annotations

import httpx

from core.security import SESSION_COOKIE
from core.settings import Settings
from tests.accounts.conftest import PASSWORD, make_app, signed_up
from webapp.signin_throttle import PAIR_FREE_FAILURES


async def test_a_session_started_on_one_web_process_works_on_another(
    acc_settings: Settings, transport: httpx.AsyncBaseTransport
) -> None:
    first, second = make_app(acc_settings, transport), make_app(acc_settings, transport)
    async with first.test_app(), second.test_app():
        signed_in = await signed_up(first, "gail@example.com")
        cookie = next(c.value for c in signed_in.cookie_jar or [] if c.name == SESSION_COOKIE)
        assert cookie is not None
        other = second.test_client()
        other.set_cookie("localhost", SESSION_COOKIE, cookie)
        assert (await other.get("/api/keys")).status_code == 200
        # Signing out on the second process ends the session on the first too.
        assert (await other.post("/signout")).status_code == 303
        assert (await signed_in.get("/api/keys")).status_code == 401


async def test_sign_in_failures_on_two_web_processes_add_up(
    acc_settings: Settings, transport: httpx.AsyncBaseTransport
) -> None:
    first, second = make_app(acc_settings, transport), make_app(acc_settings, transport)
    async with first.test_app(), second.test_app():
        await signed_up(first, "hank@example.com")
        # PAIR_FREE_FAILURES cost nothing, the next one starts a delay: counted per process, two
        # failures each would leave both processes free.
        for turn in range(PAIR_FREE_FAILURES + 1):
            app = (first, second)[turn % 2]
            wrong = await app.test_client().post("/signin", form={"email": "hank@example.com", "password": "nope!!!!"})
            assert wrong.status_code == 401
        for app in (first, second):
            blocked = await app.test_client().post("/signin", form={"email": "hank@example.com", "password": PASSWORD})
            assert blocked.status_code == 429
