"""The signed-in user's password, sessions and second factor: change the password (the current one is
required and every other session ends), list the sessions (created, last seen, client), sign out
everywhere else, and enrol or remove an optional TOTP second factor (core/totp.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, Literal, NotRequired, TypedDict

from quart import Blueprint, redirect, render_template, request
from quart.typing import ResponseReturnValue
from quart_schema import hide

from core import totp as otp
from core.security import CredentialDecryptError, password_problem
from storage.queries import totp, users
from webapp import accounts
from webapp.signin_throttle import SigninThrottle
from webapp.views.account import page_user

blueprint = Blueprint("account_security", __name__)

NOTICES = {
    "password": "Password changed; every other session is signed out.",
    "others": "Every other session is signed out.",
    "totp-off": "Two-factor sign-in is off.",
}
NO_SECRET = (
    "Two-factor sign-in needs APP_SECRET_KEY on the server (it encrypts the authenticator secret): "
    "ask the operator to set it."
)


class TotpState(TypedDict):
    totp: Literal["off", "enrolling", "on"]
    recovery_left: NotRequired[int]
    totp_secret: NotRequired[str]  # while enrolling: to type into the authenticator
    totp_qr: NotRequired[str]  # while enrolling: the QR code as a data: URI


async def _totp_context(user: users.User) -> TotpState:
    """`totp` is "off", "enrolling" (with the QR code and secret to type) or "on"."""
    row = await totp.select_totp(accounts.pool(), user.id)
    if row is None:
        return {"totp": "off"}
    if row.enabled:
        return {"totp": "on", "recovery_left": await totp.count_unused_recovery_codes(accounts.pool(), user.id)}
    try:
        secret = otp.open_secret(await accounts.cipher(), row.sealed, user.id)
    except CredentialDecryptError:
        # Sealed under a secret this process no longer holds: enrolment simply starts again.
        return {"totp": "off"}
    uri = otp.provisioning_uri(secret, user.email)
    return {"totp": "enrolling", "totp_secret": secret, "totp_qr": otp.qr_svg_data_uri(uri)}


async def _page(user: users.User, status: int = 200, **context: Any) -> tuple[str, int]:
    current = accounts.current_token_hash()
    rows = await users.select_sessions(accounts.pool(), user.id, accounts.state().now())
    sessions = [
        {
            "client": row.client,
            "created_at": row.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "last_seen_at": row.last_seen_at.strftime("%Y-%m-%d %H:%M UTC"),
            "current": row.token_hash == current,
        }
        for row in rows
    ]
    idle_hours = round(accounts.state().settings.session_idle_minutes / 60, 1)
    factor: TotpState = await _totp_context(user) if accounts.state().settings.app_secret_key else {"totp": "off"}
    page = await render_template(
        "pages/account_security.html",
        page="account",
        user=user,
        sessions=sessions,
        idle_hours=idle_hours,
        **(factor | context),
    )
    return page, status


class FormError(Exception):
    """A form that cannot be done as sent: the page is shown again with `message` and `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


SecurityView = Callable[[users.User], Awaitable[ResponseReturnValue]]


def security_form(view: SecurityView) -> Callable[[], Awaitable[ResponseReturnValue]]:
    """The signed-in user's security view: signed-out browsers go to the sign-in page, and a `FormError`
    the view raises shows the page again with the error (one place for every form's error answer)."""

    @wraps(view)
    async def wrapper() -> ResponseReturnValue:
        user = await page_user()
        if not isinstance(user, users.User):
            return user
        try:
            return await view(user)
        except FormError as exc:
            return await _page(user, exc.status, error=exc.message)

    return wrapper


async def _throttle_for(user: users.User, too_many: str) -> tuple[SigninThrottle, str]:
    """The sign-in throttle and client address for a form that asks for the password; a 429 `FormError`
    while the user must wait."""
    throttle, address = accounts.signin_throttle(), accounts.client_address()
    wait = await throttle.wait(user.email, address)
    if wait is not None:
        raise FormError(429, f"{too_many}: try again in {wait} s.")
    return throttle, address


def _require_secret_key() -> None:
    if accounts.state().settings.app_secret_key is None:
        raise FormError(400, NO_SECRET)


@blueprint.get("/account/security")
@hide
@security_form
async def security_page(user: users.User) -> ResponseReturnValue:
    return await _page(user, notice=NOTICES.get(request.args.get("done", "")))


@blueprint.post("/account/password")
@hide
@security_form
async def change_password(user: users.User) -> ResponseReturnValue:
    """Needs the current password (wrong answers count in the sign-in throttle); ends other sessions."""
    form = await request.form
    throttle, address = await _throttle_for(user, "Too many wrong passwords")
    if not await _password_ok(user, form.get("current_password", "")):
        await throttle.record_failure(user.email, address)
        raise FormError(400, "The current password is wrong.")
    new = form.get("new_password", "")
    problem = password_problem(new, user.email)
    if problem:
        raise FormError(400, problem)
    await users.update_password_hash(accounts.pool(), user.id, await accounts.state().passwords.hash(new))
    await users.delete_user_sessions(accounts.pool(), user.id, keep=accounts.current_token_hash())
    return redirect("/account/security?done=password", 303)


@blueprint.post("/account/sessions/end-others")
@hide
@security_form
async def end_other_sessions(user: users.User) -> ResponseReturnValue:
    await users.delete_user_sessions(accounts.pool(), user.id, keep=accounts.current_token_hash())
    return redirect("/account/security?done=others", 303)


@blueprint.post("/account/totp/start")
@hide
@security_form
async def start_totp(user: users.User) -> ResponseReturnValue:
    """A new secret, stored sealed but not yet enabled; the page then shows its QR code."""
    _require_secret_key()
    sealed = otp.seal_secret(await accounts.cipher(), otp.new_secret(), user.id)
    if not await totp.upsert_enrolment(accounts.pool(), user.id, sealed):
        raise FormError(409, "Two-factor sign-in is already on.")
    return redirect("/account/security#totp", 303)


@blueprint.post("/account/totp/confirm")
@hide
@security_form
async def confirm_totp(user: users.User) -> ResponseReturnValue:
    """Enable the enrolled secret once a code from it is right; show the recovery codes, once."""
    _require_secret_key()
    row = await totp.select_totp(accounts.pool(), user.id)
    if row is None or row.enabled:
        raise FormError(409, "There is no two-factor enrolment to confirm.")
    form = await request.form
    if not await accounts.second_factor_ok(user.id, form.get("code", "")):
        raise FormError(400, "That code is wrong: check the phone's clock and try the next one.")
    codes = otp.new_recovery_codes()
    await totp.enable(accounts.pool(), user.id, accounts.state().now(), [otp.recovery_code_hash(c) for c in codes])
    return await _page(user, recovery_codes=codes, notice="Two-factor sign-in is on.")


@blueprint.post("/account/totp/disable")
@hide
@security_form
async def disable_totp(user: users.User) -> ResponseReturnValue:
    """Needs the current password and a valid code (or a recovery code); wrong answers count in the
    sign-in throttle."""
    form = await request.form
    throttle, address = await _throttle_for(user, "Too many wrong answers")
    password_ok = await _password_ok(user, form.get("current_password", ""))
    if not password_ok or not await accounts.second_factor_ok(user.id, form.get("code", "")):
        await throttle.record_failure(user.email, address)
        raise FormError(400, "The password or the code is wrong.")
    await totp.delete_totp(accounts.pool(), user.id)
    return redirect("/account/security?done=totp-off", 303)


async def _password_ok(user: users.User, password: str) -> bool:
    """The signed-in user's current password, asked again before a change to how they sign in."""
    login = await users.select_user_login(accounts.pool(), user.email)
    return login is not None and await accounts.state().passwords.verify(login.password_hash, password)
