"""Cookies and headers (ASVS 5.0 3.3.1, 3.4.1, 14.3.2): the session cookie is `__Host-` prefixed when
secure, HSTS is sent over https (directly or from a trusted proxy that says so), and signed-in HTML
pages are never stored."""

from __future__ import annotations

from pathlib import Path

import httpx
from quart import Quart

from core.security import SECURE_SESSION_COOKIE, SESSION_COOKIE
from tests.accounts.conftest import PASSWORD, account_settings, make_app, signed_up

PROXY = ("10.1.2.3", 4000)
HSTS = "max-age=31536000; includeSubDomains"


def _app(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport, **extra: object
) -> Quart:
    return make_app(account_settings(db_dsn, redis_url, redis_prefix, tmp_path, **extra), transport)


async def test_secure_session_cookie_is_host_prefixed(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    app = _app(db_dsn, redis_url, redis_prefix, tmp_path, transport, PERPVOL_COOKIE_SECURE=True)
    async with app.test_app():
        client = app.test_client()
        form = {"email": "host@example.com", "password": PASSWORD}
        response = await client.post("/signup", form=form, scheme="https")
        assert response.status_code == 303
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{SECURE_SESSION_COOKIE}=")
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie and "HttpOnly" in cookie
        token = cookie.split(";")[0].split("=", 1)[1]
        jar = {"Cookie": f"{SECURE_SESSION_COOKIE}={token}"}
        assert (await app.test_client().get("/api/keys", headers=jar, scheme="https")).status_code == 200
        # The unprefixed name is not a session here: a cookie planted by a sibling subdomain is ignored.
        planted = {"Cookie": f"{SESSION_COOKIE}={token}"}
        assert (await app.test_client().get("/api/keys", headers=planted, scheme="https")).status_code == 401


async def test_hsts_only_over_https(web: Quart) -> None:
    client = web.test_client()
    assert "Strict-Transport-Security" not in (await client.get("/signin")).headers
    assert (await client.get("/signin", scheme="https")).headers["Strict-Transport-Security"] == HSTS
    # Anyone can send X-Forwarded-Proto: from a peer that is not a trusted proxy it means nothing.
    spoofed = await client.get("/signin", headers={"X-Forwarded-Proto": "https"}, scope_base={"client": PROXY})
    assert "Strict-Transport-Security" not in spoofed.headers


async def test_a_trusted_proxy_gives_the_scheme_and_the_client_address(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    app = _app(db_dsn, redis_url, redis_prefix, tmp_path, transport, PERPVOL_TRUSTED_PROXIES="10.0.0.0/8, ::1")
    async with app.test_app():
        client = await signed_up(app, "proxied@example.com")
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23, 10.9.9.9"}
        page = await client.get("/account/security", headers=forwarded, scope_base={"client": PROXY})
        assert page.headers["Strict-Transport-Security"] == HSTS
        again = await client.post(
            "/signin",
            form={"email": "proxied@example.com", "password": PASSWORD},
            headers=forwarded,
            scope_base={"client": PROXY},
        )
        assert again.status_code == 303
        listed = await (await client.get("/account/security")).get_data(as_text=True)
        assert "· 198.51.100.23" in listed  # the client behind the proxies, not the proxy


async def test_signed_in_html_pages_are_never_stored(web: Quart) -> None:
    assert "no-store" not in (await web.test_client().get("/")).headers.get("Cache-Control", "")
    client = await signed_up(web, "nostore@example.com")
    for path in ("/", "/account", "/account/keys", "/account/security"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
