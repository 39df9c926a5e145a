"""Hyperliquid: every public read is `POST /info` with a JSON body naming its `type`.

Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint
Only the main perp DEX is counted (no `dex` field): HIP-3 builder-deployed DEXs (coins like `xyz:TSLA`)
are separate venues with their own collateral and are left out on purpose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from core.venues import VENUES
from exchanges.base import (
    Connector,
    CurrentSnapshot,
    DailyVolume,
    Market,
    MarketVolume,
    Source,
    VenueInfo,
    as_decimal,
    ms_from_date,
    utc_from_ms,
)
from exchanges.errors import ExchangeError, SchemaError, VenueAPIError
from exchanges.http import VenueClient

INFO_PATH = "/info"

# Requests per second and burst against the public API: core/venues.py says why.
RATE_LIMIT = VENUES["hyperliquid"].public_limit
INFO_WEIGHT = 20  # metaAndAssetCtxs and candleSnapshot are "all other documented info requests"
CANDLE_ITEMS_PER_WEIGHT = 60  # candleSnapshot: +1 weight per 60 items returned (same docs page)

DAY_MS = 86_400_000
# The venue serves at most 5000 candles per response, and only the 5000 most recent (13 years of 1d).
# Each request costs 20 weight plus 1 per 60 candles, so fewer, longer windows cost less: 1000 days
# (20 + 17) page a 2-year backfill in one request (20 + 13) instead of two (20 + 9, 20 + 4).
CHUNK_DAYS = 1000
HOUR_MS = 3_600_000
# Hourly candles narrow the estimate where the venue still serves them: "Only the most recent 5000 candles
# are available" (HL docs info-endpoint#candle-snapshot; Alchemy's HyperCore mirror: "Returns up to 5,000
# OHLCV candles"), i.e. about 208 days of 1h candles. Request {"type":"candleSnapshot","req":{"coin",
# "interval":"1h","startTime","endTime"}} (ms), answer [{t,T,s,i,o,c,h,l,v,n}] as in the python SDK's
# recorded kPEPE 1h cassette. All of them fit one answer: one request (20 + 84 weight) instead of three
# 100-day ones (20 + 40, 20 + 40, 20 + 4), as every request pays the 20 again.
HOURLY_CANDLES = 5000
CHUNK_HOURS = HOURLY_CANDLES + 24  # the served hours, from the first whole day through the end of today
CENT = Decimal("0.01")
FOUR = Decimal(4)

CURRENT_SOURCE = "POST /info metaAndAssetCtxs: assetCtxs[i].dayNtlVlm (rolling 24h, USD notional)"
HISTORY_SOURCE = (
    "POST /info candleSnapshot interval=1d: v (base units) × typical price (o+h+l+c)/4, "
    "rounded to cents; estimated"
)
HOURLY_SOURCE = (
    "POST /info candleSnapshot interval=1h: Σ v × typical price (o+h+l+c)/4 per hour over the day's 24 hours, "
    "rounded to cents; estimated (narrower than 1d)"
)


class HyperliquidConnector(Connector):
    name = "hyperliquid"
    backfill_chunk_days = CHUNK_DAYS
    info = VenueInfo(
        name="hyperliquid",
        current_source=CURRENT_SOURCE,
        history_source=HISTORY_SOURCE,
        current_from=Source('POST /info {"type":"metaAndAssetCtxs"}', ("dayNtlVlm",)),
        history_from=Source('POST /info {"type":"candleSnapshot"}', ("v",)),
        notes=(
            "Main perp DEX only: HIP-3 builder-deployed DEXs (coins named dex:COIN) are not counted.",
            "Daily history is estimated: candles give base volume only, so USD = volume × (o+h+l+c)/4.",
            "Days within the venue's last 5000 hourly candles sum that estimate per hour (narrower).",
            "Rolling 24h figures are taken at the time of the response's HTTP Date header (else now).",
            "Names with a k prefix (kPEPE) trade in units of 1000 coins; USD figures are unaffected.",
        ),
    )

    def __init__(self, client: VenueClient, *, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(client)
        self._now = now or (lambda: datetime.now(UTC))

    async def list_markets(self) -> list[Market]:
        universe, _, _ = await self._meta_and_asset_ctxs()
        return [_market(index, entry) for index, entry in enumerate(universe)]

    async def fetch_current(self) -> CurrentSnapshot:
        universe, contexts, as_of = await self._meta_and_asset_ctxs()
        volumes: list[MarketVolume] = []
        # universe[i] and contexts[i] describe the same asset: read them as pairs, never filter one alone.
        for entry, ctx in zip(universe, contexts, strict=True):
            volume = _number(ctx, "dayNtlVlm", "metaAndAssetCtxs")
            if entry.get("isDelisted") is True and volume == 0:
                continue
            volumes.append(MarketVolume(symbol=_name(entry), volume_usd=volume))
        await self.check_complete("metaAndAssetCtxs", {_name(entry) for entry in universe})
        return CurrentSnapshot(exchange=self.name, as_of=as_of, source=CURRENT_SOURCE, markets=tuple(volumes))

    async def confirm_listed(self, symbols: set[str]) -> set[str]:
        # Delisted assets stay in the universe (isDelisted) since asset ids are positions in it: a name
        # that vanishes from it was cut from the answer, not delisted. No second request needed.
        return symbols

    async def fetch_daily(self, market: Market, start: date, end: date) -> list[DailyVolume]:
        by_day: dict[date, DailyVolume] = {}
        cursor, last_ms = ms_from_date(start), ms_from_date(end) + DAY_MS - 1
        venue_now = self._now()
        while cursor <= last_ms:
            window_end = min(cursor + CHUNK_DAYS * DAY_MS - 1, last_ms)
            candles, venue_now = await self._candles(market.symbol, cursor, window_end)
            for candle in candles:
                row = _daily(market.symbol, candle, venue_now)
                if start <= row.day <= end:
                    by_day[row.day] = row
            cursor = window_end + 1
        await self._narrow_with_hours(market.symbol, by_day, venue_now)
        return [by_day[day] for day in sorted(by_day)]

    async def _narrow_with_hours(self, coin: str, by_day: dict[date, DailyVolume], venue_now: datetime) -> None:
        """Replace each 1d estimate whose 24 hourly candles the venue still serves by their hourly sum."""
        if not by_day:
            return
        # The window is counted from the venue's own clock (Date header of the 1d answer).
        now_ms = int(venue_now.timestamp() * 1000)
        oldest_hour = now_ms // HOUR_MS * HOUR_MS - (HOURLY_CANDLES - 1) * HOUR_MS
        days = sorted(day for day in by_day if ms_from_date(day) >= oldest_hour)
        if not days:
            return
        hours: dict[date, dict[int, Decimal]] = {}
        cursor, last_ms = ms_from_date(days[0]), ms_from_date(days[-1]) + DAY_MS - 1
        while cursor <= last_ms:
            window_end = min(cursor + CHUNK_HOURS * HOUR_MS - 1, last_ms)
            candles, _ = await self._candles(coin, cursor, window_end, interval="1h")
            for candle in candles:
                start_ms, usd = _hour_usd(candle)
                hours.setdefault(utc_from_ms(start_ms).date(), {})[start_ms] = usd
            cursor = window_end + 1
        for day in days:
            per_hour = hours.get(day, {})
            # A missing hour may be a quiet hour or a gap in what is served: keep the 1d figure then.
            if len(per_hour) < 24:
                continue
            usd = sum(per_hour.values(), Decimal(0)).quantize(CENT, ROUND_HALF_EVEN)
            by_day[day] = replace(by_day[day], volume_usd=usd, source=HOURLY_SOURCE)

    async def _meta_and_asset_ctxs(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], datetime]:
        clock = _ResponseClock(self._now)
        body = await self._info({"type": "metaAndAssetCtxs"}, INFO_WEIGHT, clock)
        endpoint = "metaAndAssetCtxs"
        if not isinstance(body, list) or len(body) != 2:
            raise SchemaError(self.name, endpoint, "[meta, assetCtxs]", "is not a 2-element array")
        meta, contexts = body
        universe = meta.get("universe") if isinstance(meta, dict) else None
        if not isinstance(universe, list) or not all(isinstance(u, dict) for u in universe):
            raise SchemaError(self.name, endpoint, "universe", "is missing or not a list of objects")
        if not isinstance(contexts, list) or not all(isinstance(c, dict) for c in contexts):
            raise SchemaError(self.name, endpoint, "assetCtxs", "is missing or not a list of objects")
        if len(contexts) != len(universe):
            problem = f"has {len(contexts)} entries for {len(universe)} universe entries"
            raise SchemaError(self.name, endpoint, "assetCtxs", problem)
        return universe, contexts, clock.now()

    async def _candles(
        self, coin: str, start_ms: int, end_ms: int, *, interval: str = "1d"
    ) -> tuple[list[Any], datetime]:
        clock = _ResponseClock(self._now)
        request = {
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
        }
        items = (end_ms - start_ms) // (HOUR_MS if interval == "1h" else DAY_MS) + 1
        weight = INFO_WEIGHT + math.ceil(items / CANDLE_ITEMS_PER_WEIGHT)
        body = await self._info(request, weight, clock)
        if not isinstance(body, list):
            raise SchemaError(self.name, "candleSnapshot", "[candles]", "is not an array")
        return body, clock.now()

    async def _info(self, body: dict[str, Any], weight: int, clock: _ResponseClock) -> Any:
        try:
            return await self.client.post(INFO_PATH, body, weight=weight, check=clock.check)
        except ExchangeError as exc:
            raise _as_api_error(exc) from None


class _ResponseClock:
    """The venue's own time: the HTTP Date header of the response (metaAndAssetCtxs has no timestamp)."""

    def __init__(self, fallback: Callable[[], datetime]) -> None:
        self._fallback = fallback
        self._date: datetime | None = None

    def check(self, _body: Any, response: httpx.Response) -> None:
        header = response.headers.get("date")
        try:
            self._date = parsedate_to_datetime(header).astimezone(UTC) if header else None
        except (TypeError, ValueError):
            self._date = None

    def now(self) -> datetime:
        return self._date or self._fallback()


_HTTP_STATUS = re.compile(r"^HTTP (\d{3})\b")


def _as_api_error(exc: ExchangeError) -> ExchangeError:
    """A malformed request answers HTTP 422 in plain text ("Failed to deserialize the JSON body into the
    target type"), which the client reports as a bare ExchangeError: name it as the venue's error."""
    match = _HTTP_STATUS.match(exc.message)
    if type(exc) is not ExchangeError or match is None:
        return exc
    return VenueAPIError(exc.venue, exc.endpoint, match.group(1), exc.message.split(": ", 1)[-1])


def _market(index: int, entry: dict[str, Any]) -> Market:
    name = _name(entry)
    # kPEPE, kBONK...: the asset trades in units of 1000 coins (so does its price: USD is unaffected).
    thousand = len(name) > 1 and name[0] == "k" and name[1].isupper()
    return Market(
        exchange="hyperliquid",
        symbol=name,
        kind="linear",
        status="delisted" if entry.get("isDelisted") is True else "trading",
        base=name[1:] if thousand else name,
        quote="USDC",
        extra=(("asset_id", str(index)), ("unit", "1000" if thousand else "1")),
    )


def _name(entry: dict[str, Any]) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError("hyperliquid", "metaAndAssetCtxs", "name", "is missing or not a string")
    return name


def _number(row: dict[str, Any], field: str, endpoint: str) -> Decimal:
    if field not in row:
        raise SchemaError("hyperliquid", endpoint, field, "is missing")
    try:
        value = as_decimal(row[field])
    except (TypeError, ArithmeticError):
        raise SchemaError("hyperliquid", endpoint, field, f"is not a number: {row[field]!r}") from None
    if not value.is_finite():
        raise SchemaError("hyperliquid", endpoint, field, f"is not a number: {row[field]!r}")
    return value


def _hour_usd(candle: Any) -> tuple[int, Decimal]:
    """One hourly candle's start (ms) and unrounded USD estimate: the day is rounded once, as a whole."""
    if not isinstance(candle, dict):
        raise SchemaError("hyperliquid", "candleSnapshot", "candle", "is not an object")
    start_ms = int(_number(candle, "t", "candleSnapshot"))
    if start_ms % HOUR_MS:
        raise SchemaError("hyperliquid", "candleSnapshot", "t", f"is not on the hour: {start_ms}")
    if candle.get("i", "1h") != "1h":
        raise SchemaError("hyperliquid", "candleSnapshot", "i", f"is not 1h: {candle.get('i')!r}")
    prices = [_number(candle, field, "candleSnapshot") for field in ("o", "h", "l", "c")]
    return start_ms, _number(candle, "v", "candleSnapshot") * sum(prices, Decimal(0)) / FOUR


def _daily(coin: str, candle: Any, venue_now: datetime) -> DailyVolume:
    if not isinstance(candle, dict):
        raise SchemaError("hyperliquid", "candleSnapshot", "candle", "is not an object")
    start_ms = int(_number(candle, "t", "candleSnapshot"))
    if start_ms % DAY_MS:
        raise SchemaError("hyperliquid", "candleSnapshot", "t", f"is not 00:00 UTC: {start_ms}")
    prices = [_number(candle, field, "candleSnapshot") for field in ("o", "h", "l", "c")]
    base_volume = _number(candle, "v", "candleSnapshot")
    # Candles carry base volume only; the typical price stands in for the day's unknown VWAP.
    usd = (base_volume * sum(prices, Decimal(0)) / FOUR).quantize(CENT, ROUND_HALF_EVEN)
    opened = utc_from_ms(start_ms)
    return DailyVolume(
        exchange="hyperliquid",
        symbol=coin,
        day=opened.date(),
        volume_usd=usd,
        source=HISTORY_SOURCE,
        estimated=True,
        complete=opened + timedelta(days=1) <= venue_now,
    )
