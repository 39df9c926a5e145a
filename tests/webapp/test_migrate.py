from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from storage.db import (
    create_pool,
    database_exists,
    database_name,
    drop_database,
    dsn_for_mode,
    ensure_database,
    with_database,
)
from storage.migrate import (
    DEFAULT_MIGRATIONS_DIR,
    MigrationError,
    check_data_mode,
    load_migrations,
    migrate,
)

ALL_VERSIONS = [m.version for m in load_migrations()]


@pytest.fixture
async def empty_dsn(db_dsn: str) -> AsyncIterator[str]:
    """A second, unmigrated database next to the test's own."""
    dsn = with_database(db_dsn, database_name(db_dsn) + "_empty")
    assert await ensure_database(dsn)
    yield dsn
    await drop_database(dsn)


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(DEFAULT_MIGRATIONS_DIR, target)
    return target


async def test_migrates_an_empty_database_and_seeds_the_venues(empty_dsn: str) -> None:
    conn = await asyncpg.connect(empty_dsn)
    try:
        assert await migrate(conn) == ALL_VERSIONS
        venues = await conn.fetch("SELECT exchange, label FROM venues ORDER BY sort_order")
    finally:
        await conn.close()
    assert [(v["exchange"], v["label"]) for v in venues] == [
        ("bybit", "Bybit"),
        ("woox", "WOO X"),
        ("hyperliquid", "Hyperliquid"),
        ("paradex", "Paradex"),
    ]


async def test_second_migrate_is_a_no_op(db: asyncpg.Pool) -> None:
    assert await migrate(db) == []
    assert await db.fetchval("SELECT count(*) FROM schema_migrations") == len(ALL_VERSIONS)


async def test_concurrent_migrations_apply_each_file_once(empty_dsn: str) -> None:
    pools = [await create_pool(empty_dsn, min_size=1, max_size=1) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(pool) for pool in pools))
        rows = await pools[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))
    assert sorted(results[0] + results[1]) == ALL_VERSIONS
    assert [] in results
    assert rows == len(ALL_VERSIONS)


def _rewrite_first(migrations_dir: Path, change: Callable[[bytes], bytes]) -> None:
    first = sorted(migrations_dir.glob("0001_*.sql"))[0]
    first.write_bytes(change(first.read_bytes()))


def _add(migrations_dir: Path, name: str, sql: str) -> None:
    (migrations_dir / name).write_text(sql)


async def test_edited_migration_is_refused(db: asyncpg.Pool, migrations_copy: Path) -> None:
    _rewrite_first(migrations_copy, lambda sql: sql + b"\n-- an innocent-looking edit\n")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        await migrate(db, migrations_copy)


async def test_crlf_checkout_is_not_an_edit(db: asyncpg.Pool, migrations_copy: Path) -> None:
    _rewrite_first(migrations_copy, lambda sql: sql.replace(b"\n", b"\r\n"))
    assert await migrate(db, migrations_copy) == []


async def test_database_ahead_of_the_code_is_refused(db: asyncpg.Pool) -> None:
    await db.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'from_the_future', 'x')"
    )
    with pytest.raises(MigrationError, match="9999_from_the_future"):
        await migrate(db)


async def test_new_migration_is_applied_and_a_failing_one_rolls_back(
    db: asyncpg.Pool, migrations_copy: Path
) -> None:
    _add(migrations_copy, "0900_add_note.sql", "CREATE TABLE note (id int);")
    assert await migrate(db, migrations_copy) == [900]
    _add(migrations_copy, "0901_broken.sql", "CREATE TABLE half (id int);\nSELECT nonsense;")
    with pytest.raises(MigrationError, match=r"0901_broken\.sql failed"):
        await migrate(db, migrations_copy)
    assert await db.fetchval("SELECT to_regclass('half')") is None
    assert await db.fetchval("SELECT max(version) FROM schema_migrations") == 900


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lowercase_name"):
        load_migrations(tmp_path)


async def test_data_mode_is_recorded_once_and_mismatch_refused(db: asyncpg.Pool) -> None:
    assert await migrate(db, data_mode="simulated") == []
    async with db.acquire() as conn:
        await check_data_mode(conn, "simulated")
        with pytest.raises(MigrationError, match="holds simulated data"):
            await check_data_mode(conn, "real")
    with pytest.raises(MigrationError, match="PERPVOL_DATA_MODE is real"):
        await migrate(db, data_mode="real")


async def test_ensure_database_creates_once(pg_dsn: str, db_dsn: str) -> None:
    sim = dsn_for_mode(db_dsn, "simulated")
    assert database_name(sim) == database_name(db_dsn) + "_sim"
    assert dsn_for_mode(db_dsn, "real") == db_dsn
    try:
        assert not await database_exists(sim)
        assert await ensure_database(sim)
        assert not await ensure_database(sim)
        assert await database_exists(sim)
    finally:
        await drop_database(sim)
    assert not await database_exists(with_database(pg_dsn, "perpvol_surely_missing"))
