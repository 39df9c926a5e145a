"""Forward-only migrations: `migrations/NNNN_name.sql`, applied in order, each in its own transaction.

A session advisory lock makes concurrent starters (web app and workers) take turns: the first applies,
the others then find nothing to do. The runner refuses to start when an applied file was edited or the
database is ahead of the code, rather than guess.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Arbitrary but fixed: every perpvol process must use the same key ("perpvol" in ASCII).
MIGRATION_LOCK_KEY = 0x70657270766F6C
DATA_MODES = ("real", "simulated")

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The database and the migration files disagree; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str
    checksum: str


def load_migrations(migrations_dir: Path = DEFAULT_MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(migrations_dir.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files must be named NNNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} is used twice ({found[version].path.name})")
        # Line endings normalised so a CRLF checkout does not count as an edit.
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        found[version] = Migration(version, match.group(2), path, text, checksum)
    return [found[v] for v in sorted(found)]


async def migrate(
    target: asyncpg.Pool | asyncpg.Connection,
    migrations_dir: Path = DEFAULT_MIGRATIONS_DIR,
    *,
    data_mode: str | None = None,
) -> list[int]:
    """Apply pending migrations; return the versions applied now (empty when up to date).

    With `data_mode`, also record it on a new database and refuse a database made for the other mode.
    """
    migrations = load_migrations(migrations_dir)
    async with _connection(target) as conn, _session_lock(conn):
        await conn.execute(_CREATE_TABLE)
        applied = await _applied(conn)
        pending = _check(migrations, applied)
        for migration in pending:
            await _apply(conn, migration)
        if data_mode is not None:
            await check_data_mode(conn, data_mode)
    return [m.version for m in pending]


async def check_data_mode(conn: asyncpg.Connection, mode: str) -> None:
    """Record `mode` on first use; raise if the database was created for the other mode."""
    if mode not in DATA_MODES:
        raise MigrationError(f"unknown data mode {mode!r}: expected one of {', '.join(DATA_MODES)}")
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ('data_mode', $1) ON CONFLICT (key) DO NOTHING", mode
    )
    stored = await conn.fetchval("SELECT value FROM meta WHERE key = 'data_mode'")
    if stored != mode:
        raise MigrationError(
            f"this database holds {stored} data but PERPVOL_DATA_MODE is {mode}: "
            "simulated and real data are kept in separate databases; check DATABASE_URL"
        )


async def _applied(conn: asyncpg.Connection) -> dict[int, tuple[str, str]]:
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    return {row["version"]: (row["name"], row["checksum"]) for row in rows}


def _check(migrations: list[Migration], applied: dict[int, tuple[str, str]]) -> list[Migration]:
    """The migrations still to apply, after checking the applied ones are exactly ours."""
    known = {m.version: m for m in migrations}
    for version, (name, checksum) in applied.items():
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{name} which this code does not know: "
                "it was migrated by a newer perpvol; upgrade the code or use another database"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{migration.path.name} was edited after it was applied to this database; "
                "migrations are forward-only: restore the file and add a new NNNN_*.sql instead"
            )
    newest = max(applied, default=0)
    pending = [m for m in migrations if m.version not in applied]
    late = [m.path.name for m in pending if m.version < newest]
    if late:
        raise MigrationError(
            f"{', '.join(late)} sorts before migration {newest:04d} already applied; "
            "renumber the new file after the newest applied one"
        )
    return pending


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            # Without arguments asyncpg sends the file as a simple query, so it may hold many statements.
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"{migration.path.name} failed and was rolled back: {exc}") from exc


@asynccontextmanager
async def _connection(target: asyncpg.Pool | asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            yield conn
    else:
        yield target


@asynccontextmanager
async def _session_lock(conn: asyncpg.Connection) -> AsyncIterator[None]:
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
