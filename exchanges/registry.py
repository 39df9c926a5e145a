"""Builds the connector of each venue from the settings: its URL, rate limiter and retry policy.

`CONNECTORS` is the connector class of every venue of the registry (core/venues.py); a test checks that
the two list the same venues.
"""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from core.settings import Settings
from core.venues import VENUES
from exchanges.base import EXCHANGES, Connector, Exchange
from exchanges.bybit import BybitConnector
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.hyperliquid import HyperliquidConnector
from exchanges.paradex import ParadexConnector
from exchanges.shared_limit import SharedRateLimiter, limit_key
from exchanges.woox import WooxConnector

CONNECTORS: dict[Exchange, type[Connector]] = {
    "bybit": BybitConnector,
    "woox": WooxConnector,
    "hyperliquid": HyperliquidConnector,
    "paradex": ParadexConnector,
}


def connector_class(exchange: Exchange) -> type[Connector]:
    return CONNECTORS[exchange]


def make_client(
    exchange: Exchange,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    limiter: RateLimiter | None = None,
    redis: aioredis.Redis | None = None,
) -> VenueClient:
    """The venue's client; with `redis`, its rate limit is shared by every process using that Redis
    (public data is limited per IP, so all workers draw from one budget)."""
    if limiter is None:
        rate, burst = VENUES[exchange].public_limit
        rate, burst = rate * settings.rate_limit_scale, burst * settings.rate_limit_scale
        if redis is None:
            limiter = RateLimiter(rate, burst)
        else:
            limiter = SharedRateLimiter(redis, limit_key(settings.key_prefix, exchange, "ip"), rate, burst)
    return VenueClient(
        exchange,
        settings.venue_url(exchange),
        limiter,
        policy=RetryPolicy(timeout=settings.http_timeout),
        transport=transport,
    )


def make_connector(
    exchange: Exchange,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    redis: aioredis.Redis | None = None,
) -> Connector:
    return connector_class(exchange)(make_client(exchange, settings, transport=transport, redis=redis))


def make_connectors(
    settings: Settings, exchanges: tuple[Exchange, ...] = EXCHANGES, *, redis: aioredis.Redis | None = None
) -> list[Connector]:
    return [make_connector(exchange, settings, redis=redis) for exchange in exchanges]
