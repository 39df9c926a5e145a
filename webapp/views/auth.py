"""Sign up, sign in, sign out: HTML forms (htmx or plain) that set or clear the session cookie."""

from __future__ import annotations

from datetime import timedelta

from quart import Blueprint, Response, redirect, render_template, request
from quart.typing import ResponseReturnValue
from quart_schema import hide

from core.security import new_token, normalize_email, password_problem, token_hash
from storage.queries import totp, users
from webapp import accounts

blueprint = Blueprint("auth", __name__)

# How long the second step of a sign-in (the TOTP code) may follow the password.
PENDING_LOGIN = timedelta(minutes=5)


async def _form(mode: str, status: int = 200, **context: object) -> tuple[str, int]:
    settings = accounts.state().settings
    page = await render_template(
        "pages/account_auth.html",
        mode=mode,
        page=mode,
        signup_open=settings.signup == "open",
        next=accounts.safe_next(request.args.get("next")),
        **context,
    )
    return page, status


@blueprint.get("/signup")
@hide
async def signup_page() -> tuple[str, int]:
    return await _form("signup")


@blueprint.post("/signup")
@hide
async def signup() -> ResponseReturnValue:
    """Create an account (when PERPVOL_SIGNUP=open) and sign it in."""
    if accounts.state().settings.signup != "open":
        return await _form("signup", 403, error="Sign-up is closed here; ask the operator for an account.")
    form = await request.form
    email = normalize_email(form.get("email", ""))
    password = form.get("password", "")
    problem = "enter a valid email address" if email is None else password_problem(password, email)
    if problem or email is None:
        return await _form("signup", 400, error=problem, email=email)
    wait = await accounts.signin_throttle().signup_wait(accounts.client_address())
    if wait is not None:
        error = f"Too many sign-ups from your address: try again in {wait} s."
        page, _ = await _form("signup", error=error, email=email)
        return Response(page, 429, {"Retry-After": str(wait)}, content_type="text/html")
    password_hash = await accounts.state().passwords.hash(password)
    user = await users.insert_user(accounts.pool(), email, password_hash)
    if user is None:
        return await _form("signup", 409, error="That email already has an account: sign in.", email=email)
    response = redirect("/account", 303)
    await accounts.start_session(response, user.id)
    return response


@blueprint.get("/signin")
@hide
async def signin_page() -> tuple[str, int]:
    return await _form("signin")


@blueprint.post("/signin")
@hide
async def signin() -> ResponseReturnValue:
    """Check the password (throttled per account and client address, see webapp/signin_throttle.py)
    and start a session."""
    form = await request.form
    valid_email = normalize_email(form.get("email", ""))
    # An address that cannot exist (e.g. with NUL) is still throttled and answered like a wrong one.
    email = valid_email or form.get("email", "")[:254]
    password = form.get("password", "")
    address = accounts.client_address()
    throttle = accounts.signin_throttle()
    wait = await throttle.wait(email, address)
    if wait is not None:
        page, _ = await _form("signin", error=f"Too many failed attempts: try again in {wait} s.", email=valid_email)
        return Response(page, 429, {"Retry-After": str(wait)}, content_type="text/html")
    passwords = accounts.state().passwords
    login = await users.select_user_login(accounts.pool(), valid_email) if valid_email else None
    if login is None:
        await passwords.burn(password)
    if login is None or not await passwords.verify(login.password_hash, password):
        await throttle.record_failure(email, address)
        return await _form("signin", 401, error="Wrong email or password.", email=valid_email)
    if passwords.needs_rehash(login.password_hash):
        await users.update_password_hash(accounts.pool(), login.user.id, await passwords.hash(password))
    if await totp.totp_enabled(accounts.pool(), login.user.id):
        # The throttle is cleared only after the code: else the right password would reset the count
        # of wrong codes and the six digits could be guessed without limit.
        pending = new_token()
        expires = accounts.state().now() + PENDING_LOGIN
        await totp.insert_pending(accounts.pool(), token_hash(pending), login.user.id, expires)
        return await _second_step(pending, form.get("next"))
    await throttle.clear(email, address)
    response = redirect(accounts.safe_next(form.get("next")), 303)
    await accounts.start_session(response, login.user.id)
    return response


async def _second_step(pending: str, next_path: object, status: int = 200, error: str | None = None) -> tuple[str, int]:
    page = await render_template(
        "pages/account_totp.html", page="signin", pending=pending, next=accounts.safe_next(next_path), error=error
    )
    return page, status


@blueprint.post("/signin/totp")
@hide
async def signin_second_step() -> ResponseReturnValue:
    """The code from the authenticator app (or a recovery code) after the password, within 5 minutes of
    it. Wrong codes count in the sign-in throttle of the account and client address."""
    form = await request.form
    pending, code, next_path = form.get("pending", ""), form.get("code", ""), form.get("next")
    now = accounts.state().now()
    found = await totp.select_pending_user(accounts.pool(), token_hash(pending), now) if pending else None
    if found is None:
        return await _form("signin", 400, error="That sign-in expired: enter your password again.")
    user_id, email = found
    address, throttle = accounts.client_address(), accounts.signin_throttle()
    wait = await throttle.wait(email, address)
    if wait is not None:
        page, _ = await _second_step(pending, next_path, error=f"Too many failed attempts: try again in {wait} s.")
        return Response(page, 429, {"Retry-After": str(wait)}, content_type="text/html")
    if not await accounts.second_factor_ok(user_id, code):
        await throttle.record_failure(email, address)
        return await _second_step(pending, next_path, 401, "That code is wrong or was already used.")
    await totp.delete_pending(accounts.pool(), token_hash(pending), now)
    await throttle.clear(email, address)
    response = redirect(accounts.safe_next(next_path), 303)
    await accounts.start_session(response, user_id)
    return response


@blueprint.post("/signout")
@hide
async def signout() -> ResponseReturnValue:
    response = redirect("/", 303)
    await accounts.end_session(response)
    return response
