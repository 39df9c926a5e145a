"""Builds the connector of each venue from the settings: its URL, rate limiter and retry policy.

`CONNECTORS` is the connector class of every venue of the registry (core/venues.py); a test checks that
the two list the same venues.
"""

from __future__ import annotations

import httpx

from core.settings import Settings
from core.venues import VENUES
from exchanges.base import EXCHANGES, Connector, Exchange
from exchanges.bybit import BybitConnector
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.hyperliquid import HyperliquidConnector
from exchanges.paradex import ParadexConnector
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
) -> VenueClient:
    rate, burst = VENUES[exchange].public_limit
    return VenueClient(
        exchange,
        settings.venue_url(exchange),
        limiter or RateLimiter(rate * settings.rate_limit_scale, burst * settings.rate_limit_scale),
        policy=RetryPolicy(timeout=settings.http_timeout),
        transport=transport,
    )


def make_connector(
    exchange: Exchange, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> Connector:
    return connector_class(exchange)(make_client(exchange, settings, transport=transport))


def make_connectors(settings: Settings, exchanges: tuple[Exchange, ...] = EXCHANGES) -> list[Connector]:
    return [make_connector(exchange, settings) for exchange in exchanges]
