"""The accounts' arq jobs as the worker registers them: the hourly clean-up of expired sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import pytest

from core.security import token_hash
from core.settings import Settings
from storage.credential_keys import load_keyring
from storage.queries import users
from tests.accounts.conftest import SECRET
from tests.accounts.support import new_user, store_credential
from workers import account_jobs
from workers.worker import worker_settings

IDLE = SimpleNamespace(session_idle=timedelta(days=60))


def test_expired_sessions_are_deleted_by_an_hourly_cron(acc_settings: Settings) -> None:
    crons = {job.name: job for job in worker_settings(acc_settings)["cron_jobs"]}
    job = crons["cron:delete_expired_sessions"]
    assert job.coroutine is account_jobs.delete_expired_sessions
    # Once an hour: a single minute and second, every hour of every day.
    assert job.hour is None and isinstance(job.minute, set) and len(job.minute) == 1 and job.second == {0}
    assert job.day is None and job.weekday is None and job.month is None


async def test_delete_expired_sessions_keeps_live_ones(db: asyncpg.Pool) -> None:
    user = await new_user(db, "sessions@example.com")
    now = datetime.now(UTC)
    expiries = {"old": now - timedelta(days=1), "just": now - timedelta(seconds=1), "live": now + timedelta(days=1)}
    for name, expires in expiries.items():
        await users.insert_session(db, token_hash(name), user, now - timedelta(days=30), expires)

    deleted = await account_jobs.delete_expired_sessions({"deps": SimpleNamespace(pool=db, settings=IDLE)})

    assert deleted == 2
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1
    assert await users.select_session_user(db, token_hash("live"), now) is not None
    assert await account_jobs.delete_expired_sessions({"deps": SimpleNamespace(pool=db, settings=IDLE)}) == 0


async def test_a_missing_app_secret_key_is_noted_once_and_only_when_saved_keys_wait(
    db: asyncpg.Pool, acc_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="perpvol.account_jobs")
    ctx = {"deps": SimpleNamespace(settings=acc_settings.model_copy(update={"app_secret_key": None}), pool=db)}
    assert await account_jobs.sync_account_fills(ctx) == {}
    assert caplog.records == [], "nobody saved a key: nothing to say"
    cipher = await load_keyring(db, SECRET)
    await store_credential(db, cipher, await new_user(db, "keys@example.com"), "bybit", "KEY1")
    for _ in range(3):
        assert await account_jobs.sync_account_fills(ctx) == {}
    assert [r.getMessage() for r in caplog.records] == [
        "note: APP_SECRET_KEY is not set, so 1 saved exchange key(s) are not synced; "
        "set it to the secret they were saved with"
    ]
