"""Sign-up/in/out, sessions, CSRF, throttling and the keys API, against real PostgreSQL and Redis."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import redis.asyncio as aioredis
from arq import func
from arq.connections import ArqRedis
from arq.worker import Worker
from quart import Quart

from core.security import SECURE_SESSION_COOKIE
from core.settings import Settings
from exchanges.sim.accounts import accounts_of, generate_fills, token_for
from exchanges.sim.app import SimulatorApp
from storage.job_codec import deserialize_job
from storage.queries import fills
from tests.accounts.conftest import PASSWORD, account_settings, make_app, signed_up
from tests.exchanges_support import SIM_NOW
from workers.account_jobs import sync_one_credential
from workers.account_sync import SyncDeps, sync_credential
from workers.worker import worker_settings

BYBIT_KEY, BYBIT_SECRET = "XBybitReadOnlyKey1234", "bybit-secret-value-never-logged-1"


def _add_bybit(sim: SimulatorApp, key: str = BYBIT_KEY, secret: str = BYBIT_SECRET, **kw: object) -> None:
    accounts_of(sim.model).add("bybit", key, secret, **kw)  # type: ignore[arg-type]


async def test_signup_sets_a_hardened_session_cookie_and_signout_ends_it(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    app = make_app(account_settings(db_dsn, redis_url, redis_prefix, tmp_path, PERPVOL_COOKIE_SECURE=True), transport)
    async with app.test_app():
        client = app.test_client()
        response = await client.post("/signup", form={"email": "A@Example.com", "password": PASSWORD})
        assert response.status_code == 303
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{SECURE_SESSION_COOKIE}=")
        for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
            assert flag in cookie


async def test_signin_signout_and_pages_need_a_session(web: Quart) -> None:
    client = await signed_up(web, "alice@example.com")
    assert (await client.get("/api/keys")).status_code == 200
    assert (await client.get("/account")).status_code == 200
    assert (await client.post("/signout")).status_code == 303
    assert (await client.get("/api/keys")).status_code == 401
    page = await client.get("/account/keys")
    assert page.status_code == 303 and page.headers["Location"].startswith("/signin")

    ok = await client.post(
        "/signin", form={"email": "ALICE@example.com", "password": PASSWORD, "next": "/account/keys"}
    )
    assert ok.status_code == 303 and ok.headers["Location"] == "/account/keys"
    assert (await client.get("/api/keys")).status_code == 200


async def test_signin_never_redirects_off_site(web: Quart) -> None:
    await signed_up(web, "bob@example.com")
    client = web.test_client()
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = await client.post("/signin", form={"email": "bob@example.com", "password": PASSWORD, "next": target})
        assert response.headers["Location"] == "/account"


async def test_unknown_email_and_wrong_password_answer_alike(web: Quart) -> None:
    await signed_up(web, "erin@example.com")
    client = web.test_client()
    a = await client.post("/signin", form={"email": "nobody@example.com", "password": PASSWORD})
    b = await client.post("/signin", form={"email": "erin@example.com", "password": "not the password"})
    assert a.status_code == b.status_code == 401
    assert "Wrong email or password." in await a.get_data(as_text=True)
    assert "Wrong email or password." in await b.get_data(as_text=True)


async def test_cross_site_unsafe_requests_are_refused(web: Quart, sim: SimulatorApp) -> None:
    client = await signed_up(web, "frank@example.com")
    _add_bybit(sim)
    body = {"exchange": "bybit", "api_key": BYBIT_KEY, "api_secret": BYBIT_SECRET}
    cases = [
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "http://localhost.evil.example"}, 403),
    ]
    for headers, status in cases:
        response = await client.post("/api/keys", json=body, headers=headers)
        assert response.status_code == status, headers
        assert (await response.get_json())["error"] == "cross_site_request"
    refused = await client.post("/signout", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert (await client.get("/api/keys")).status_code == 200  # still signed in
    same = await client.post("/api/keys", json=body, headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 201
    # Safe methods are never blocked: links from other sites still work.
    assert (await client.get("/api/keys", headers={"Sec-Fetch-Site": "cross-site"})).status_code == 200


async def test_signup_closed_refuses_new_accounts(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    app = make_app(account_settings(db_dsn, redis_url, redis_prefix, tmp_path, PERPVOL_SIGNUP="closed"), transport)
    async with app.test_app():
        response = await app.test_client().post("/signup", form={"email": "g@example.com", "password": PASSWORD})
        assert response.status_code == 403


async def test_saved_key_is_checked_masked_and_never_returned(web: Quart, sim: SimulatorApp, db: asyncpg.Pool) -> None:
    client = await signed_up(web, "henry@example.com")
    _add_bybit(sim)
    response = await client.post(
        "/api/keys", json={"exchange": "bybit", "label": "main", "api_key": BYBIT_KEY, "api_secret": BYBIT_SECRET}
    )
    assert response.status_code == 201
    text = await response.get_data(as_text=True)
    listed = await (await client.get("/api/keys")).get_data(as_text=True)
    for body in (text, listed):
        assert BYBIT_SECRET not in body and BYBIT_KEY not in body
    key = (await response.get_json())["key"]
    assert key["key"] == "…" + BYBIT_KEY[-4:] and key["status"] == "ok" and key["exchange"] == "bybit"
    raw = await db.fetchrow("SELECT ciphertext, nonce FROM credentials")
    assert BYBIT_SECRET.encode() not in bytes(raw["ciphertext"]) and len(raw["nonce"]) == 12


async def test_trade_and_withdraw_keys_are_refused_with_instructions(web: Quart, sim: SimulatorApp) -> None:
    client = await signed_up(web, "ivy@example.com")
    _add_bybit(sim, "TradeKey0000001", "trade-secret", can_trade=True)
    _add_bybit(sim, "WithdrawKey00001", "withdraw-secret", can_withdraw=True)
    for key, secret in (("TradeKey0000001", "trade-secret"), ("WithdrawKey00001", "withdraw-secret")):
        response = await client.post("/api/keys", json={"exchange": "bybit", "api_key": key, "api_secret": secret})
        assert response.status_code == 400
        body = await response.get_json()
        assert body["error"] == "key_not_read_only"
        assert "Read-Only" in body["detail"] and "PERPVOL_ALLOW_TRADE_KEYS=1" in body["detail"]
    assert (await (await client.get("/api/keys")).get_json())["keys"] == []


async def test_trade_keys_accepted_with_a_warning_when_the_operator_allows(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, sim: SimulatorApp,
    transport: httpx.AsyncBaseTransport,
) -> None:  # fmt: skip
    settings = account_settings(db_dsn, redis_url, redis_prefix, tmp_path, PERPVOL_ALLOW_TRADE_KEYS=True)
    app = make_app(settings, transport)
    _add_bybit(sim, "TradeKey0000001", "trade-secret", can_trade=True)
    async with app.test_app():
        client = await signed_up(app, "jack@example.com")
        response = await client.post(
            "/api/keys", json={"exchange": "bybit", "api_key": "TradeKey0000001", "api_secret": "trade-secret"}
        )
        assert response.status_code == 201
        assert "trade" in (await response.get_json())["warning"]


async def test_wrong_secret_expired_and_unknown_keys_say_so(web: Quart, sim: SimulatorApp) -> None:
    client = await signed_up(web, "kate@example.com")
    _add_bybit(sim)
    _add_bybit(sim, "ExpiredKey000001", "expired-secret", expires_at=SIM_NOW - timedelta(days=1))
    cases = [
        ({"api_key": BYBIT_KEY, "api_secret": "not-the-secret"}, "invalid"),
        ({"api_key": "ExpiredKey000001", "api_secret": "expired-secret"}, "expired"),
        ({"api_key": "UnknownKey000001", "api_secret": "x"}, "invalid"),
    ]
    for fields, status in cases:
        response = await client.post("/api/keys", json={"exchange": "bybit", **fields})
        assert response.status_code == 400
        body = await response.get_json()
        assert body["error"] == "credential_rejected" and body["detail"]["status"] == status


async def test_hyperliquid_takes_an_address_and_refuses_anything_else(web: Quart) -> None:
    client = await signed_up(web, "liam@example.com")
    bad = await client.post("/api/keys", json={"exchange": "hyperliquid", "address": "0x1234"})
    assert bad.status_code == 400 and (await bad.get_json())["error"] == "invalid_credential"
    good = await client.post("/api/keys", json={"exchange": "hyperliquid", "address": "0x" + "ab" * 20})
    assert good.status_code == 201
    assert (await good.get_json())["key"]["key"] == "…abab"


async def test_keys_form_on_the_page_saves_and_shows_errors(web: Quart, sim: SimulatorApp) -> None:
    client = await signed_up(web, "mia@example.com")
    _add_bybit(sim)
    bad = await client.post("/account/keys", form={"exchange": "bybit", "api_key": BYBIT_KEY, "api_secret": "nope"})
    assert bad.status_code == 422
    good = await client.post(
        "/account/keys",
        form={"exchange": "bybit", "api_key": BYBIT_KEY, "api_secret": BYBIT_SECRET},
        headers={"HX-Request": "true"},
    )
    html = await good.get_data(as_text=True)
    assert good.status_code == 200 and 'id="account-keys"' in html and BYBIT_SECRET not in html
    page = await (await client.get("/account/keys")).get_data(as_text=True)
    assert "…" + BYBIT_KEY[-4:] in page and BYBIT_KEY not in page


async def test_woox_and_paradex_keys_are_checked_with_the_venue(web: Quart, sim: SimulatorApp) -> None:
    client = await signed_up(web, "nina@example.com")
    registry = accounts_of(sim.model)
    registry.add("woox", "WooReadKey0001==", "WOOREADSECRET")
    registry.add("woox", "WooTradeKey001==", "WOOTRADESECRET", can_trade=True)
    readonly = token_for("0x1", SIM_NOW + timedelta(days=30))
    trading = token_for("0x2", SIM_NOW + timedelta(days=30), token_type="full")
    expired = token_for("0x3", SIM_NOW - timedelta(days=1))
    for token in (readonly, trading, expired):
        registry.add("paradex", token)

    async def post(**body: str) -> tuple[int, dict[str, object]]:
        response = await client.post("/api/keys", json=body)
        return response.status_code, await response.get_json()

    status, body = await post(exchange="woox", api_key="WooReadKey0001==", api_secret="WOOREADSECRET")
    assert status == 201 and body["key"]["permissions"] == ["READ"]  # type: ignore[index]
    status, body = await post(exchange="woox", api_key="WooTradeKey001==", api_secret="WOOTRADESECRET")
    assert status == 400 and body["error"] == "key_not_read_only"
    status, body = await post(exchange="woox", api_key="WooReadKey0001==", api_secret="wrong")
    assert status == 400 and body["error"] == "credential_rejected"
    status, body = await post(exchange="paradex", token=readonly)
    assert status == 201 and body["key"]["expires_at"] is not None  # type: ignore[index]
    status, body = await post(exchange="paradex", token=trading)
    assert status == 400 and body["error"] == "key_not_read_only"
    status, body = await post(exchange="paradex", token=expired)
    assert status == 400 and body["detail"]["status"] == "expired"  # type: ignore[index]
    status, body = await post(exchange="paradex", token="not-a-jwt")
    assert status == 400 and body["error"] == "invalid_credential"


async def test_without_app_secret_key_keys_cannot_be_saved(
    db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, transport: httpx.AsyncBaseTransport
) -> None:
    settings = account_settings(db_dsn, redis_url, redis_prefix, tmp_path, APP_SECRET_KEY=None)
    app = make_app(settings, transport)
    async with app.test_app():
        client = await signed_up(app, "olga@example.com")
        response = await client.post("/api/keys", json={"exchange": "hyperliquid", "address": "0x" + "ab" * 20})
        assert response.status_code == 503 and "APP_SECRET_KEY" in (await response.get_json())["detail"]


async def test_saving_a_key_enqueues_its_first_sync_on_the_workers_queue(
    web: Quart, sim: SimulatorApp, acc_settings: Settings, redis: aioredis.Redis
) -> None:
    client = await signed_up(web, "olga@example.com")
    _add_bybit(sim)
    response = await client.post(
        "/api/keys", json={"exchange": "bybit", "api_key": BYBIT_KEY, "api_secret": BYBIT_SECRET}
    )
    assert response.status_code == 201
    credential_id = (await response.get_json())["key"]["id"]
    # The queue the worker reads (workers/worker.py uses the same Settings property).
    assert worker_settings(acc_settings)["queue_name"] == acc_settings.arq_queue_name
    assert acc_settings.arq_queue_name.startswith(acc_settings.key_prefix)
    jobs = ArqRedis(connection_pool=redis.connection_pool, job_deserializer=deserialize_job)
    queued = await jobs.queued_jobs(queue_name=acc_settings.arq_queue_name)
    assert [(job.function, tuple(job.args)) for job in queued] == [("sync_one_credential", (credential_id,))]
    # A refused key enqueues nothing.
    refused = await client.post("/api/keys", json={"exchange": "bybit", "api_key": BYBIT_KEY, "api_secret": "wrong"})
    assert refused.status_code == 400
    assert await redis.zcard(acc_settings.arq_queue_name) == 1


async def test_a_queued_first_sync_is_run_by_an_arq_worker_on_that_queue(
    web: Quart, sim: SimulatorApp, acc_settings: Settings, db: asyncpg.Pool, sync_deps: SyncDeps,
    redis: aioredis.Redis,
) -> None:  # fmt: skip
    client = await signed_up(web, "pavel@example.com")
    account = accounts_of(sim.model).add(
        "bybit",
        BYBIT_KEY,
        BYBIT_SECRET,
        fills=generate_fills(7, "bybit", BYBIT_KEY, SIM_NOW - timedelta(days=20), SIM_NOW, 30),
    )
    response = await client.post(
        "/api/keys", json={"exchange": "bybit", "api_key": BYBIT_KEY, "api_secret": BYBIT_SECRET}
    )
    credential_id = (await response.get_json())["key"]["id"]
    user_id = await db.fetchval("SELECT user_id FROM credentials WHERE id = $1", UUID(credential_id))
    # The deployed worker's queue, job name and arguments; only the venue transport is the in-process simulator.
    deployed = worker_settings(acc_settings)
    registered = {f.name: f for f in deployed["functions"]}
    assert registered["sync_one_credential"].coroutine is sync_one_credential

    async def first_sync(ctx: dict[str, Any], cid: str) -> int:
        return (await sync_credential(sync_deps, UUID(cid))).new_fills

    worker = Worker(
        functions=[func(first_sync, name="sync_one_credential")],
        queue_name=deployed["queue_name"],
        redis_settings=deployed["redis_settings"],
        job_serializer=deployed["job_serializer"],
        job_deserializer=deployed["job_deserializer"],
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert await fills.select_own_total(db, user_id) == account.expected_usd() > 0
