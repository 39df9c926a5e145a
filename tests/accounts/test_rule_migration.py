"""Migration 0008 brings fills stored under the old rule in line with the counting rule."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from core.records import Fill
from core.security import Keyring
from exchanges.private.bybit import NEVER_EXPIRES
from exchanges.sim.accounts import accounts_of, fill_at
from exchanges.sim.app import SimulatorApp
from storage.credential_keys import load_keyring
from storage.db import database_name, drop_database, ensure_database, with_database
from storage.migrate import DEFAULT_MIGRATIONS_DIR, load_migrations, migrate
from storage.queries import credentials, fills
from tests.accounts.conftest import SECRET, days_ago
from tests.accounts.support import new_user, store_credential
from tests.exchanges_support import SIM_NOW
from workers.account_sync import SyncDeps, sync_credential


@pytest.fixture
async def old_pool(db_dsn: str, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A database migrated up to (not including) 0008, as deployments were before issue 13."""
    dsn = with_database(db_dsn, database_name(db_dsn) + "_pre8")
    assert await ensure_database(dsn)
    before = tmp_path / "migrations"
    shutil.copytree(DEFAULT_MIGRATIONS_DIR, before)
    for path in before.glob("*.sql"):
        if int(path.name[:4]) >= 8:
            path.unlink()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    assert pool is not None
    await migrate(pool, before)
    try:
        yield pool
    finally:
        await pool.close()
        await drop_database(dsn)


async def test_builder_dex_fills_go_and_every_stream_syncs_its_lookback_again(
    old_pool: asyncpg.Pool, sync_deps: SyncDeps, sim: SimulatorApp
) -> None:
    cipher: Keyring = await load_keyring(old_pool, SECRET)
    user = await new_user(old_pool, "pre8@example.com")
    hl = await store_credential(old_pool, cipher, user, "hyperliquid", "0x" + "8e" * 20)
    key, secret = "Pre8BybitKey0001", "pre8-secret"
    bybit = await store_credential(old_pool, cipher, user, "bybit", key, secret)
    at = days_ago(3)
    stored = [Fill("1:1", "BTC", at, Decimal(100)), Fill("2:2", "flx:CRCL", at, Decimal(50))]
    await fills.insert_fills(old_pool, user, "hyperliquid", hl, stored)
    # Synced to now under the old rule, which never stored Bybit liquidations.
    for stream in ("linear", "inverse", "pre-upgrade:linear", "pre-upgrade:inverse"):
        await fills.upsert_cursor(old_pool, bybit, stream, SIM_NOW)
    liquidation = fill_at("ETH", days_ago(20), "3000", "2", "liq-before-8", kind="Liquidation")
    account = accounts_of(sim.model).add("bybit", key, secret, fills=[liquidation])

    # 0008 and every later migration (0010, … land after it) apply now, 0008 first.
    assert await migrate(old_pool) == [m.version for m in load_migrations() if m.version >= 8]

    assert await fills.select_own_total(old_pool, user, "hyperliquid") == Decimal(100)
    assert await fills.select_cursor(old_pool, bybit, "linear") is None
    deps = dataclasses.replace(sync_deps, pool=old_pool, cipher=cipher)
    assert (await sync_credential(deps, bybit)).error is None
    assert await fills.select_own_total(old_pool, user, "bybit") == account.expected_usd() == Decimal(6000)
    assert await fills.select_cursor(old_pool, bybit, "linear") == SIM_NOW


async def test_ip_bound_bybit_keys_saved_with_the_epoch_expiry_no_longer_expire(old_pool: asyncpg.Pool) -> None:
    cipher = await load_keyring(old_pool, SECRET)
    user = await new_user(old_pool, "epoch@example.com")
    ip_bound = await store_credential(old_pool, cipher, user, "bybit", "EpochKey0001", "s")
    dated = await store_credential(old_pool, cipher, user, "bybit", "DatedKey0001", "s")
    await old_pool.execute("UPDATE credentials SET expires_at = 'epoch' WHERE id = $1", ip_bound)
    await old_pool.execute("UPDATE credentials SET expires_at = '2027-01-01Z' WHERE id = $1", dated)

    await migrate(old_pool)

    row = await credentials.select_credential(old_pool, user, ip_bound)
    assert row is not None and row.expires_at is None and row.status_detail == NEVER_EXPIRES
    row = await credentials.select_credential(old_pool, user, dated)
    assert row is not None and row.expires_at is not None and row.status_detail is None
