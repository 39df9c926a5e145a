"""Builds the private client of a venue for one credential, with the venue's per-account limits."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from core.settings import Settings
from core.venues import VENUES
from exchanges.base import Exchange
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.private.base import ApiCredential, Clock, PrivateClient
from exchanges.private.bybit import BybitPrivate
from exchanges.private.hyperliquid import HyperliquidPrivate
from exchanges.private.paradex import ParadexPrivate
from exchanges.private.woox import WooxPrivate
from exchanges.shared_limit import SharedRateLimiter, account_scope, limit_key

# The private client of every venue of the registry (core/venues.py; a test checks they agree).
PRIVATE_CLIENTS: dict[Exchange, type[PrivateClient]] = {
    "bybit": BybitPrivate,
    "woox": WooxPrivate,
    "hyperliquid": HyperliquidPrivate,
    "paradex": ParadexPrivate,
}


def private_class(exchange: Exchange) -> type[PrivateClient]:
    return PRIVATE_CLIENTS[exchange]


def make_private_client(
    exchange: Exchange,
    settings: Settings,
    credential: ApiCredential,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    policy: RetryPolicy | None = None,
    redis: aioredis.Redis | None = None,
) -> PrivateClient:
    """The private client of one credential; with `redis`, its per-key budget is shared by every
    process (two workers syncing the same key draw from one budget)."""
    # Well under each venue's documented per-account limit (core/venues.py).
    rate, burst = VENUES[exchange].private_limit
    rate, burst = rate * settings.rate_limit_scale, burst * settings.rate_limit_scale
    limiter = RateLimiter(rate, burst)
    if redis is not None:
        key = limit_key(settings.key_prefix, exchange, account_scope(credential.key))
        limiter = SharedRateLimiter(redis, key, rate, burst)
    client = VenueClient(
        exchange,
        settings.venue_url(exchange),
        limiter,
        policy=policy or RetryPolicy(timeout=settings.http_timeout),
        transport=transport,
    )
    return private_class(exchange)(client, credential, clock=clock)
