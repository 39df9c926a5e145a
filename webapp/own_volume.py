"""A signed-in user's own-volume documents: per venue the rolling 24 h and 30 days of the user's perp fills
and their share of the venue's whole market, the totals, the volume per UTC day / week / month, and the
aggregate figures a user chose to publish for the widget. Served as JSON (`/api/me/volume/*`,
`/public/account/{token}`) and rendered on the account page; the pydantic models in
`webapp.views.account_api` / `webapp.views.account` document the same shapes for OpenAPI.

Money keeps two decimals (cents) and a share seven places; the fills' sums come from
`storage.queries.fills`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import NotRequired, TypedDict

from core.current_volume import iso
from core.venues import LABELS
from storage.queries import credentials, fills, users
from webapp import accounts
from webapp.accounts import KeyDoc

CENTS = Decimal("0.01")
SHARE_PLACES = Decimal("0.0000001")
WINDOWS = {"volume_24h_usd": "rolling_24h", "volume_30d_usd": "rolling_30d (what fee tiers use)"}


class OwnVenueDoc(TypedDict):
    exchange: str
    label: str
    volume_24h_usd: str | None
    volume_30d_usd: str | None
    fills_30d: int
    market_volume_24h_usd: str | None  # the venue's whole rolling-24h perp volume
    share_24h: str | None  # volume_24h_usd / market_volume_24h_usd
    ownership: str | None


class OwnTotalsDoc(TypedDict):
    volume_24h_usd: str | None
    volume_30d_usd: str | None


class OwnCurrentDoc(TypedDict):
    """`/api/me/volume/current` (webapp.views.account_api.OwnCurrent)."""

    as_of: str | None
    windows: dict[str, str]
    exchanges: list[OwnVenueDoc]
    total: OwnTotalsDoc
    keys: list[KeyDoc]


class OwnPeriodDoc(TypedDict):
    """One venue in one period (webapp.views.account_api.OwnPeriod)."""

    period_start: str
    exchange: str
    volume_usd: str | None
    fills: int
    market_volume_usd: str | None
    share: str | None


class OwnHistoryDoc(TypedDict):
    """`/api/me/volume/historical` (webapp.views.account_api.OwnHistory)."""

    start: str
    end: str
    interval: str
    rows: list[OwnPeriodDoc]


class PublicEmbedDoc(TypedDict):
    """`/public/account/{token}` (webapp.views.account.PublicEmbed)."""

    as_of: str | None
    data_mode: str
    volume_24h_usd: NotRequired[str | None]  # only when the user chose to show it
    volume_30d_usd: NotRequired[str | None]
    unproven: NotRequired[str]


def cents(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(CENTS), "f")


def own_share(own: Decimal, market: Decimal | None) -> str | None:
    return None if not market else format((own / market).quantize(SHARE_PLACES), "f")


def _total_24h(rows: Iterable[fills.OwnCurrent]) -> Decimal:
    return sum((r.volume_24h_usd for r in rows), Decimal(0))


def _total_30d(rows: Iterable[fills.OwnCurrent]) -> Decimal:
    return sum((r.volume_30d_usd for r in rows), Decimal(0))


async def build_own_current(user: users.User) -> OwnCurrentDoc:
    """Every venue the user has fills or a key on, in registry order, with the totals and the keys."""
    now = accounts.state().now()
    pool = accounts.pool()
    own = {r.exchange: r for r in await fills.select_own_current(pool, user.id, now)}
    keys = await credentials.select_credentials(pool, user.id)
    market = await fills.select_market_current(pool)
    venues = sorted(set(own) | {k.exchange for k in keys}, key=list(LABELS).index)
    rows: list[OwnVenueDoc] = []
    for exchange in venues:
        figures = own.get(exchange) or fills.OwnCurrent(exchange, Decimal(0), Decimal(0), 0)
        rows.append(
            {
                "exchange": exchange,
                "label": LABELS.get(exchange, exchange),
                "volume_24h_usd": cents(figures.volume_24h_usd),
                "volume_30d_usd": cents(figures.volume_30d_usd),
                "fills_30d": figures.fills_30d,
                "market_volume_24h_usd": cents(market.get(exchange)),
                "share_24h": own_share(figures.volume_24h_usd, market.get(exchange)),
                "ownership": accounts.ownership(exchange),
            }
        )
    return {
        "as_of": iso(now),
        "windows": dict(WINDOWS),
        "exchanges": rows,
        "total": {"volume_24h_usd": cents(_total_24h(own.values())), "volume_30d_usd": cents(_total_30d(own.values()))},
        "keys": [accounts.credential_doc(k) for k in keys],
    }


async def build_own_periods(
    user: users.User, start: date, end: date, interval: fills.Interval
) -> list[OwnPeriodDoc]:
    """The user's volume per period and venue, with the venue's whole market volume of the period."""
    periods = await fills.select_own_history(accounts.pool(), user.id, start, end, interval)
    return [
        {
            "period_start": p.period_start.isoformat(),
            "exchange": p.exchange,
            "volume_usd": cents(p.volume_usd),
            "fills": p.fills,
            "market_volume_usd": cents(p.market_volume_usd),
            "share": own_share(p.volume_usd, p.market_volume_usd),
        }
        for p in periods
    ]


def own_history_document(start: date, end: date, interval: str, rows: list[OwnPeriodDoc]) -> OwnHistoryDoc:
    return {"start": start.isoformat(), "end": end.isoformat(), "interval": interval, "rows": rows}


async def build_public_embed(user: users.User) -> PublicEmbedDoc:
    """Only the figures the user chose (`embed_fields`), and a warning when a watched Hyperliquid address
    (anyone's, not proven the user's) is part of them."""
    now = accounts.state().now()
    own = await fills.select_own_current(accounts.pool(), user.id, now)
    doc: PublicEmbedDoc = {"as_of": iso(now), "data_mode": accounts.state().settings.data_mode}
    if "volume_24h" in user.embed_fields:
        doc["volume_24h_usd"] = cents(_total_24h(own))
    if "volume_30d" in user.embed_fields:
        doc["volume_30d_usd"] = cents(_total_30d(own))
    watched = sorted({r.exchange for r in own if accounts.ownership(r.exchange) and r.volume_30d_usd})
    if watched:
        doc["unproven"] = f"includes volume of a {accounts.WATCHED} ({', '.join(watched)})"
    return doc
