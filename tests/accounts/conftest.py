"""Fixtures for accounts: the web app with accounts registered and the venues' simulator in process.

Password hashing uses a cheap argon2 profile here (the real one costs ~165 ms a hash).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from quart import Quart
from quart.typing import TestClientProtocol

from core.security import Passwords
from core.settings import Settings
from exchanges.http import RetryPolicy
from exchanges.sim.app import SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import build_simulator
from storage.credential_keys import load_keyring
from tests.accounts.support import SameOriginClient
from tests.conftest import make_settings
from tests.exchanges_support import SIM_NOW, TimeoutASGITransport
from webapp.account_routes import register_accounts
from webapp.app import create_app
from workers.account_sync import SyncDeps

SECRET = "test-app-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, timeout=5.0)


def sim_now() -> datetime:
    return SIM_NOW


@pytest.fixture
def sim() -> SimulatorApp:
    model = SimModel(1, now=sim_now, history_days=30, scale=0.1)
    return build_simulator(model=model, enforce_limits=False)


@pytest.fixture
def transport(sim: SimulatorApp) -> httpx.AsyncBaseTransport:
    return TimeoutASGITransport(app=sim)


def account_settings(db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": db_dsn,
        "REDIS_URL": redis_url,
        "PERPVOL_REDIS_PREFIX": redis_prefix,
        "PERPVOL_DATA_DIR": tmp_path,
        "APP_SECRET_KEY": SECRET,
        "PERPVOL_COOKIE_SECURE": False,
        "PERPVOL_RATE_LIMIT_SCALE": 1000,
        **{f"PERPVOL_{v}_URL": "http://sim.test" for v in ("BYBIT", "WOOX", "HYPERLIQUID", "PARADEX")},
    }
    values.update(extra)
    return make_settings(**values)


@pytest.fixture
def acc_settings(db_dsn: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Settings:
    return account_settings(db_dsn, redis_url, redis_prefix, tmp_path)


def make_app(settings: Settings, transport: httpx.AsyncBaseTransport) -> Quart:
    app = create_app(settings, accounts=False)
    app.test_client_class = SameOriginClient
    register_accounts(app, passwords=Passwords(CHEAP), venue_transport=transport, now=sim_now)
    return app


@pytest.fixture
async def web(acc_settings: Settings, transport: httpx.AsyncBaseTransport) -> AsyncIterator[Quart]:
    app = make_app(acc_settings, transport)
    async with app.test_app():
        yield app


async def signed_up(app: Quart, email: str) -> TestClientProtocol:
    client = app.test_client()
    response = await client.post("/signup", form={"email": email, "password": PASSWORD})
    assert response.status_code == 303, await response.get_data(as_text=True)
    return client


@pytest.fixture
async def sync_deps(db: asyncpg.Pool, acc_settings: Settings, transport: httpx.AsyncBaseTransport) -> SyncDeps:
    cipher = await load_keyring(db, SECRET)
    return SyncDeps(acc_settings, db, cipher, now=sim_now, transport=transport, policy=FAST)


def days_ago(n: float) -> datetime:
    return SIM_NOW - timedelta(days=n)
