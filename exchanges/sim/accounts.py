"""Simulated user accounts behind the venues' private endpoints: keys, permissions and fills.

Every simulated venue shares one registry per model (`accounts_of(model)`). Fills are deterministic from
(seed, venue, key); `SimAccount.expected_usd()` is the exact USD volume a correct client must find.
Each model starts with one read-only demo account per venue (see `DEMO`), so `perpvol up --simulate`
can be tried by pasting those values.

Every type the counting rule names is mixed in (README "Where every number comes from"): liquidations,
block trades, auto-deleveraging and perp spread legs must be counted; funding, settlements and
deliveries, position transfers, dated futures, spot/options and builder-DEX perps must be left out. Each
venue's module turns a fill's `kind` into that venue's own row (Bybit `execType`, Paradex `fill_type`,
Hyperliquid `dir` and coin, WOO X symbol); `VENUE_KINDS` lists which kinds a venue serves and how often.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from exchanges.sim.model import SimModel

COUNTED = "Trade"
# The user's own perp executions: what the rule counts.
COUNTED_KINDS = frozenset({"Trade", "Liquidation", "BlockTrade", "Adl", "SpreadLeg"})
# Funding, Settlement (expiry or delisting), Transfer (a position moved), Dated (a dated future), Spot (not
# a perp: spot, options) and BuilderDex (a Hyperliquid HIP-3 perp) are served but never volume.
KINDS = ("Trade", "Liquidation", "BlockTrade", "Adl", "SpreadLeg", "Funding", "Settlement", "Transfer", "Dated",
         "Spot", "BuilderDex")  # fmt: skip
# Share of a venue's generated fills per kind (the rest are plain trades): only what the venue has.
VENUE_KINDS: dict[str, tuple[tuple[str, float], ...]] = {
    "bybit": (("Liquidation", 0.02), ("BlockTrade", 0.01), ("Adl", 0.01), ("SpreadLeg", 0.02), ("Funding", 0.08),
              ("Settlement", 0.01), ("Transfer", 0.01), ("Dated", 0.05)),
    "woox": (("Liquidation", 0.02), ("Spot", 0.10)),
    "hyperliquid": (("Liquidation", 0.02), ("Adl", 0.01), ("Settlement", 0.01), ("Spot", 0.08),
                    ("BuilderDex", 0.04)),
    "paradex": (("Liquidation", 0.02), ("BlockTrade", 0.01), ("Settlement", 0.01), ("Transfer", 0.01),
                ("Spot", 0.08)),
}  # fmt: skip
BASES = (("BTC", Decimal(60000)), ("ETH", Decimal(3000)), ("SOL", Decimal(150)), ("DOGE", Decimal("0.2")))

DEMO = {
    "bybit": ("SIMBYBITREADONLY0001", "sim-bybit-secret-0001"),
    "woox": ("SimWooxReadOnlyKey0001==", "SIMWOOXSECRET0001"),
    "hyperliquid": ("0x" + "5e" * 20, ""),
    "paradex": ("", ""),  # a read-only token made at start-up: `accounts_of(model).demo_paradex_token`
}


@dataclass(frozen=True, slots=True)
class SimFill:
    fill_id: str
    order_id: str
    base: str
    category: str  # "linear" | "inverse" (inverse only on Bybit: qty in USD contracts)
    at: datetime  # whole milliseconds
    price: Decimal
    qty: Decimal
    side: str  # "Buy" | "Sell"
    kind: str = COUNTED
    # Bybit: made before the account's upgrade to a Unified Trading Account, so served only by
    # /v5/pre-upgrade/execution/list (and never by /v5/execution/list).
    pre_upgrade: bool = False

    @property
    def counts(self) -> bool:
        return self.kind in COUNTED_KINDS

    @property
    def notional(self) -> Decimal:
        return self.qty if self.category == "inverse" else self.price * self.qty

    @property
    def ms(self) -> int:
        return int(self.at.timestamp() * 1000)


@dataclass(slots=True)
class SimAccount:
    venue: str
    key: str
    secret: str = ""
    can_trade: bool = False
    can_withdraw: bool = False
    expires_at: datetime | None = None
    revoked: bool = False
    fills: list[SimFill] = field(default_factory=list)
    account_id: str = "0"
    # Hyperliquid: the order of a userFillsByTime answer is undocumented; the sim serves either.
    newest_first: bool = False
    # WOO X: other keys of the same account, listed before this one by /v3/account/credentials.
    other_keys: int = 0

    def __repr__(self) -> str:
        return f"SimAccount({self.venue}, {len(self.fills)} fills)"

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def sorted_fills(self) -> list[SimFill]:
        return sorted(self.fills, key=lambda f: (f.at, f.fill_id))

    def expected_usd(self, start: datetime | None = None, end: datetime | None = None) -> Decimal:
        """USD volume of the perp trades in [start, end): what a sync must store, to the cent."""
        return sum(
            (
                f.notional
                for f in self.fills
                if f.counts and (start is None or f.at >= start) and (end is None or f.at < end)
            ),
            Decimal(0),
        )


class SimAccounts:
    def __init__(self, model: SimModel) -> None:
        self.model = model
        self._accounts: dict[tuple[str, str], SimAccount] = {}
        now = model.now()
        self.demo_paradex_token = token_for("0x5e", now + timedelta(days=365))
        for venue, (key, secret) in DEMO.items():
            key = key or self.demo_paradex_token
            # Hyperliquid's demo trades enough for 2000-fill pages, served newest first.
            per_day = 90 if venue == "hyperliquid" else 20
            demo_fills = generate_fills(model.seed, venue, key, now - timedelta(days=45), now, per_day)
            if venue == "bybit":
                # The demo account was upgraded to UTA 300 days ago: older trades are pre-upgrade.
                upgraded = now - timedelta(days=300)
                demo_fills += pre_upgrade_fills(model.seed, key, upgraded - timedelta(days=100), upgraded, 3)
            demo = self.add(venue, key, secret, fills=demo_fills)
            # WOO X's demo key sits on the second page of the account's keys.
            demo.newest_first, demo.other_keys = venue == "hyperliquid", 30 if venue == "woox" else 0

    def add(
        self,
        venue: str,
        key: str,
        secret: str = "",
        *,
        fills: list[SimFill] | None = None,
        can_trade: bool = False,
        can_withdraw: bool = False,
        expires_at: datetime | None = None,
    ) -> SimAccount:
        account = SimAccount(venue, key, secret, can_trade, can_withdraw, expires_at, fills=list(fills or []))
        account.account_id = str(int(_unit(venue, key, "uid") * 10**8))
        self._accounts[(venue, key.lower() if venue == "hyperliquid" else key)] = account
        return account

    def get(self, venue: str, key: str) -> SimAccount | None:
        return self._accounts.get((venue, key.lower() if venue == "hyperliquid" else key))


_REGISTRIES: weakref.WeakKeyDictionary[SimModel, SimAccounts] = weakref.WeakKeyDictionary()


def accounts_of(model: SimModel) -> SimAccounts:
    if model not in _REGISTRIES:
        _REGISTRIES[model] = SimAccounts(model)
    return _REGISTRIES[model]


def _unit(*parts: object) -> float:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def generate_fills(seed: int, venue: str, key: str, start: datetime, end: datetime, per_day: float) -> list[SimFill]:
    """`per_day` fills a day on average in [start, end), a few sharing a millisecond, plus
    non-volume rows (funding, dated futures, spot) that a client must skip."""
    span_ms = int((end - start).total_seconds() * 1000)
    count = int(per_day * (end - start).total_seconds() / 86400)
    fills: list[SimFill] = []
    for i in range(count):
        u = _unit(seed, venue, key, i)
        # Every 40th fill shares the previous one's millisecond (pages must not split or drop them).
        at = fills[-1].at if i % 40 == 0 and fills else start + timedelta(milliseconds=int(span_ms * u))
        base, price = BASES[int(_unit(seed, venue, key, i, "b") * len(BASES))]
        price = (price * Decimal(str(round(0.8 + 0.4 * _unit(seed, key, i, "p"), 4)))).quantize(Decimal("0.01"))
        inverse = venue == "bybit" and base == "BTC" and _unit(seed, key, i, "inv") < 0.3
        qty = Decimal(int(50 + 5000 * _unit(seed, key, i, "q")))  # USD contracts when inverse
        if not inverse:
            qty = (qty / price).quantize(Decimal("0.001")) or Decimal("0.001")
        kind = _kind(venue, _unit(seed, key, i, "kind"))
        fills.append(
            SimFill(
                fill_id=_fill_id(venue, seed, key, i),
                order_id=str(int(_unit(seed, key, i, "oid") * 10**15)),
                base=base,
                category="inverse" if inverse else "linear",
                at=at.replace(microsecond=(at.microsecond // 1000) * 1000),
                price=price,
                qty=qty,
                side="Buy" if _unit(seed, key, i, "side") < 0.5 else "Sell",
                kind=kind,
            )
        )
    return fills


def _kind(venue: str, roll: float) -> str:
    for kind, share in VENUE_KINDS.get(venue, ()):
        if roll < share:
            return kind
        roll -= share
    return COUNTED


def pre_upgrade_fills(seed: int, key: str, start: datetime, end: datetime, per_day: float) -> list[SimFill]:
    """Bybit fills from before the account's UTA upgrade (ids distinct from its other fills)."""
    made = generate_fills(seed, "bybit", f"{key}|pre-upgrade", start, end, per_day)
    return [dataclasses.replace(f, pre_upgrade=True) for f in made]


def _fill_id(venue: str, seed: int, key: str, i: int) -> str:
    digest = hashlib.blake2b(f"{seed}|{venue}|{key}|{i}".encode(), digest_size=16).hexdigest()
    if venue == "bybit":
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return str(int(digest[:15], 16))


def fill_at(
    base: str, at: datetime, price: str, qty: str, fill_id: str, category: str = "linear", kind: str = COUNTED
) -> SimFill:
    """One explicit fill (tests place fills exactly on window boundaries)."""
    return SimFill(fill_id, fill_id, base, category, at.astimezone(UTC), Decimal(price), Decimal(qty), "Buy", kind)


SIM_JWT_KEY = b"perpvol-simulator-paradex-jwt-key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_for(account_id: str, expires: datetime, token_type: str | None = "readonly") -> str:
    """A signed token for the simulator; `token_type=None` leaves the claim out."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims: dict[str, object] = {"sub": account_id, "exp": int(expires.timestamp()), "iss": "Paradex sim"}
    if token_type is not None:
        claims["token_type"] = token_type
    payload = b64url(json.dumps(claims).encode())
    signature = b64url(hmac.new(SIM_JWT_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"
