"""The signed-in user's password and sessions: change the password (the current one is required and
every other session ends), list the sessions (created, last seen, client), sign out everywhere else."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, render_template, request
from quart.typing import ResponseReturnValue
from quart_schema import hide

from core.security import password_problem
from storage.queries import users
from webapp import accounts
from webapp.views.account import page_user

blueprint = Blueprint("account_security", __name__)

NOTICES = {
    "password": "Password changed; every other session is signed out.",
    "others": "Every other session is signed out.",
}


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
    page = await render_template(
        "pages/account_security.html", page="account", user=user, sessions=sessions, idle_hours=idle_hours, **context
    )
    return page, status


@blueprint.get("/account/security")
@hide
async def security_page() -> ResponseReturnValue:
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    return await _page(user, notice=NOTICES.get(request.args.get("done", "")))


@blueprint.post("/account/password")
@hide
async def change_password() -> ResponseReturnValue:
    """Needs the current password (wrong answers count in the sign-in throttle); ends other sessions."""
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    form = await request.form
    throttle, address = accounts.signin_throttle(), accounts.client_address()
    wait = await throttle.wait(user.email, address)
    if wait is not None:
        return await _page(user, 429, error=f"Too many wrong passwords: try again in {wait} s.")
    passwords = accounts.state().passwords
    login = await users.select_user_login(accounts.pool(), user.email)
    if login is None or not await passwords.verify(login.password_hash, form.get("current_password", "")):
        await throttle.record_failure(user.email, address)
        return await _page(user, 400, error="The current password is wrong.")
    new = form.get("new_password", "")
    problem = password_problem(new, user.email)
    if problem:
        return await _page(user, 400, error=problem)
    await users.update_password_hash(accounts.pool(), user.id, await passwords.hash(new))
    await users.delete_user_sessions(accounts.pool(), user.id, keep=accounts.current_token_hash())
    return redirect("/account/security?done=password", 303)


@blueprint.post("/account/sessions/end-others")
@hide
async def end_other_sessions() -> ResponseReturnValue:
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    await users.delete_user_sessions(accounts.pool(), user.id, keep=accounts.current_token_hash())
    return redirect("/account/security?done=others", 303)
