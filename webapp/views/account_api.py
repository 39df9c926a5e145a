"""The signed-in user's JSON API: exchange keys and own volume, mirroring the public volume API.

Authentication is the session cookie (sign in at /signin); unsafe methods pass the same-origin check.
Money is a decimal string in USD; a day is a UTC calendar day and weeks start on Monday.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field
from quart import Blueprint, Response, jsonify, request
from quart_schema import document_response, validate_request

from storage.queries import credentials, users
from webapp import accounts
from webapp.errors import ApiError, ErrorBody
from webapp.own_volume import build_own_current, build_own_periods, own_history_document
from webapp.views.account import csv_response, history_query, no_store

blueprint = Blueprint("account_api", __name__, url_prefix="/api")


class KeyOut(BaseModel):
    id: str
    exchange: str
    label: str
    ownership: str | None = Field(
        description="`watched address, not proven yours` for a Hyperliquid address (public: anyone can add "
        "anyone's); null for keys the venue confirmed belong to the account"
    )
    key: str = Field(description="The last four characters only, e.g. `…9f3a`")
    permissions: list[str] = Field(description="As the venue names them")
    status: str = Field(description="ok, expired, revoked, invalid, permission or error")
    status_detail: str | None = Field(description="What the venue said, e.g. that a key does not expire")
    expires_at: str | None = Field(
        description="When the venue will expire the key; null when it does not (a Bybit key bound to IP "
        "addresses, a wallet address) or the venue does not say"
    )
    created_at: str | None
    last_sync_at: str | None
    last_sync_error: str | None = Field(description="Why the last sync stopped; the next run resumes")
    history_from: str | None = Field(description="Fills are complete from this time on")


class KeyList(BaseModel):
    keys: list[KeyOut]


class KeyCreated(BaseModel):
    key: KeyOut
    warning: str | None


class Deleted(BaseModel):
    deleted: str


class OwnVenue(BaseModel):
    exchange: str
    label: str
    volume_24h_usd: str | None = Field(description="Rolling 24 h of the user's perp fills")
    volume_30d_usd: str | None = Field(description="Rolling 30 days (what fee tiers use)")
    fills_30d: int
    market_volume_24h_usd: str | None = Field(description="The venue's whole rolling-24h perp volume")
    share_24h: str | None = Field(description="volume_24h_usd / market_volume_24h_usd")
    ownership: str | None = Field(description="`watched address, not proven yours` for Hyperliquid")


class OwnTotals(BaseModel):
    volume_24h_usd: str | None
    volume_30d_usd: str | None


class OwnCurrent(BaseModel):
    as_of: str | None
    windows: dict[str, str]
    exchanges: list[OwnVenue]
    total: OwnTotals
    keys: list[KeyOut]


class OwnPeriod(BaseModel):
    period_start: str = Field(description="First UTC day of the day, week (Monday) or month")
    exchange: str
    volume_usd: str | None
    fills: int
    market_volume_usd: str | None
    share: str | None


class OwnHistory(BaseModel):
    start: str
    end: str
    interval: str
    rows: list[OwnPeriod]


class EmbedInput(BaseModel):
    fields: list[Literal["volume_24h", "volume_30d"]] = Field(default=["volume_30d"], min_length=1)


class EmbedOut(BaseModel):
    token: str = Field(description='For the widget: data-account="TOKEN"; GET /public/account/TOKEN')
    fields: list[str]


def _errors(*statuses: int) -> Callable[[Any], Any]:
    def wrap(view: Any) -> Any:
        for status in statuses:
            view = document_response(ErrorBody, status)(view)
        return view

    return wrap


@blueprint.get("/keys")
@document_response(KeyList, 200)
@_errors(401)
async def list_keys() -> Response:
    """The signed-in user's exchange keys: venue, label, masked key, permissions, status, last sync.
    Keys and secrets are never returned."""
    user = await accounts.require_user()
    rows = await credentials.select_credentials(accounts.pool(), user.id)
    return no_store(jsonify({"keys": [accounts.credential_doc(r) for r in rows]}))


@blueprint.post("/keys")
@validate_request(accounts.KeyInput)
@document_response(KeyCreated, 201)
@_errors(400, 401, 502, 503)
async def add_key(data: accounts.KeyInput) -> tuple[Response, int]:
    """Save a read-only exchange credential after the venue confirmed it (encrypted at rest).
    A key that can trade or withdraw is refused unless the operator set PERPVOL_ALLOW_TRADE_KEYS=1."""
    user = await accounts.require_user()
    row, warning = await accounts.add_credential(user, data)
    return no_store(jsonify({"key": accounts.credential_doc(row), "warning": warning})), 201


@blueprint.delete("/keys/<uuid:credential_id>")
@document_response(Deleted, 200)
@_errors(401, 404)
async def delete_key(credential_id: UUID) -> Response:
    """Delete one of the user's keys for good; `?delete_fills=true` also deletes the fills it synced."""
    user = await accounts.require_user()
    with_fills = request.args.get("delete_fills", "false").lower() in ("1", "true", "yes")
    if not await credentials.delete_credential(accounts.pool(), user.id, credential_id, with_fills):
        raise ApiError(404, "not_found", "no such key")
    return jsonify({"deleted": str(credential_id)})


@blueprint.get("/me/volume/current")
@document_response(OwnCurrent, 200)
@_errors(401)
async def my_current_volume() -> Response:
    """The user's own perp volume per venue: rolling 24 h and 30 days, and the share of the venue's market."""
    user = await accounts.require_user()
    return no_store(jsonify(await build_own_current(user)))


@blueprint.get("/me/volume/historical")
@document_response(OwnHistory, 200)
@_errors(400, 401)
async def my_historical_volume() -> Response:
    """The user's own volume per UTC day, week (from Monday) or month and venue.
    Query: `start`, `end` (YYYY-MM-DD, UTC days; default the last 90), `interval=day|week|month`,
    `format=csv` for a CSV file instead of JSON."""
    user = await accounts.require_user()
    start, end, interval = history_query()
    rows = await build_own_periods(user, start, end, interval)
    if request.args.get("format") == "csv":
        return no_store(csv_response(rows))
    return no_store(jsonify(own_history_document(start, end, interval, rows)))


@blueprint.post("/me/embed")
@validate_request(EmbedInput)
@document_response(EmbedOut, 200)
@_errors(400, 401)
async def enable_embed(data: EmbedInput) -> Response:
    """Create (or replace) the public embed token that shows only the chosen aggregate figures.
    Body (`application/json` only): `{"fields": ["volume_24h", "volume_30d"]}`."""
    user = await accounts.require_user()
    token = secrets.token_urlsafe(18)
    chosen = sorted(set(data.fields))
    await users.update_embed(accounts.pool(), user.id, token, chosen)
    return no_store(jsonify({"token": token, "fields": chosen}))


@blueprint.delete("/me/embed")
@document_response(Deleted, 200)
@_errors(401)
async def disable_embed() -> Response:
    """Revoke the embed token: pages that use it show nothing from now on."""
    user = await accounts.require_user()
    await users.update_embed(accounts.pool(), user.id, None, [])
    return jsonify({"deleted": "embed"})
