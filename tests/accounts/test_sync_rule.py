"""The counting rule and paging, end to end: the simulator's private endpoints serve every type the rule
names (liquidations, block trades, ADL, spread legs, settlements, transfers, builder-DEX and spot fills)
in small pages, and a sync stores exactly what the rule counts, to the cent."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from quart import Quart

from exchanges.private import bybit, hyperliquid, paradex
from exchanges.private.base import ApiCredential
from exchanges.private.bybit import NEVER_EXPIRES
from exchanges.private.registry import make_private_client
from exchanges.sim.accounts import DEMO, VENUE_KINDS, SimAccount, accounts_of, generate_fills, token_for
from exchanges.sim.app import SimulatorApp
from storage.queries import fills
from tests.accounts.conftest import days_ago, signed_up
from tests.accounts.support import new_user, store_credential
from tests.exchanges_support import SIM_NOW
from workers.account_sync import SyncDeps, sync_credential

CREDENTIALS = {
    "bybit": ("RuleBybitKey0001", "rule-bybit-secret"),
    "woox": ("RuleWooxKey0001==", "RULEWOOXSECRET"),
    "hyperliquid": ("0x" + "7a" * 20, ""),
    "paradex": (token_for("0x7a", SIM_NOW + 30 * (SIM_NOW - days_ago(1))), ""),
}


async def _sync_and_compare(db: asyncpg.Pool, deps: SyncDeps, account: SimAccount, email: str) -> None:
    user = await new_user(db, email)
    cid = await store_credential(db, deps.cipher, user, account.venue, account.key, account.secret)
    result = await sync_credential(deps, cid)
    assert result.error is None
    assert account.expected_usd() > 0
    assert await fills.select_own_total(db, user, account.venue) == account.expected_usd()
    assert await fills.count_own_fills(db, user) == sum(1 for f in account.fills if f.counts)


@pytest.mark.parametrize(
    ("venue", "newest_first"),
    [("bybit", False), ("woox", False), ("paradex", False), ("hyperliquid", False), ("hyperliquid", True)],
    ids=["bybit", "woox", "paradex", "hyperliquid-oldest-first", "hyperliquid-newest-first"],
)
async def test_a_sync_stores_exactly_what_the_rule_counts_on_every_venue(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp, venue: str, newest_first: bool
) -> None:
    key, secret = CREDENTIALS[venue]
    made = generate_fills(11, venue, key, days_ago(40), SIM_NOW, 180)
    account = accounts_of(sim.model).add(venue, key, secret, fills=made)
    account.newest_first = newest_first
    kinds = Counter(f.kind for f in made)
    # Every kind the venue has is served, counted or not, next to plain trades.
    assert set(kinds) == {"Trade"} | {kind for kind, _ in VENUE_KINDS[venue]}
    await _sync_and_compare(db, sync_deps, account, f"rule-{venue}-{int(newest_first)}@example.com")


@pytest.mark.parametrize("venue", sorted(DEMO))
async def test_the_simulators_demo_accounts_sync_to_their_expected_totals(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp, venue: str
) -> None:
    key = DEMO[venue][0] or accounts_of(sim.model).demo_paradex_token
    account = accounts_of(sim.model).get(venue, key)
    assert account is not None and any(not f.counts for f in account.fills)
    await _sync_and_compare(db, sync_deps, account, f"demo-{venue}@example.com")


async def test_the_demo_woox_key_is_found_on_the_second_page_of_keys(sync_deps: SyncDeps) -> None:
    key, secret = DEMO["woox"]
    deps = sync_deps
    credential = ApiCredential(key, secret)
    client = make_private_client("woox", deps.settings, credential, transport=deps.transport, clock=deps.now)
    try:
        check = await client.check_key()
    finally:
        await client.aclose()
    assert check.permissions == ("READ",) and check.read_only


async def test_a_bybit_key_bound_to_ips_is_saved_as_not_expiring_and_says_so(web: Quart, sim: SimulatorApp) -> None:
    accounts_of(sim.model).add("bybit", "IpBoundBybitKey01", "ip-bound-secret")
    client = await signed_up(web, "ipbound@example.com")
    response = await client.post(
        "/api/keys", json={"exchange": "bybit", "api_key": "IpBoundBybitKey01", "api_secret": "ip-bound-secret"}
    )
    key = (await response.get_json())["key"]
    assert response.status_code == 201 and key["expires_at"] is None and key["status_detail"] == NEVER_EXPIRES
    page = await (await client.get("/account/keys")).get_data(as_text=True)
    assert "does not expire" in page and "1970" not in page


async def test_a_woox_user_with_many_keys_can_add_the_one_on_a_later_page(web: Quart, sim: SimulatorApp) -> None:
    account = accounts_of(sim.model).add("woox", "ManyKeysWoox01==", "MANYKEYSSECRET")
    account.other_keys = 60  # the key is on page 3 of 25
    client = await signed_up(web, "manykeys@example.com")
    response = await client.post(
        "/api/keys", json={"exchange": "woox", "api_key": "ManyKeysWoox01==", "api_secret": "MANYKEYSSECRET"}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)


def test_generated_kinds_follow_the_venue_shares() -> None:
    made = generate_fills(3, "bybit", "k", days_ago(30), SIM_NOW, 400)
    shares = Counter(f.kind for f in made)
    for kind, share in VENUE_KINDS["bybit"]:
        assert abs(shares[kind] / len(made) - share) < 0.01
    assert dataclasses.replace(made[0], kind="Liquidation").counts
    assert not dataclasses.replace(made[0], kind="Settlement").counts


async def test_both_account_pages_explain_what_counts(web: Quart) -> None:
    client = await signed_up(web, "rule@example.com")
    for path in ("/account", "/account/keys"):
        page = await (await client.get(path)).get_data(as_text=True)
        assert 'id="counting-rule"' in page, path
        for phrase in ("liquidations", "block trades", "spread trades", "funding", "settlements", "moved"):
            assert phrase in page, (path, phrase)


def test_the_readme_names_every_type_the_clients_count_or_skip() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rule = readme.split("what counts", 1)[1].split("## HTTP surfaces", 1)[0]
    named = set(bybit.COUNTED) | {"Funding", "Settle", "Delivery", "MovePosition", "CorporateAction"}
    named |= set(paradex.COUNTED) | (set(paradex.NOT_COUNTED) - {"TRANSFER"}) | set(hyperliquid.NOT_COUNTED_DIRS)
    assert sorted(n for n in named if f"`{n}`" not in rule) == []


def test_the_readme_lists_the_simulators_demo_accounts() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for venue in ("bybit", "woox", "hyperliquid"):
        assert all(f"`{value}`" in readme for value in DEMO[venue] if value), venue
