"""Hyperliquid own fills by wallet address: `POST /info {"type": "userFillsByTime", ...}` (no secret).

At most 2000 fills per answer and only the 10,000 most recent fills are served at all
(https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint#retrieve-a-users-fills-by-time:
"To query larger ranges, use the last returned timestamp as the next startTime for pagination"). The
order within an answer is undocumented, so the next page starts at the largest time seen; fills of
that millisecond come again and are dropped by `tid` (with `oid`: a self-trade is two fills of one tid).

What counts: main-DEX perp fills by `dir` (values seen in real answers: Open/Close Long/Short, the
position flips `Long > Short` / `Short > Long`, `Liquidated Cross|Isolated Long|Short`,
`Auto-Deleveraging`). Not counted: `Settlement` (positions closed when a perp is delisted), spot fills
(`PURR/USDC`, `@107`; dir `Buy`, `Sell`, `Spot Dust Conversion`) and builder-deployed (HIP-3) perp DEXs
(`flx:CRCL`: `dex:COIN`, the dex named by perpDexs,
https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals#retrieve-all-perpetual-dexs),
which perpvol's market figures leave out too.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from exchanges.base import as_decimal
from exchanges.errors import SchemaError
from exchanges.private.base import ApiCredential, Fill, KeyCheck, PrivateClient, from_ms, ms

PAGE_CAP = 2000
# A time-range answer may also stop at 500 ("Responses that take a time range will only return 500
# elements", info-endpoint intro): paging continues after any answer that long, so whichever cap the
# venue applies, the next request (from the largest time seen) is what says there is no more.
SMALLEST_CAP = 500
ENDPOINT = "POST /info userFillsByTime"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_COUNTED_DIRS = re.compile(
    r"^(Open|Close) (Long|Short)$|^Long > Short$|^Short > Long$|^Liquidated (Cross|Isolated) (Long|Short)$"
    r"|^Auto-Deleveraging$"
)
NOT_COUNTED_DIRS = frozenset({"Settlement", "Buy", "Sell", "Spot Dust Conversion"})


class HyperliquidPrivate(PrivateClient):
    name = "hyperliquid"
    window = timedelta(days=30)
    lookback = timedelta(days=730)
    how_to_read_only = "Paste the wallet address (0x…): fills are public by address, no key is needed."

    @staticmethod
    def credential_problem(credential: ApiCredential) -> str | None:
        if not _ADDRESS.match(credential.key):
            return "a Hyperliquid account is its wallet address: 0x followed by 40 hex digits"
        if credential.secret:
            return "Hyperliquid needs only the address; never paste a private key here"
        return None

    async def check_key(self) -> KeyCheck:
        # Asking for the last day proves the venue knows the address format; fills are read-only data.
        end = self.clock()
        await self._page(end - timedelta(days=1), end)
        return KeyCheck(permissions=("read fills by address",), can_trade=False, can_withdraw=False)

    async def fetch_fills(self, stream: str, start: datetime, end: datetime) -> list[Fill]:
        fills: dict[str, Fill] = {}
        cursor = start
        while True:
            page = await self._page(cursor, end)
            for row in page:
                fill = _fill(row)
                if fill is not None and start <= fill.executed_at < end:
                    fills[fill.fill_id] = fill
            if len(page) < SMALLEST_CAP:
                return sorted(fills.values(), key=lambda f: f.executed_at)
            last = from_ms(max(int(row["time"]) for row in page))
            if last <= cursor:
                # A full answer within one millisecond: cannot page further by time (never seen; be loud).
                raise SchemaError("hyperliquid", ENDPOINT, "time", "does not advance between pages")
            cursor = last

    async def _page(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        body = {
            "type": "userFillsByTime",
            "user": self.credential.key.lower(),
            "startTime": ms(start),
            "endTime": ms(end) - 1,
            "aggregateByTime": False,
        }
        rows = await self.client.post("/info", body)
        if not isinstance(rows, list):
            raise SchemaError("hyperliquid", ENDPOINT, "(body)", "is not a list of fills")
        return rows


def is_main_perp(coin: str) -> bool:
    """Spot is `PURR/USDC` or `@107`; a builder-DEX perp is `dex:COIN`; a main-DEX perp is its bare name."""
    return bool(coin) and not ("/" in coin or ":" in coin or coin.startswith("@"))


def _fill(row: dict[str, Any]) -> Fill | None:
    coin, direction = str(row.get("coin", "")), str(row.get("dir", ""))
    if not is_main_perp(coin) or direction in NOT_COUNTED_DIRS:
        return None
    if not _COUNTED_DIRS.match(direction):
        # A direction Hyperliquid adds later is neither counted nor dropped in silence: the sync says so.
        raise SchemaError("hyperliquid", ENDPOINT, "fills[].dir", f"has an unknown value {direction[:40]!r}")
    try:
        notional = as_decimal(row["px"]) * as_decimal(row["sz"])
        # Both sides of a trade share `tid`; the order id tells a user's two addresses apart.
        return Fill(f"{row['tid']}:{row['oid']}", coin, from_ms(row["time"]), abs(notional))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise SchemaError("hyperliquid", ENDPOINT, "fills[]", f"has an unreadable fill: {exc!r}") from None
