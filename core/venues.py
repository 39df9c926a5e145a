"""The venue registry: one frozen record per venue, in display order. Every other list of venues derives
from it (the `Exchange` type's values, labels, chart colours, settings' URLs and defaults, the connector
and private-client tables in `exchanges.registry` / `exchanges.private.registry`, and the migration's
`venues` rows); tests/core/test_venues.py checks that they agree.

Adding a venue: one connector module (exchanges/<name>.py), one private client, one simulator module
(exchanges/sim/<name>.py), one entry here, and its name in `core.records.Exchange`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from core.records import Exchange

Limit = tuple[float, float]  # requests per second, burst


@dataclass(frozen=True, slots=True)
class Venue:
    name: Exchange
    label: str
    # Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
    colour: str
    default_url: str
    # What this app allows itself against the venue's public API (per IP) ...
    public_limit: Limit
    # ... and per user credential against its private API (the key check and the fill sync).
    private_limit: Limit

    @property
    def url_setting(self) -> str:
        """The environment variable that points perpvol at another base URL (the simulator, a proxy)."""
        return f"PERPVOL_{self.name.upper()}_URL"


VENUES: MappingProxyType[str, Venue] = MappingProxyType(
    {
        venue.name: venue
        for venue in (
            Venue(
                "bybit",
                "Bybit",
                "#E69F00",
                "https://api.bybit.com",
                # 600 requests per 5 s per IP, HTTP 403 and a ban of at least 10 minutes above it
                # (https://bybit-exchange.github.io/docs/v5/rate-limit): keep to half of that.
                public_limit=(60.0, 100.0),
                # execution/list: 50/s per UID.
                private_limit=(10.0, 10.0),
            ),
            Venue(
                "woox",
                "WOO X",
                "#0072B2",
                "https://api.woox.io",
                # Public endpoints allow 10 requests per second per IP (developer.woox.io, e.g.
                # /api-reference/endpoint/public_data/klineHistory); stay at 60% of that.
                public_limit=(6.0, 6.0),
                # transactionHistory: 2/s.
                private_limit=(1.5, 2.0),
            ),
            Venue(
                "hyperliquid",
                "Hyperliquid",
                "#009E73",
                "https://api.hyperliquid.xyz",
                # 1200 weight per minute per IP (docs: for-developers/api/rate-limits-and-user-limits). 12/s
                # with a 240 burst allows at most 960 weight in any minute: 80% of the limit.
                public_limit=(12.0, 240.0),
                # The same per-IP weight budget, shared with the public poller.
                private_limit=(1.0, 5.0),
            ),
            Venue(
                "paradex",
                "Paradex",
                "#CC79A7",
                "https://api.prod.paradex.trade",
                # Public endpoints: 1500 requests per minute per IP, a continuously refilled token bucket
                # (docs.paradex.trade/api/general-information/rate-limits/api and .../common-questions).
                # 25/s documented; stay at 60% of it.
                public_limit=(15.0, 15.0),
                # Private GET: 120/s.
                private_limit=(10.0, 10.0),
            ),
        )
    }
)

LABELS: MappingProxyType[str, str] = MappingProxyType({name: v.label for name, v in VENUES.items()})
COLOURS: MappingProxyType[str, str] = MappingProxyType({name: v.colour for name, v in VENUES.items()})
DEFAULT_URLS: MappingProxyType[str, str] = MappingProxyType({name: v.default_url for name, v in VENUES.items()})


def parse_exchange(name: str) -> Exchange:
    """The venue called `name`, or a ValueError that lists the valid ones."""
    key = name.strip().lower().replace(" ", "").replace("_", "")
    aliases = {"woo": "woox", "hl": "hyperliquid"}
    key = aliases.get(key, key)
    venue = VENUES.get(key)
    if venue is None:
        raise ValueError(f"unknown exchange {name!r}; one of {', '.join(VENUES)}")
    return venue.name
