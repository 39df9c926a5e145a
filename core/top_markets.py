"""The largest markets as `/api/volume/current?markets=N` lists them (`top_markets`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from core.current_volume import iso
from core.documents import TopMarketDoc
from core.history import money


class MarketFigure(Protocol):
    """One market's latest rolling-24h figure (storage.queries.records.CurrentMarketRow)."""

    @property
    def exchange(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def base(self) -> str | None: ...
    @property
    def quote(self) -> str | None: ...
    @property
    def volume_usd(self) -> Decimal: ...
    @property
    def estimated(self) -> bool: ...
    @property
    def as_of(self) -> datetime: ...


def top_markets_document(rows: Iterable[MarketFigure]) -> list[TopMarketDoc]:
    return [
        {
            "exchange": r.exchange, "symbol": r.symbol, "base": r.base, "quote": r.quote,
            "volume_usd": money(r.volume_usd), "estimated": r.estimated, "as_of": iso(r.as_of),
        }
        for r in rows
    ]
