"""Paradex (REST API v1, https://docs.paradex.trade/api) perpetual volume.

Every Paradex perp is quoted in USD and settled in USDC, so the venue's USD figures need no conversion.
- Perps are the `/v1/markets` rows with `asset_kind` "PERP"; PERP_OPTION, OPTION, FUTURE and SPOT rows
  are other products. There is no status or delisted field: a delisted market simply drops out of
  `/v1/markets` (removals only show in `/v1/markets/history`, last 7 days), so this connector can list
  only what the venue lists now. The storage layer keeps the registry of every market ever seen and
  passes delisted ones back to `fetch_daily`.
- Current: `/v1/markets/summary?market=ALL` answers for every product (options included) with
  `volume_24h`, documented as "24 hour volume in USD" (a rolling window), and `created_at` (ms).
- History: there is no daily candle and no documented daily volume. Hourly klines are summed into UTC
  days; see `fetch_daily` for why the figures are marked estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from core.venues import VENUES
from exchanges.base import (
    Connector,
    CurrentSnapshot,
    DailyVolume,
    Exchange,
    Market,
    MarketStatus,
    MarketVolume,
    Source,
    VenueInfo,
    as_decimal,
    ms_from_date,
    utc_from_ms,
)
from exchanges.errors import (
    PartialAnswerError,
    SchemaError,
    ThrottledError,
    TransientError,
    VenueAPIError,
)
from exchanges.http import VenueClient, parse_retry_after

# Requests per second and burst against the public API: core/venues.py says why.
RATE_LIMIT = VENUES["paradex"].public_limit

MARKETS = "/v1/markets"
SUMMARY = "/v1/markets/summary"
KLINES = "/v1/markets/klines"

PERP = "PERP"
HOUR_MS = 3_600_000
# `resolution` is in minutes, one of 1, 3, 5, 15, 30, 60 (OpenAPI v1.132.1 markets-klines): there is
# no daily candle. The docs state no cap on candles per call; public clients page hourly klines in
# 30-day windows (720 candles) and rely on the range being honoured. Keep windows at 30 days.
RESOLUTION = "60"
WINDOW_HOURS = 24 * 30

# Error bodies are `{"error": CODE, "message": ...}` (OpenAPI responses.ApiError). These codes are
# the server's own trouble, worth another try.
TRANSIENT_CODES = frozenset({"INTERNAL_ERROR", "SERVICE_UNAVAILABLE"})

CURRENT_SOURCE = f"GET {SUMMARY}?market=ALL: volume_24h (USD, rolling 24h), PERP rows only"
HISTORY_SOURCE = (
    f"GET {KLINES} resolution=60: candle[5] volume summed over the 24 hourly candles of each UTC day "
    "(unit undocumented; recorded values match USD notional, so marked estimated)"
)


def check_body(body: Any, response: httpx.Response) -> None:
    """Map `{"error": CODE, "message": ...}` bodies to typed errors.

    HTTP 429 never reaches here (VenueClient raises ThrottledError first); its body is not documented,
    only its headers (`Retry-After`, `X-RateLimit-*`, release notes v1.118.5). A code that names a
    rate limit is still treated as a throttle, whatever the status.
    """
    if not isinstance(body, Mapping) or "error" not in body:
        return
    code = str(body.get("error"))
    message = str(body.get("message", ""))
    endpoint = f"{response.request.method} {response.request.url.path}"
    if "RATE_LIMIT" in code.upper():
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ThrottledError("paradex", endpoint, f"error {code}: {message}", retry_after)
    if code in TRANSIENT_CODES:
        raise TransientError("paradex", endpoint, f"error {code}: {message}")
    raise VenueAPIError("paradex", endpoint, code, message)


class ParadexConnector(Connector):
    name: ClassVar[Exchange] = "paradex"
    backfill_chunk_days = 30
    info: ClassVar[VenueInfo] = VenueInfo(
        name="paradex",
        current_source=CURRENT_SOURCE,
        history_source=HISTORY_SOURCE,
        current_from=Source(f"GET {SUMMARY}?market=ALL", ("volume_24h",)),
        history_from=Source(f"GET {KLINES}?resolution=60", ("volume",)),
        notes=(
            "Delisted markets vanish from GET /v1/markets; the stored registry keeps them.",
            "Days are UTC; a day is the sum of its 24 hourly klines.",
        ),
    )

    def __init__(self, client: VenueClient, *, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(client)
        self._now = now or (lambda: datetime.now(UTC))

    # --- markets --------------------------------------------------------------------------------

    async def list_markets(self) -> list[Market]:
        rows = await self._results(MARKETS, {})
        now_ms = int(self._now().timestamp() * 1000)
        return [self._market(row, now_ms) for row in rows if _text(row, "asset_kind", MARKETS) == PERP]

    def _market(self, row: Any, now_ms: int) -> Market:
        open_at = _ms(row, "open_at", MARKETS)
        # No status field: a perp whose `open_at` lies ahead is announced but not trading yet.
        status: MarketStatus = "pending" if open_at > now_ms else "trading"
        return Market(
            exchange="paradex",
            symbol=_text(row, "symbol", MARKETS),
            kind="linear",
            status=status,
            base=_text(row, "base_currency", MARKETS),
            quote=_text(row, "quote_currency", MARKETS),
            extra=(
                ("settlement_currency", str(row.get("settlement_currency", ""))),
                ("open_at", str(open_at)),
            ),
        )

    # --- current --------------------------------------------------------------------------------

    async def fetch_current(self) -> CurrentSnapshot:
        perps = {market.symbol: market for market in await self.list_markets()}
        rows = await self._results(SUMMARY, {"market": "ALL"})
        volumes: dict[str, Decimal] = {}
        newest_ms = 0
        for row in rows:
            symbol = _text(row, "symbol", SUMMARY)
            if symbol not in perps:
                continue  # options and other products share this endpoint
            volumes[symbol] = _number(row, "volume_24h", SUMMARY)
            newest_ms = max(newest_ms, _ms(row, "created_at", SUMMARY))
        # The listing above is a moment old: every perp it lists must have a summary row.
        trading = {s for s, m in perps.items() if m.status != "pending"}
        missing = trading - set(volumes)
        if missing:
            raise PartialAnswerError("paradex", f"GET {SUMMARY}", missing, len(trading))
        for symbol in perps.keys() - volumes.keys():
            volumes[symbol] = Decimal(0)
        return CurrentSnapshot(
            exchange="paradex",
            # The venue's own time: the newest summary row's `created_at`.
            as_of=utc_from_ms(newest_ms) if newest_ms else self._now(),
            source=CURRENT_SOURCE,
            markets=tuple(MarketVolume(s, v) for s, v in sorted(volumes.items())),
        )

    # --- history --------------------------------------------------------------------------------

    async def fetch_daily(self, market: Market, start: date, end: date) -> list[DailyVolume]:
        """Sum hourly klines into UTC days.

        Why klines and not `total_volume` differences of `/v1/markets/summary?start&end`: that
        endpoint's history depth, row spacing and caps are undocumented (DefiLlama's adapter used it,
        then moved away), while klines take an explicit range. The candle volume's unit is not
        documented either; recorded candles (ccxt test fixture: 4561 on a 1-minute BTC candle at
        60823.3) only make sense as USD notional. Until Paradex documents it, each day is marked
        `estimated=True`.
        """
        now = self._now()
        end = min(end, now.date())
        if end < start:
            return []
        lo_ms, hi_ms = ms_from_date(start), ms_from_date(end + timedelta(days=1))
        candles: dict[int, Decimal] = {}
        for window_lo in range(lo_ms, hi_ms, WINDOW_HOURS * HOUR_MS):
            window_hi = min(window_lo + WINDOW_HOURS * HOUR_MS, hi_ms)
            candles.update(await self._klines(market.symbol, window_lo, window_hi))
        return self._days(market.symbol, candles, lo_ms, hi_ms, now.date())

    async def _klines(self, symbol: str, lo_ms: int, hi_ms: int) -> dict[int, Decimal]:
        params = {
            "symbol": symbol,
            "resolution": RESOLUTION,
            "start_at": lo_ms,
            "end_at": hi_ms - 1,
        }
        candles: dict[int, Decimal] = {}
        for row in await self._results(KLINES, params):
            if not isinstance(row, list) or len(row) < 6:
                raise SchemaError(
                    "paradex", f"GET {KLINES}", "results[]", "is not [start, o, h, l, c, volume]"
                )
            candles[_ms_value(row[0], "results[][0]", KLINES)] = _number_value(row[5], "results[][5]", KLINES)
        return candles

    def _days(
        self, symbol: str, candles: Mapping[int, Decimal], lo_ms: int, hi_ms: int, today: date
    ) -> list[DailyVolume]:
        totals: dict[date, Decimal] = {}
        for start_ms, volume in candles.items():
            if lo_ms <= start_ms < hi_ms:
                day = utc_from_ms(start_ms).date()
                totals[day] = totals.get(day, Decimal(0)) + volume
        return [
            DailyVolume(
                exchange="paradex",
                symbol=symbol,
                day=day,
                volume_usd=total,
                source=HISTORY_SOURCE,
                estimated=True,
                complete=day < today,
            )
            for day, total in sorted(totals.items())
        ]

    # --- plumbing -------------------------------------------------------------------------------

    async def _results(self, path: str, params: dict[str, Any]) -> list[Any]:
        body = await self.client.get(path, params, check=check_body)
        results = body.get("results") if isinstance(body, Mapping) else None
        if not isinstance(results, list):
            raise SchemaError("paradex", f"GET {path}", "results", "is missing or not a list")
        return results


def _field(row: Any, name: str, path: str) -> Any:
    if not isinstance(row, Mapping) or row.get(name) is None:
        raise SchemaError("paradex", f"GET {path}", name, "is missing")
    return row[name]


def _text(row: Any, name: str, path: str) -> str:
    value = _field(row, name, path)
    if not isinstance(value, str) or not value:
        raise SchemaError("paradex", f"GET {path}", name, f"is not a non-empty string: {value!r}")
    return value


def _number(row: Any, name: str, path: str) -> Decimal:
    return _number_value(_field(row, name, path), name, path)


def _number_value(value: Any, name: str, path: str) -> Decimal:
    try:
        number = as_decimal(value)
    except (TypeError, ArithmeticError):
        raise SchemaError("paradex", f"GET {path}", name, f"is not a number: {value!r}") from None
    if not number.is_finite():
        raise SchemaError("paradex", f"GET {path}", name, f"is not a finite number: {value!r}")
    return number


def _ms(row: Any, name: str, path: str) -> int:
    return _ms_value(_field(row, name, path), name, path)


def _ms_value(value: Any, name: str, path: str) -> int:
    # Timestamps come as JSON integers, and as strings in some rows (ccxt recorded PERP_OPTION markets).
    number = _number_value(value, name, path)
    if number != number.to_integral_value():
        raise SchemaError("paradex", f"GET {path}", name, f"is not whole milliseconds: {value!r}")
    return int(number)
