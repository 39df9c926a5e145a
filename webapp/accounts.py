"""Accounts state and the helpers the account views use: the signed-in user, sessions, the sign-in
throttle and the key check. `webapp.account_routes.register_accounts(app)` wires them into an app.

The key check on save calls the venue from the web process (the user waits for its verdict) with the
read-only private clients of `exchanges.private`, a layer below the web app.

Sessions are random tokens in an HttpOnly, SameSite=Lax cookie (Secure unless PERPVOL_COOKIE_SECURE=0);
only their SHA-256 is stored. Sign-in failures are counted in Redis (webapp/signin_throttle.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict
from uuid import UUID, uuid4

import asyncpg
import httpx
from arq.connections import ArqRedis
from pydantic import BaseModel, Field, SecretStr, field_validator
from quart import current_app, g, request
from redis.asyncio import Redis
from werkzeug.sansio.response import Response as AnyResponse

from core.current_volume import iso
from core.security import (
    CredentialDecryptError,
    CredentialSealer,
    Keyring,
    Passwords,
    local_path,
    mask,
    new_token,
    printable,
    session_cookie_name,
    token_hash,
)
from core.settings import Settings
from core.totp import looks_like_recovery_code, matching_step, open_secret, recovery_code_hash
from core.venues import LABELS
from exchanges.base import Exchange
from exchanges.errors import ExchangeError
from exchanges.http import RetryPolicy
from exchanges.private.base import ApiCredential, CredentialError, KeyCheck
from exchanges.private.registry import make_private_client, private_class
from storage.credential_keys import load_keyring
from storage.job_names import SYNC_ONE_CREDENTIAL
from storage.queries import credentials, totp, users
from webapp.errors import ApiError
from webapp.signin_throttle import SigninThrottle

SESSION_DAYS = 30
# The worker's job (workers/account_jobs.py), enqueued by name: the web app does not import it.
FIRST_SYNC_JOB = SYNC_ONE_CREDENTIAL

log = logging.getLogger("perpvol.accounts")


@dataclass
class AccountsState:
    settings: Settings
    passwords: Passwords
    # Tests route the key checks to the simulator in process; None means real HTTP.
    venue_transport: httpx.AsyncBaseTransport | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    cipher: Keyring | None = None
    # The workers' arq queue (opened before serving): a new key's first sync is enqueued there.
    jobs: ArqRedis | None = None


def state() -> AccountsState:
    accounts: AccountsState = current_app.extensions["accounts"]
    return accounts


def pool() -> asyncpg.Pool:
    db: asyncpg.Pool = current_app.extensions["pool"]
    return db


def redis() -> Redis:
    client: Redis = current_app.extensions["redis"]
    return client


# ---- sessions -------------------------------------------------------------------------------------


SESSION_TOUCH = timedelta(minutes=1)


async def current_user() -> users.User | None:
    """The signed-in user of this request (looked up once per request). A session idle for longer than
    PERPVOL_SESSION_IDLE_MINUTES no longer counts; using one records that it was seen."""
    if "perpvol_user" not in g:
        token = request.cookies.get(cookie_name())
        user = None
        if token:
            settings, now = state().settings, state().now()
            user = await users.select_session_user(pool(), token_hash(token), now, settings.session_idle)
            if user is not None:
                await users.touch_session(pool(), token_hash(token), now, SESSION_TOUCH)
        g.perpvol_user = user
    found: users.User | None = g.perpvol_user
    return found


def cookie_name() -> str:
    return session_cookie_name(state().settings.cookie_secure)


def current_token_hash() -> bytes | None:
    token = request.cookies.get(cookie_name())
    return token_hash(token) if token else None


async def require_user() -> users.User:
    """The signed-in user, or a 401 JSON error (API routes)."""
    user = await current_user()
    if user is None:
        raise ApiError(401, "unauthorized", "sign in first: POST /signin sets the session cookie")
    return user


def session_client() -> str:
    """What the sessions page shows of a session's client: its browser and address."""
    agent = request.headers.get("User-Agent", "unknown browser")
    return f"{''.join(c for c in agent if c.isprintable())[:200]} · {client_address()}"


async def start_session(response: AnyResponse, user_id: int) -> None:
    """A new session; the browser's previous one (if any) ends, so signing in again never leaves
    an old token alive (ASVS 7.2.4)."""
    previous = current_token_hash()
    if previous is not None:
        await users.delete_session(pool(), previous)
    token = new_token()
    now = state().now()
    expires = now + timedelta(days=SESSION_DAYS)
    await users.insert_session(pool(), token_hash(token), user_id, now, expires, session_client())
    response.set_cookie(
        cookie_name(),
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        secure=state().settings.cookie_secure,
        samesite="Lax",
        path="/",
    )


async def end_session(response: AnyResponse) -> None:
    previous = current_token_hash()
    if previous is not None:
        await users.delete_session(pool(), previous)
    response.delete_cookie(
        cookie_name(), path="/", httponly=True, samesite="Lax", secure=state().settings.cookie_secure
    )


# ---- sign-in throttling ---------------------------------------------------------------------------


def signin_throttle() -> SigninThrottle:
    return SigninThrottle(redis(), state().settings.key_prefix)


# ---- credential encryption ------------------------------------------------------------------------


async def cipher() -> CredentialSealer:
    """The keyring of APP_SECRET_KEY (and APP_SECRET_KEY_PREVIOUS), loaded before serving or on first
    use when PostgreSQL was down then; a 503 when no secret is set."""
    accounts = state()
    if accounts.cipher is None:
        secret = accounts.settings.app_secret_key
        if secret is None:
            raise ApiError(503, "not_configured", "APP_SECRET_KEY is not set: exchange keys cannot be stored")
        accounts.cipher = await load_keyring(pool(), secret.get_secret_value(), previous_secret(accounts.settings))
    return accounts.cipher


def previous_secret(settings: Settings) -> str | None:
    previous = settings.app_secret_key_previous
    return previous.get_secret_value() if previous else None


async def second_factor_ok(user_id: int, code: str) -> bool:
    """Whether `code` is the user's current TOTP code (not used before: its time-step is recorded, so
    a replay within the window fails) or one of their unused recovery codes (spent by this call).
    False for anything else, including a secret this APP_SECRET_KEY does not open (fail closed)."""
    row = await totp.select_totp(pool(), user_id)
    if row is None:
        return False
    now = state().now()
    if looks_like_recovery_code(code):
        return row.enabled and await totp.use_recovery_code(pool(), user_id, recovery_code_hash(code), now)
    try:
        secret = open_secret(await cipher(), row.sealed, user_id)
    except CredentialDecryptError as exc:
        log.error("the TOTP secret of user %d does not open: %s", user_id, exc)
        return False
    step = matching_step(secret, code, now)
    return step is not None and await totp.claim_step(pool(), user_id, step)


def client_address() -> str:
    return request.remote_addr or "unknown"


def safe_next(target: Any) -> str:
    """Only local paths without control characters: never redirect a signed-in user to another site."""
    return local_path(target) or "/account"


# ---- saving a credential ----------------------------------------------------------------------------


class KeyInput(BaseModel):
    """What a user pastes, per venue: Bybit and WOO X `api_key` + `api_secret` (read-only key);
    Hyperliquid `address` (the wallet address, never a private key); Paradex `token` (read-only token)."""

    exchange: Exchange
    label: str = Field(default="", max_length=60)
    api_key: str | None = Field(default=None, max_length=200)
    api_secret: SecretStr | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=100)
    token: SecretStr | None = Field(default=None, max_length=4000)

    @field_validator("label", "api_key", "address")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not printable(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("api_secret", "token")
    @classmethod
    def _printable_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not printable(value.get_secret_value()):
            raise ValueError("must not contain control characters")
        return value


def _venue_credential(data: KeyInput) -> ApiCredential:
    def need(value: str | None, name: str) -> str:
        if not value or not value.strip():
            raise ApiError(400, "invalid_credential", f"{data.exchange} needs `{name}`")
        return value.strip()

    secret = data.api_secret.get_secret_value() if data.api_secret else None
    if data.exchange in ("bybit", "woox"):
        return ApiCredential(need(data.api_key, "api_key"), need(secret, "api_secret"))
    if data.exchange == "hyperliquid":
        return ApiCredential(need(data.address, "address"))
    return ApiCredential(need(data.token.get_secret_value() if data.token else None, "token"))


async def check_with_venue(exchange: Exchange, credential: ApiCredential) -> KeyCheck:
    """Ask the venue about the key; its refusal or absence becomes an error the user can act on."""
    accounts = state()
    client = make_private_client(
        exchange,
        accounts.settings,
        credential,
        transport=accounts.venue_transport,
        clock=accounts.now,
        policy=RetryPolicy(attempts=2, base_delay=0.5, max_delay=2, timeout=10),
    )
    try:
        return await client.check_key()
    except CredentialError as exc:
        raise ApiError(400, "credential_rejected", {"status": exc.status, "message": exc.message}) from None
    except ExchangeError as exc:
        raise ApiError(502, "venue_unavailable", f"{exc}; nothing was saved, try again shortly") from None
    finally:
        await client.aclose()


def _refusal(exchange: Exchange, check: KeyCheck) -> str:
    abilities = " and ".join(
        a for a, on in (("trade", check.can_trade), ("withdraw", check.can_withdraw)) if on
    )
    how = private_class(exchange).how_to_read_only
    return (
        f"This key can {abilities}; perpvol only reads your trades and refuses such keys. {how} "
        "(An operator can accept them with PERPVOL_ALLOW_TRADE_KEYS=1.)"
    )


async def add_credential(user: users.User, data: KeyInput) -> tuple[credentials.CredentialRow, str | None]:
    """Check the key with the venue, refuse one that can trade or withdraw, then store it sealed."""
    exchange: Exchange = data.exchange
    credential = _venue_credential(data)
    problem = private_class(exchange).credential_problem(credential)
    if problem:
        raise ApiError(400, "invalid_credential", problem)
    sealer = await cipher()
    check = await check_with_venue(exchange, credential)
    warning = None
    if not check.read_only:
        if not state().settings.allow_trade_keys:
            raise ApiError(400, "key_not_read_only", _refusal(exchange, check))
        warning = "This key can trade or withdraw; a read-only key is safer. Accepted by operator setting."
    new = credentials.NewCredential(
        id=uuid4(),
        user_id=user.id,
        exchange=exchange,
        label=data.label.strip() or LABELS.get(exchange, exchange),
        key_hint=mask(credential.key),
        permissions=check.permissions,
        status="ok",
        status_detail=warning or check.note,
        expires_at=check.expires_at,
        created_at=state().now(),
    )
    sealed = sealer.seal(credential.fields(), user.id, exchange, new.id)
    await credentials.insert_credential(pool(), new, sealed)
    await enqueue_first_sync(new.id)
    row = await credentials.select_credential(pool(), user.id, new.id)
    assert row is not None
    return row, warning


async def enqueue_first_sync(credential_id: UUID) -> None:
    """Ask a worker to sync this credential now rather than at the next 10-minute run. Best effort: if
    the queue is unreachable the key is saved anyway and the scheduled sync picks it up."""
    jobs = state().jobs
    if jobs is None:
        log.warning("arq queue unavailable: credential %s waits for the next scheduled sync", credential_id)
        return
    try:
        await jobs.enqueue_job(
            FIRST_SYNC_JOB,
            str(credential_id),
            _job_id=f"first-sync:{credential_id}",
            _queue_name=state().settings.arq_queue_name,
        )
    except Exception as exc:
        log.warning("could not enqueue the first sync of credential %s: %s", credential_id, exc)


# A Hyperliquid address is public: anyone can paste anyone's. Until ownership is proven (a signed
# message), every place that shows or publishes its volume says so.
WATCHED = "watched address, not proven yours"
UNPROVEN_EXCHANGES = frozenset({"hyperliquid"})


def ownership(exchange: str) -> str | None:
    return WATCHED if exchange in UNPROVEN_EXCHANGES else None


class KeyDoc(TypedDict):
    """A stored key as the user sees it (webapp.views.account_api.KeyOut documents it for OpenAPI)."""

    id: str
    exchange: str
    label: str
    ownership: str | None
    key: str  # the last four characters only
    permissions: list[str]
    status: str
    status_detail: str | None
    expires_at: str | None
    created_at: str | None
    last_sync_at: str | None
    last_sync_error: str | None
    history_from: str | None


def credential_doc(row: credentials.CredentialRow) -> KeyDoc:
    return {
        "id": str(row.id),
        "exchange": row.exchange,
        "label": row.label,
        "ownership": ownership(row.exchange),
        "key": row.key_hint,
        "permissions": list(row.permissions),
        "status": row.status,
        "status_detail": row.status_detail,
        "expires_at": iso(row.expires_at),
        "created_at": iso(row.created_at),
        "last_sync_at": iso(row.last_sync_at),
        "last_sync_error": row.last_sync_error,
        "history_from": iso(row.history_from),
    }
