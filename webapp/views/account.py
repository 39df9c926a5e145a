"""A signed-in user's own pages and API: exchange keys, own volume (current, history, CSV), embed.

Every query names the signed-in user as owner; another user's credential id answers 404, exactly as an
unknown id does, so ids reveal nothing.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import date, timedelta
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, Field, ValidationError
from quart import Blueprint, Response, jsonify, redirect, render_template, request
from quart.typing import ResponseReturnValue
from quart_schema import document_response, hide
from werkzeug.wrappers.response import Response as Redirect

from storage.queries import credentials, fills, users
from webapp import accounts, charts
from webapp.errors import ApiError, ErrorBody, bad_request
from webapp.own_volume import OwnPeriodDoc, build_own_current, build_own_periods, build_public_embed

blueprint = Blueprint("account", __name__)

EMBED_FIELDS = ("volume_24h", "volume_30d")
MAX_HISTORY_DAYS = 3660
# The account page's chart: how many whole periods back each interval shows (the current one included).
PAGE_PERIODS: dict[fills.Interval, int] = {"day": 30, "week": 12, "month": 12}


# ---- requests and responses ---------------------------------------------------------------------------


def history_query() -> tuple[date, date, fills.Interval]:
    today = accounts.state().now().date()
    try:
        end = date.fromisoformat(request.args.get("end", today.isoformat()))
        start = date.fromisoformat(request.args.get("start", (end - timedelta(days=89)).isoformat()))
    except ValueError:
        raise bad_request("invalid_date", "start and end are UTC days, YYYY-MM-DD") from None
    interval = request.args.get("interval", "day")
    if interval not in ("day", "week", "month"):
        raise bad_request("invalid_interval", "interval is day, week (from Monday) or month")
    if start > end or (end - start).days > MAX_HISTORY_DAYS:
        raise bad_request("invalid_range", f"start must be before end, at most {MAX_HISTORY_DAYS} days apart")
    return start, end, interval  # type: ignore[return-value]


def csv_response(rows: list[OwnPeriodDoc]) -> Response:
    out = io.StringIO()
    columns = ("period_start", "exchange", "volume_usd", "fills", "market_volume_usd", "share")
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    response = Response(out.getvalue(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="perpvol-my-volume.csv"'
    return response


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---- public embed -----------------------------------------------------------------------------------


class PublicEmbed(BaseModel):
    as_of: str | None
    data_mode: str = Field(description="`real`, or `simulated` when the app runs on the simulator")
    volume_24h_usd: str | None = Field(default=None, description="Only when the user chose to show it")
    volume_30d_usd: str | None = Field(default=None, description="Only when the user chose to show it")
    unproven: str | None = Field(
        default=None,
        description="Set when the figures include volume of a watched Hyperliquid address, not proven to "
        "be this user's (anyone can watch any public address)",
    )


@blueprint.get("/public/account/<token>")
@document_response(PublicEmbed, 200)
@document_response(ErrorBody, 404)
async def public_embed(token: str) -> Response:
    """The aggregate figures a user chose to publish, for the widget's `data-account="TOKEN"`."""
    user = await users.select_user_by_embed_token(accounts.pool(), token) if len(token) < 100 else None
    if user is None:
        raise ApiError(404, "not_found", "no such embed token (it may have been revoked)")
    response = jsonify(await build_public_embed(user))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


# ---- pages --------------------------------------------------------------------------------------------


async def page_user() -> users.User | Redirect:
    user = await accounts.current_user()
    if user is None:
        return redirect(f"/signin?next={quote(request.path)}", 303)
    return user


@blueprint.get("/account")
@hide
async def account_page() -> ResponseReturnValue:
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    interval: fills.Interval = request.args.get("interval", "day")  # type: ignore[assignment]
    if interval not in PAGE_PERIODS:
        interval = "day"
    today = accounts.state().now().date()
    start = page_start(today, interval)
    rows = await build_own_periods(user, start, today, interval)
    return await render_template(
        "pages/account_volume.html",
        page="account",
        user=user,
        doc=await build_own_current(user),
        history=rows,
        interval=interval,
        start=start.isoformat(),
        end=today.isoformat(),
        volume_spec=charts.own_volume_chart(rows, interval),
        share_spec=charts.own_share_chart(rows, interval),
    )


def page_start(today: date, interval: fills.Interval) -> date:
    """First day of the oldest whole period the page shows: 30 days, 12 weeks (from a Monday) or 12 months."""
    if interval == "week":
        return today - timedelta(days=today.weekday() + 7 * (PAGE_PERIODS["week"] - 1))
    if interval == "month":
        months = today.year * 12 + today.month - 1 - (PAGE_PERIODS["month"] - 1)
        return date(months // 12, months % 12 + 1, 1)
    return today - timedelta(days=PAGE_PERIODS["day"] - 1)


@blueprint.get("/account/keys")
@hide
async def keys_page() -> ResponseReturnValue:
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    rows = await credentials.select_credentials(accounts.pool(), user.id)
    keys = [accounts.credential_doc(r) for r in rows]
    return await render_template("pages/account_keys.html", page="account", user=user, keys=keys)


@blueprint.post("/account/keys")
@hide
async def add_key_form() -> ResponseReturnValue:
    """The keys page's form: same checks as POST /api/keys; answers the keys partial (htmx) or redirects."""
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    form = await request.form
    error, warning = None, None
    try:
        data = accounts.KeyInput.model_validate({k: v for k, v in form.items() if v})
        _, warning = await accounts.add_credential(user, data)
    except ValidationError as exc:
        error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
    except ApiError as exc:
        error = exc.detail["message"] if isinstance(exc.detail, dict) else str(exc.detail)
    rows = await credentials.select_credentials(accounts.pool(), user.id)
    keys = [accounts.credential_doc(r) for r in rows]
    html = await render_template("partials/_account_keys.html", keys=keys, error=error, warning=warning)
    if request.headers.get("HX-Request") == "true":
        return html, 200 if error is None else 422
    if error is None:
        return redirect("/account/keys", 303)
    page = await render_template("pages/account_keys.html", page="account", user=user, keys=keys, error=error)
    return page, 422


@blueprint.post("/account/keys/<uuid:credential_id>/delete")
@hide
async def delete_key_form(credential_id: UUID) -> ResponseReturnValue:
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    form = await request.form
    with_fills = form.get("delete_fills") == "on"
    if not await credentials.delete_credential(accounts.pool(), user.id, credential_id, with_fills):
        raise ApiError(404, "not_found", "no such key")
    return redirect("/account/keys", 303)


@blueprint.post("/account/embed")
@hide
async def embed_form() -> ResponseReturnValue:
    """Publish (or replace) the embed token from the page's checkboxes; `revoke` withdraws it."""
    user = await page_user()
    if not isinstance(user, users.User):
        return user
    form = await request.form
    chosen = [f for f in EMBED_FIELDS if form.get(f) == "on"]
    if form.get("action") == "revoke" or not chosen:
        await users.update_embed(accounts.pool(), user.id, None, [])
    else:
        await users.update_embed(accounts.pool(), user.id, secrets.token_urlsafe(18), chosen)
    return redirect("/account#embed", 303)
