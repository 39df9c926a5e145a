"""Syncing users' fills from the simulated venues: exact totals, windows, pages, resumes, no doubles."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest
from structlog.testing import capture_logs

from exchanges.private.bybit import BybitPrivate
from exchanges.sim.accounts import (
    DEMO,
    SimAccount,
    accounts_of,
    fill_at,
    generate_fills,
    pre_upgrade_fills,
    token_for,
)
from exchanges.sim.app import SimulatorApp
from storage.queries import credentials, fills
from tests.accounts.conftest import days_ago
from tests.accounts.support import FailingTransport, new_user, store_credential
from tests.exchanges_support import SIM_NOW
from workers.account_sync import SyncDeps, sync_all, sync_credential

KEY, SECRET = "SyncBybitKey0001", "sync-bybit-secret-must-never-appear"
ADDRESS = "0x" + "c0ffee" * 6 + "c0ff"


def _bybit_account(sim: SimulatorApp, days: int = 40, per_day: float = 60) -> SimAccount:
    generated = generate_fills(1, "bybit", KEY, days_ago(days), SIM_NOW, per_day)
    # Fills on both sides of 7-day window edges (windows start at now - 730 days).
    first = SIM_NOW - BybitPrivate.lookback
    edges = [first + BybitPrivate.window * k for k in (100, 101, 102, 103, 104)]
    edges = [edge for edge in edges if edge < SIM_NOW]
    exact = [fill_at("ETH", edge, "3000.50", "1.250", f"edge-{i}") for i, edge in enumerate(edges)]
    before = [
        fill_at("SOL", edge - timedelta(milliseconds=1), "150.25", "3.000", f"pre-{i}") for i, edge in enumerate(edges)
    ]
    inverse = [fill_at("BTC", edge, "60000", "1234", f"inv-{i}", "inverse") for i, edge in enumerate(edges)]
    return accounts_of(sim.model).add("bybit", KEY, SECRET, fills=generated + exact + before + inverse)


async def test_bybit_sync_matches_the_simulated_fills_to_the_cent(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    account = _bybit_account(sim)
    user = await new_user(db, "sync@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)

    result = await sync_credential(sync_deps, cid)

    assert result.error is None
    expected = account.expected_usd()
    assert expected > 0 and await fills.select_own_total(db, user, "bybit") == expected
    trades = [f for f in account.fills if f.counts]
    assert await fills.count_own_fills(db, user) == len(trades)
    # Funding rows and dated futures were served and skipped.
    assert len(account.fills) > len(trades)
    # 4 streams (linear, inverse, and both again from the pre-upgrade endpoint) × 105 weekly windows,
    # several pages in the busy weeks.
    assert result.windows == 4 * 105
    assert sim.requests["bybit"] > result.windows


async def test_bybit_pre_upgrade_trades_are_synced_too_to_the_cent(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    # Upgraded to a Unified Trading Account 200 days ago: older trades only on /v5/pre-upgrade/execution/list.
    upgraded = days_ago(200)
    before = pre_upgrade_fills(1, KEY, upgraded - timedelta(days=150), upgraded, 40)
    # A busy pre-upgrade week (several 100-row pages) and fills on both sides of a 7-day window edge.
    edge = SIM_NOW - BybitPrivate.lookback + BybitPrivate.window * 60
    busy = pre_upgrade_fills(2, KEY, edge - timedelta(days=3), edge + timedelta(days=3), 120)
    exact = [
        fill_at("ETH", edge, "3000.50", "1.250", "pre-edge"),
        fill_at("BTC", edge - timedelta(milliseconds=1), "60000", "777", "pre-inv", "inverse"),
    ]
    exact = [dataclasses.replace(f, pre_upgrade=True) for f in exact]
    after = generate_fills(1, "bybit", KEY, days_ago(30), SIM_NOW, 30)
    account = accounts_of(sim.model).add("bybit", KEY, SECRET, fills=before + busy + exact + after)
    pre_upgrade = [f for f in account.fills if f.pre_upgrade and f.counts]
    assert {f.category for f in pre_upgrade} == {"linear", "inverse"} and len(pre_upgrade) > 1000
    user = await new_user(db, "preupgrade@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)

    result = await sync_credential(sync_deps, cid)

    assert result.error is None
    assert await fills.select_own_total(db, user) == account.expected_usd()
    assert await fills.select_own_total(db, user, "bybit", since=upgraded) == account.expected_usd(start=upgraded)
    pre_total = sum((f.notional for f in pre_upgrade), Decimal(0))
    assert pre_total > 0 and account.expected_usd(end=upgraded) == pre_total
    assert await fills.count_own_fills(db, user) == sum(1 for f in account.fills if f.counts)
    for stream in ("pre-upgrade:linear", "pre-upgrade:inverse"):
        assert await fills.select_cursor(db, cid, stream) == SIM_NOW
    again = await sync_credential(sync_deps, cid)
    assert again.new_fills == 0 and await fills.select_own_total(db, user) == account.expected_usd()


async def test_the_simulators_demo_bybit_account_has_pre_upgrade_trades(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    key, secret = DEMO["bybit"]
    account = accounts_of(sim.model).get("bybit", key)
    assert account is not None and any(f.pre_upgrade for f in account.fills)
    user = await new_user(db, "demo@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", key, secret)
    assert (await sync_credential(sync_deps, cid)).error is None
    assert await fills.select_own_total(db, user) == account.expected_usd()
    old = sum((f.notional for f in account.fills if f.pre_upgrade and f.counts), Decimal(0))
    assert old > 0 and await fills.select_own_total(db, user, since=days_ago(200)) == account.expected_usd() - old


async def test_a_second_sync_stores_nothing_twice(db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp) -> None:
    account = _bybit_account(sim)
    user = await new_user(db, "twice@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)
    await sync_credential(sync_deps, cid)
    again = await sync_credential(sync_deps, cid)
    assert again.new_fills == 0 and again.windows == 4  # only the overlap window of each stream
    assert await fills.select_own_total(db, user) == account.expected_usd()


async def test_new_fills_after_a_sync_arrive_incrementally(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    account = _bybit_account(sim)
    user = await new_user(db, "incr@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)
    await sync_credential(sync_deps, cid)
    later = SIM_NOW + timedelta(hours=5)
    account.fills.append(fill_at("ETH", SIM_NOW + timedelta(hours=1), "3100.00", "2.000", "later-1"))
    # A fill the venue publishes late, stamped just before the last sync's end.
    account.fills.append(fill_at("ETH", SIM_NOW - timedelta(minutes=3), "3000.00", "1.000", "late-1"))
    sim.model._now = lambda: later  # type: ignore[method-assign]
    deps = dataclasses.replace(sync_deps, now=lambda: later)
    result = await sync_credential(deps, cid)
    assert result.new_fills == 2
    assert await fills.select_own_total(db, user) == account.expected_usd()


@pytest.mark.parametrize("hang", [False, True], ids=["network-fails", "task-cancelled"])
async def test_a_sync_killed_midway_resumes_without_gaps_or_doubles(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp, hang: bool
) -> None:
    account = _bybit_account(sim)
    user = await new_user(db, "resume@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)
    assert sync_deps.transport is not None
    flaky = FailingTransport(sync_deps.transport, allowed=170, hang=hang)
    broken = dataclasses.replace(sync_deps, transport=flaky)
    if hang:
        task = asyncio.create_task(sync_credential(broken, cid))
        await asyncio.wait_for(flaky.tripped.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        stopped = await sync_credential(broken, cid)
        assert stopped.error is not None and "gave up" in stopped.error
    partial = await fills.select_own_total(db, user)
    assert 0 < partial < account.expected_usd()
    assert await fills.select_cursor(db, cid, "linear") is not None

    await sync_credential(sync_deps, cid)
    assert await fills.select_own_total(db, user) == account.expected_usd()
    assert await fills.count_own_fills(db, user) == sum(1 for f in account.fills if f.counts)


async def test_hyperliquid_sync_pages_past_2000_fills_per_answer(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    generated = generate_fills(3, "hyperliquid", ADDRESS, days_ago(20), SIM_NOW, 260)
    account = accounts_of(sim.model).add("hyperliquid", ADDRESS, fills=generated)
    assert len(generated) > 5000
    user = await new_user(db, "hl@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "hyperliquid", ADDRESS)
    result = await sync_credential(sync_deps, cid)
    assert result.error is None
    assert await fills.select_own_total(db, user, "hyperliquid") == account.expected_usd()
    assert await fills.count_own_fills(db, user) == sum(1 for f in account.fills if f.counts)


async def test_the_same_fill_under_two_keys_counts_once(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    account = _bybit_account(sim, days=10)
    accounts_of(sim.model).add("bybit", "SecondKeySameAcct", "second-secret", fills=account.fills)
    user = await new_user(db, "two@example.com")
    await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)
    await store_credential(db, sync_deps.cipher, user, "bybit", "SecondKeySameAcct", "second-secret")
    await sync_all(sync_deps)
    assert await fills.select_own_total(db, user) == account.expected_usd()


async def test_an_expired_key_is_marked_expired_not_retried_silently(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    account = _bybit_account(sim, days=5)
    user = await new_user(db, "exp@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)
    account.expires_at = SIM_NOW - timedelta(hours=1)
    result = await sync_credential(sync_deps, cid)
    row = await credentials.select_credential(db, user, cid)
    assert result.error is not None and row is not None
    assert row.status == "expired" and row.last_sync_error is not None
    assert cid not in await credentials.select_syncable_ids(db)


async def test_secrets_never_reach_the_logs_of_a_full_sync(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp, caplog: pytest.LogCaptureFixture
) -> None:
    _bybit_account(sim, days=10)
    user = await new_user(db, "logs@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, SECRET)
    wrong = await store_credential(db, sync_deps.cipher, user, "bybit", KEY, "a-wrong-secret-also-secret")
    assert sync_deps.transport is not None
    flaky = dataclasses.replace(sync_deps, transport=FailingTransport(sync_deps.transport, allowed=40))
    caplog.set_level(logging.DEBUG)
    with capture_logs() as structured:
        await sync_credential(flaky, cid)  # fails midway: error paths log too
        await sync_credential(sync_deps, cid)
        await sync_credential(sync_deps, wrong)
    texts = [r.getMessage() for r in caplog.records] + [str(r.exc_info) for r in caplog.records]
    texts += [repr(entry) for entry in structured]
    rows = await db.fetch("SELECT last_sync_error, status_detail FROM credentials")
    texts += [str(dict(r)) for r in rows]
    assert any("stopped" in t for t in texts)  # something was logged
    for secret in (SECRET, "a-wrong-secret-also-secret"):
        assert not any(secret in t for t in texts)
    assert Decimal(0) < await fills.select_own_total(db, user)


async def test_woox_sync_pages_and_matches_to_the_cent(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    key, secret = "WooSyncKey0001==", "WOOSYNCSECRET0001"
    generated = generate_fills(5, "woox", key, days_ago(50), SIM_NOW, 40)
    account = accounts_of(sim.model).add("woox", key, secret, fills=generated)
    user = await new_user(db, "woo@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "woox", key, secret)
    result = await sync_credential(sync_deps, cid)
    assert result.error is None
    assert await fills.select_own_total(db, user, "woox") == account.expected_usd()
    assert await fills.count_own_fills(db, user) == sum(1 for f in account.fills if f.counts)


async def test_paradex_sync_with_a_read_only_token(db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp) -> None:
    token = token_for("0xabc", SIM_NOW + timedelta(days=90))
    generated = generate_fills(6, "paradex", token, days_ago(40), SIM_NOW, 60)
    account = accounts_of(sim.model).add("paradex", token, fills=generated)
    user = await new_user(db, "pdx@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "paradex", token)
    result = await sync_credential(sync_deps, cid)
    assert result.error is None
    assert await fills.select_own_total(db, user, "paradex") == account.expected_usd()


async def test_an_expired_paradex_token_is_marked_expired(
    db: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    token = token_for("0xdef", SIM_NOW - timedelta(hours=2))
    accounts_of(sim.model).add("paradex", token)
    user = await new_user(db, "pdx2@example.com")
    cid = await store_credential(db, sync_deps.cipher, user, "paradex", token)
    await sync_credential(sync_deps, cid)
    row = await credentials.select_credential(db, user, cid)
    assert row is not None and row.status == "expired"
    assert row.status_detail is not None and "expired by" in row.status_detail
