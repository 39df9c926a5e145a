"""Builds the connector of each venue from the settings: its URL, rate limiter and retry policy."""

from __future__ import annotations

import importlib

import httpx

from core.settings import Settings
from exchanges.base import EXCHANGES, Connector, Exchange
from exchanges.http import RateLimiter, RetryPolicy, VenueClient

_MODULES: dict[Exchange, tuple[str, str]] = {
    "bybit": ("exchanges.bybit", "BybitConnector"),
    "woox": ("exchanges.woox", "WooxConnector"),
    "hyperliquid": ("exchanges.hyperliquid", "HyperliquidConnector"),
    "paradex": ("exchanges.paradex", "ParadexConnector"),
}


def parse_exchange(name: str) -> Exchange:
    """The venue called `name`, or a ValueError that lists the valid ones."""
    key = name.strip().lower().replace(" ", "").replace("_", "")
    aliases = {"woo": "woox", "hl": "hyperliquid"}
    key = aliases.get(key, key)
    for exchange in EXCHANGES:
        if exchange == key:
            return exchange
    raise ValueError(f"unknown exchange {name!r}; one of {', '.join(EXCHANGES)}")


def connector_class(exchange: Exchange) -> type[Connector]:
    module_name, class_name = _MODULES[exchange]
    cls: type[Connector] = getattr(importlib.import_module(module_name), class_name)
    return cls


def make_client(
    exchange: Exchange,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    limiter: RateLimiter | None = None,
) -> VenueClient:
    module = importlib.import_module(_MODULES[exchange][0])
    rate, burst = module.RATE_LIMIT
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
