"""Hyperliquid own fills by wallet address: `POST /info {"type": "userFillsByTime", ...}` (no secret).

At most 2000 fills per answer, oldest first; the next page starts at the last fill's time (fills of the
same millisecond come again and are dropped by id). Only the 10,000 most recent fills are served at all.
https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint#retrieve-a-users-fills-by-time
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from exchanges.base import as_decimal
from exchanges.errors import SchemaError
from exchanges.private.base import ApiCredential, Fill, KeyCheck, PrivateClient, from_ms, ms

PAGE_CAP = 2000
ENDPOINT = "POST /info userFillsByTime"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


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
            if len(page) < PAGE_CAP:
                return sorted(fills.values(), key=lambda f: f.executed_at)
            last = from_ms(page[-1]["time"])
            if last <= cursor:
                # 2000 fills in one millisecond: cannot page further by time (never seen; be loud).
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


def _fill(row: dict[str, Any]) -> Fill | None:
    coin = str(row.get("coin", ""))
    # Spot fills are `PURR/USDC` or `@107`; builder-DEX perps (`dex:COIN`) are perps and count.
    if "/" in coin or coin.startswith("@"):
        return None
    try:
        notional = as_decimal(row["px"]) * as_decimal(row["sz"])
        # Both sides of a trade share `tid`; the order id tells a user's two addresses apart.
        return Fill(f"{row['tid']}:{row['oid']}", coin, from_ms(row["time"]), abs(notional))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise SchemaError("hyperliquid", ENDPOINT, "fills[]", f"has an unreadable fill: {exc!r}") from None
