"""The underlying asset of a perp market, read from the venue's own instrument metadata.

Each venue names the traded coin in its market list: Bybit `baseCoin`, WOO X the `<BASE>` of
`PERP_<BASE>_<QUOTE>`, Hyperliquid `universe[].name`, Paradex `base_currency`. Low-priced coins are
listed in scaled units, and that is all this module undoes:

- a power-of-ten prefix of at least 1000: Bybit `1000PEPE`, `1000000MOG`, `10000SATS`; WOO X `1000PEPE`;
- the same as a suffix: Bybit `SHIB1000`;
- Hyperliquid's `k` prefix (`kPEPE`, `kBONK`, `kSHIB`: 1000 coins per unit).

USD figures are unaffected by the scale (price and size scale together); the multiplier is recorded so a
reader can tell `1000PEPEUSDT` counts PEPE. Linear USDT/USDC markets and inverse markets of the same coin
share the asset. A name that fits none of the rules cleanly (a 10 or 100 prefix, lowercase, punctuation,
nothing left after the scale) is returned unmapped with the reason: never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

MappingStatus = Literal["mapped", "unmapped"]

_PLAIN = re.compile(r"[A-Z0-9]+")
_SCALE_PREFIX = re.compile(r"(10+)([A-Z][A-Z0-9]*)")
_SCALE_SUFFIX = re.compile(r"([A-Z][A-Z0-9]*[A-Z])(10{3,})")
_K_PREFIX = re.compile(r"k([A-Z][A-Z0-9]*)")
MIN_SCALE = 1000


@dataclass(frozen=True, slots=True)
class AssetMapping:
    """The canonical asset of one market, or why it has none."""

    exchange: str
    symbol: str
    raw: str
    asset: str | None
    multiplier: Decimal | None
    status: MappingStatus
    reason: str

    @property
    def mapped(self) -> bool:
        return self.asset is not None


def raw_base(exchange: str, symbol: str, base: str) -> str:
    """The venue's own name of the coin. Hyperliquid's connector strips `k` from `base` (its unit is
    kept in `extra`), so its raw name is the universe name, which is the symbol."""
    return symbol if exchange == "hyperliquid" else base


def map_market(exchange: str, symbol: str, base: str) -> AssetMapping:
    raw = raw_base(exchange, symbol, base)
    asset, multiplier, reason = _parse(raw)
    return AssetMapping(
        exchange=exchange,
        symbol=symbol,
        raw=raw,
        asset=asset,
        multiplier=multiplier,
        status="mapped" if asset is not None else "unmapped",
        reason=reason,
    )


def _parse(raw: str) -> tuple[str | None, Decimal | None, str]:
    if not raw:
        return None, None, "the venue gives no base coin"
    if k := _K_PREFIX.fullmatch(raw):
        return k.group(1), Decimal(1000), f"{raw}: k prefix, 1000 {k.group(1)} per unit"
    if not _PLAIN.fullmatch(raw):
        return None, None, f"{raw!r} is not a plain ticker (A-Z, 0-9)"
    if raw.isdigit():
        return None, None, f"{raw!r} has no letters"
    if prefix := _SCALE_PREFIX.fullmatch(raw):
        return _scaled(raw, prefix.group(1), prefix.group(2))
    if suffix := _SCALE_SUFFIX.fullmatch(raw):
        return _scaled(raw, suffix.group(2), suffix.group(1))
    return raw, Decimal(1), "base coin as listed"


def _scaled(raw: str, digits: str, coin: str) -> tuple[str | None, Decimal | None, str]:
    scale = int(digits)
    if scale < MIN_SCALE:
        # 10XYZ or 100XYZ: a coin whose name starts with digits, or a 10x unit? The venue does not say.
        return None, None, f"{raw!r}: {digits} could be part of the name or a scale"
    return coin, Decimal(scale), f"{raw}: {scale} {coin} per unit"
