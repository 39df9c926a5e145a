"""What a saved key proves: a Paradex token without an explicit read-only claim is treated as able to
trade (fail closed), and a Hyperliquid address, which anyone can paste, is labelled "watched address,
not proven yours" wherever it is shown or published."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
from quart import Quart

from core.records import Fill
from exchanges.sim.accounts import accounts_of, token_for
from exchanges.sim.app import SimulatorApp
from storage.queries import fills
from tests.accounts.conftest import signed_up
from tests.exchanges_support import SIM_NOW
from webapp.accounts import WATCHED

ADDRESS = "0x" + "cd" * 20


async def test_paradex_token_without_a_read_only_claim_is_refused_as_able_to_trade(
    web: Quart, sim: SimulatorApp
) -> None:
    client = await signed_up(web, "claims@example.com")
    unclaimed = token_for("0x9", SIM_NOW + timedelta(days=30), token_type=None)
    accounts_of(sim.model).add("paradex", unclaimed)
    response = await client.post("/api/keys", json={"exchange": "paradex", "token": unclaimed})
    body = await response.get_json()
    assert response.status_code == 400 and body["error"] == "key_not_read_only"
    assert (await (await client.get("/api/keys")).get_json())["keys"] == []


async def test_a_hyperliquid_address_is_labelled_watched_wherever_shown(
    web: Quart, db: asyncpg.Pool
) -> None:
    client = await signed_up(web, "watcher@example.com")
    created = await client.post("/api/keys", json={"exchange": "hyperliquid", "address": ADDRESS})
    assert created.status_code == 201
    key = (await created.get_json())["key"]
    assert key["ownership"] == WATCHED
    assert (await (await client.get("/api/keys")).get_json())["keys"][0]["ownership"] == WATCHED
    assert WATCHED in await (await client.get("/account/keys")).get_data(as_text=True)

    user_id = await db.fetchval("SELECT id FROM users WHERE email = 'watcher@example.com'")
    fill = Fill("hl-1", "BTC", SIM_NOW - timedelta(hours=1), Decimal("1234.5"))
    await fills.insert_fills(db, user_id, "hyperliquid", None, [fill])
    current = await (await client.get("/api/me/volume/current")).get_json()
    row = next(r for r in current["exchanges"] if r["exchange"] == "hyperliquid")
    assert row["ownership"] == WATCHED
    assert WATCHED in await (await client.get("/account")).get_data(as_text=True)

    token = (await (await client.post("/api/me/embed", json={"fields": ["volume_30d"]})).get_json())["token"]
    published = await (await web.test_client().get(f"/public/account/{token}")).get_json()
    assert published["volume_30d_usd"] == "1234.50"
    assert WATCHED in published["unproven"]
