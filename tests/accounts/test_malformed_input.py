"""Malformed and hostile requests get a 4xx with the JSON error body (never a 500), redirects stay on
this site, other sites' Host headers are refused, and signed-in unsafe requests must say where they
come from (ASVS 5.0 2.2.1, 3.5.1, 3.7.2)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from quart import Quart

from core.security import cross_origin_problem, local_path
from tests.accounts.conftest import PASSWORD, account_settings, make_app, signed_up
from tests.accounts.support import bare_client
from webapp.request_guards import host_name

JSON = {"Content-Type": "application/json"}


async def _json_error(response: object, status: int, error: str | None = None) -> None:
    body = await response.get_json()  # type: ignore[attr-defined]
    assert response.status_code == status, body  # type: ignore[attr-defined]
    assert set(body) == {"error", "detail"}
    if error is not None:
        assert body["error"] == error


async def test_deeply_nested_json_is_a_400_not_a_500(web: Quart) -> None:
    client = await signed_up(web, "deep@example.com")
    body = "[" * 100_000 + "]" * 100_000
    await _json_error(await client.post("/api/keys", data=body, headers=JSON), 400, "invalid_json")
    nested = '{"fields": ' + "[" * 50_000 + "]" * 50_000 + "}"
    await _json_error(await client.post("/api/me/embed", data=nested, headers=JSON), 400, "invalid_json")


async def test_json_body_that_is_not_utf8_is_a_400(web: Quart) -> None:
    client = await signed_up(web, "latin1@example.com")
    body = b'{"exchange": "bybit", "label": "caf\xe9"}'
    await _json_error(await client.post("/api/keys", data=body, headers=JSON), 400, "invalid_json")
    await _json_error(await client.post("/api/keys", data=b"{not json", headers=JSON), 400, "invalid_json")


async def test_nul_in_email_is_refused_at_sign_up_and_sign_in(web: Quart) -> None:
    client = web.test_client()
    signup = await client.post("/signup", form={"email": "nul\x00@example.com", "password": PASSWORD})
    assert signup.status_code == 400
    assert "valid email" in await signup.get_data(as_text=True)
    signin = await client.post("/signin", form={"email": "nul\x00@example.com", "password": PASSWORD})
    assert signin.status_code == 401


@pytest.mark.parametrize("label", ["bad\x00label", "tab\there", "line\nbreak", "zero\u200bwidth"])
async def test_control_characters_in_a_key_label_are_a_400(web: Quart, label: str) -> None:
    client = await signed_up(web, "labels@example.com")
    body = {"exchange": "hyperliquid", "address": "0x" + "ab" * 20, "label": label}
    await _json_error(await client.post("/api/keys", json=body), 400, "invalid_request")
    form = await client.post("/account/keys", form={k: v for k, v in body.items()})
    assert form.status_code == 422
    assert (await (await client.get("/api/keys")).get_json())["keys"] == []


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\r\n/evil.example",
        "/\x0b/evil.example",
        "/account\r\nSet-Cookie: x=1",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/\u00a0/evil.example",
    ],
)
async def test_next_with_control_characters_or_another_site_redirects_home(web: Quart, target: str) -> None:
    await signed_up(web, "next@example.com")
    client = web.test_client()
    response = await client.post("/signin", form={"email": "next@example.com", "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    page = await client.get("/signin", query_string={"next": target})
    assert page.status_code == 200


async def test_next_keeps_a_local_path() -> None:
    assert local_path("/account/keys?x=1") == "/account/keys?x=1"
    assert local_path("/\t/evil.example") is None
    assert local_path("account") is None


@pytest.mark.parametrize(
    ("header", "name"),
    [("localhost:8000", "localhost"), ("[::1]:8000", "[::1]"), ("Example.COM", "example.com"), ("[::1]", "[::1]")],
)
def test_host_name_drops_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


async def _with_hosts(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport, **extra: str
) -> Quart:
    return make_app(account_settings(db_dsn, redis_url, redis_prefix, tmp_path, **extra), transport)


async def test_other_sites_host_headers_are_refused(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    hosts = {"PERPVOL_HOST": "10.0.0.5", "PERPVOL_ALLOWED_HOSTS": "vol.example.org"}
    app = await _with_hosts(db_dsn, redis_url, redis_prefix, tmp_path, transport, **hosts)
    async with app.test_app():
        client = app.test_client()
        form = {"email": "rebind@example.com", "password": PASSWORD}
        # DNS rebinding: evil.example resolves to this machine, the browser sends its own name.
        refused = await client.post("/signup", form=form, headers={"Host": "evil.example"})
        await _json_error(refused, 400, "host_not_allowed")
        await _json_error(await client.get("/api/keys", headers={"Host": "evil.example:8000"}), 400)
        for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "10.0.0.5:8000", "VOL.example.org"):
            assert (await client.get("/healthz", headers={"Host": host})).status_code == 200, host
        created = await client.post("/signup", form=form, headers={"Host": "vol.example.org"})
        assert created.status_code == 303


async def test_allowed_hosts_star_answers_any_host(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    app = await _with_hosts(db_dsn, redis_url, redis_prefix, tmp_path, transport, PERPVOL_ALLOWED_HOSTS="*")
    async with app.test_app():
        assert (await app.test_client().get("/healthz", headers={"Host": "anything.example"})).status_code == 200


async def test_signed_in_unsafe_request_without_origin_or_fetch_metadata_is_refused(web: Quart) -> None:
    client = await signed_up(web, "nometa@example.com")
    bare = bare_client(web, client)
    await _json_error(await bare.post("/api/me/embed", json={"fields": ["volume_24h"]}), 403, "cross_site_request")
    await _json_error(await bare.post("/signout"), 403, "cross_site_request")
    assert (await bare.get("/api/keys")).status_code == 200  # safe methods still pass
    same = await bare.post("/api/me/embed", json={"fields": ["volume_24h"]}, headers={"Origin": "http://localhost"})
    assert same.status_code == 200
    # Without a session cookie (a script signing in) there is nothing to ride on.
    fresh = bare_client(web, web.test_client())
    signin = await fresh.post("/signin", form={"email": "nometa@example.com", "password": PASSWORD})
    assert signin.status_code == 303


def test_cross_origin_rule_refuses_a_session_without_origin_or_fetch_metadata() -> None:
    assert cross_origin_problem("POST", {}, "perpvol.example", with_session=True) is not None
    assert cross_origin_problem("POST", {}, "perpvol.example", with_session=False) is None
    assert cross_origin_problem("GET", {}, "perpvol.example", with_session=True) is None


async def test_embed_refuses_a_text_plain_body(web: Quart) -> None:
    client = await signed_up(web, "plain@example.com")
    # A cross-site form can send text/plain without a preflight: such a body is never read as JSON.
    response = await client.post(
        "/api/me/embed", data='{"fields": ["volume_24h"]}', headers={"Content-Type": "text/plain"}
    )
    await _json_error(response, 400)
    assert (await client.post("/api/me/embed", json={"fields": ["volume_24h"]})).status_code == 200
