"""One user can never read, change or delete another's credentials or volume, through any route."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
from quart import Quart

from exchanges.private.base import Fill
from storage.credential_keys import load_keyring
from storage.queries import credentials, fills, users
from tests.accounts.conftest import SECRET, signed_up
from tests.accounts.support import store_credential
from tests.exchanges_support import SIM_NOW

# Every route the accounts feature adds, and how this test exercises it.
ACCOUNT_ROUTES = {
    ("GET", "/signup"), ("POST", "/signup"), ("GET", "/signin"), ("POST", "/signin"), ("POST", "/signin/totp"),
    ("POST", "/signout"),
    ("GET", "/account"), ("GET", "/account/keys"), ("POST", "/account/keys"),
    ("POST", "/account/keys/<uuid:credential_id>/delete"), ("GET", "/public/account/<token>"),
    ("POST", "/account/embed"),
    ("GET", "/api/keys"), ("POST", "/api/keys"), ("DELETE", "/api/keys/<uuid:credential_id>"),
    ("GET", "/api/me/volume/current"), ("GET", "/api/me/volume/historical"),
    ("POST", "/api/me/embed"), ("DELETE", "/api/me/embed"),
}  # fmt: skip


async def _alice_with_data(web: Quart, db: asyncpg.Pool) -> tuple[int, str]:
    await signed_up(web, "alice@example.com")
    login = await users.select_user_login(db, "alice@example.com")
    assert login is not None
    cipher = await load_keyring(db, SECRET)
    cid = await store_credential(db, cipher, login.user.id, "bybit", "AliceSecretKeyHINT", "alice-secret")
    batch = [Fill(f"a-{n}", "BTCUSDT", SIM_NOW - timedelta(hours=n * 5), Decimal("1000.25")) for n in range(1, 20)]
    await fills.insert_fills(db, login.user.id, "bybit", cid, batch)
    return login.user.id, str(cid)


def test_every_account_route_is_covered_here(web: Quart) -> None:
    names = ("auth.", "account.", "account_api.")
    found = {
        (method, rule.rule)
        for rule in web.url_map.iter_rules()
        if rule.endpoint.startswith(names)
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert found == ACCOUNT_ROUTES


async def test_another_user_sees_and_touches_nothing_of_alice(web: Quart, db: asyncpg.Pool) -> None:
    alice_id, alice_key = await _alice_with_data(web, db)
    bob = await signed_up(web, "bob@example.com")

    assert (await (await bob.get("/api/keys")).get_json())["keys"] == []
    assert (await bob.delete(f"/api/keys/{alice_key}")).status_code == 404
    assert (await bob.delete(f"/api/keys/{alice_key}?delete_fills=true")).status_code == 404
    assert (await bob.post(f"/account/keys/{alice_key}/delete", form={"delete_fills": "on"})).status_code == 404
    current = await (await bob.get("/api/me/volume/current")).get_json()
    assert current["total"] == {"volume_24h_usd": "0.00", "volume_30d_usd": "0.00"} and current["exchanges"] == []
    history = await (await bob.get("/api/me/volume/historical?interval=week")).get_json()
    assert history["rows"] == []
    csv_text = await (await bob.get("/api/me/volume/historical?format=csv")).get_data(as_text=True)
    assert csv_text.strip().count("\n") == 0
    for page in ("/account", "/account/keys"):
        html = await (await bob.get(page)).get_data(as_text=True)
        assert "HINT" not in html and "1000.25" not in html
    # Bob's embed token shows Bob's (empty) aggregate, never Alice's.
    token = (await (await bob.post("/api/me/embed", json={"fields": ["volume_30d"]})).get_json())["token"]
    public = await (await web.test_client().get(f"/public/account/{token}")).get_json()
    assert public["volume_30d_usd"] == "0.00"

    # Alice still has everything.
    assert len(await credentials.select_credentials(db, alice_id)) == 1
    assert await fills.select_own_total(db, alice_id) == Decimal("1000.25") * 19
    alice = web.test_client()
    await alice.post("/signin", form={"email": "alice@example.com", "password": "correct horse battery"})
    mine = await (await alice.get("/api/me/volume/current")).get_json()
    assert mine["total"]["volume_24h_usd"] == "4001.00"  # fills at 5, 10, 15, 20 hours ago
    assert mine["total"]["volume_30d_usd"] == "19004.75"
    assert [k["id"] for k in (await (await alice.get("/api/keys")).get_json())["keys"]] == [alice_key]


async def test_owner_deletes_a_key_and_optionally_its_fills(web: Quart, db: asyncpg.Pool) -> None:
    alice_id, alice_key = await _alice_with_data(web, db)
    alice = web.test_client()
    await alice.post("/signin", form={"email": "alice@example.com", "password": "correct horse battery"})
    assert (await alice.delete(f"/api/keys/{alice_key}")).status_code == 200
    assert await credentials.select_credentials(db, alice_id) == []
    assert await fills.select_own_total(db, alice_id) > 0  # kept: not asked to delete them

    cipher = await load_keyring(db, SECRET)
    second = await store_credential(db, cipher, alice_id, "bybit", "AnotherKey0001", "s")
    await fills.insert_fills(db, alice_id, "bybit", second, [Fill("b-1", "ETHUSDT", SIM_NOW, Decimal(5))])
    assert (await alice.delete(f"/api/keys/{second}?delete_fills=true")).status_code == 200
    assert await fills.count_own_fills(db, alice_id) == 19  # only the deleted key's fill went


async def test_embed_token_is_opt_in_revocable_and_shows_only_chosen_figures(web: Quart, db: asyncpg.Pool) -> None:
    await _alice_with_data(web, db)
    alice = web.test_client()
    await alice.post("/signin", form={"email": "alice@example.com", "password": "correct horse battery"})
    token = (await (await alice.post("/api/me/embed", json={"fields": ["volume_24h"]})).get_json())["token"]
    public = await web.test_client().get(f"/public/account/{token}")
    body = await public.get_json()
    assert public.headers["Access-Control-Allow-Origin"] == "*"
    assert body["volume_24h_usd"] == "4001.00" and "volume_30d_usd" not in body
    assert (await alice.delete("/api/me/embed")).status_code == 200
    assert (await web.test_client().get(f"/public/account/{token}")).status_code == 404
    # The page's form does the same.
    assert (await alice.post("/account/embed", form={"volume_30d": "on"})).status_code == 303
    page = await (await alice.get("/account")).get_data(as_text=True)
    token = page.split('data-account="')[1].split('"')[0]
    assert (await (await web.test_client().get(f"/public/account/{token}")).get_json())["volume_30d_usd"] == "19004.75"
    await alice.post("/account/embed", form={"action": "revoke"})
    assert (await web.test_client().get(f"/public/account/{token}")).status_code == 404


async def test_history_is_per_utc_day_week_and_month(web: Quart, db: asyncpg.Pool) -> None:
    await _alice_with_data(web, db)
    alice = web.test_client()
    await alice.post("/signin", form={"email": "alice@example.com", "password": "correct horse battery"})
    for interval in ("day", "week", "month"):
        doc = await (await alice.get(f"/api/me/volume/historical?interval={interval}")).get_json()
        assert sum(Decimal(r["volume_usd"]) for r in doc["rows"]) == Decimal("19004.75")
        assert sum(r["fills"] for r in doc["rows"]) == 19
    bad = await alice.get("/api/me/volume/historical?interval=year")
    assert bad.status_code == 400
