"""`register_accounts(app)`: adds sign-up/in/out, the account pages and API and the cross-origin check on
every unsafe request to an app made by `create_app`. It imports the account views, which import
`webapp.accounts` for the state and helpers: one direction, no cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import asyncpg
import httpx
from arq.connections import create_pool
from quart import Quart, Response, request

from core.security import SECURE_SESSION_COOKIE, SESSION_COOKIE, Passwords, cross_origin_problem
from core.settings import Settings
from storage.job_codec import JOB_CODEC
from storage.redis_tls import arq_redis_settings
from webapp.accounts import AccountsState, cipher
from webapp.errors import error_response
from webapp.views import account, account_api, account_security, auth

log = logging.getLogger("perpvol.accounts")


def register_accounts(
    app: Quart,
    *,
    passwords: Passwords | None = None,
    venue_transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
) -> None:
    """Add the accounts feature to an app made by `create_app` (uses its pool and Redis)."""
    settings: Settings = app.config["PERPVOL"]
    state = AccountsState(settings, passwords or Passwords(), venue_transport)
    if now is not None:
        state.now = now
    app.extensions["accounts"] = state
    app.before_request(_reject_cross_origin)
    app.after_request(_no_store_when_signed_in)

    @app.before_serving
    async def _check_secret() -> None:
        # A secret that opens no stored credential stops start-up (SecretMismatch). PostgreSQL being
        # down does not: the keyring is then loaded on the first key saved.
        if settings.app_secret_key is None:
            return
        try:
            await cipher()
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            log.warning("secret not checked at start (PostgreSQL unavailable): %s", exc)

    @app.before_serving
    async def _open_jobs() -> None:
        redis_settings = arq_redis_settings(settings.redis_url or "redis://127.0.0.1:6379")
        try:
            state.jobs = await create_pool(
                redis_settings, default_queue_name=settings.arq_queue_name, **JOB_CODEC
            )
        except Exception as exc:  # Redis down at start: keys still save; the 10-minute cron syncs them
            log.warning("arq queue unavailable, new keys wait for the next scheduled sync: %s", exc)

    @app.after_serving
    async def _close_jobs() -> None:
        if state.jobs is not None:
            await state.jobs.aclose()
            state.jobs = None

    app.register_blueprint(auth.blueprint)
    app.register_blueprint(account.blueprint)
    app.register_blueprint(account_api.blueprint)
    app.register_blueprint(account_security.blueprint)


async def _reject_cross_origin() -> Response | None:
    with_session = SESSION_COOKIE in request.cookies or SECURE_SESSION_COOKIE in request.cookies
    problem = cross_origin_problem(request.method, dict(request.headers), request.host, with_session=with_session)
    if problem is None:
        return None
    return error_response(403, "cross_site_request", f"refused: {problem}")


async def _no_store_when_signed_in(response: Response) -> Response:
    """A page rendered for a signed-in browser is never stored by it or any cache (ASVS 14.3.2)."""
    signed_in = SESSION_COOKIE in request.cookies or SECURE_SESSION_COOKIE in request.cookies
    if signed_in and response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response
