"""Builds the private client of a venue for one credential, with the venue's per-account limits."""

from __future__ import annotations

import importlib

import httpx

from core.settings import Settings
from exchanges.base import Exchange
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.private.base import ApiCredential, Clock, PrivateClient

_CLASSES: dict[Exchange, tuple[str, str]] = {
    "bybit": ("exchanges.private.bybit", "BybitPrivate"),
    "woox": ("exchanges.private.woox", "WooxPrivate"),
    "hyperliquid": ("exchanges.private.hyperliquid", "HyperliquidPrivate"),
    "paradex": ("exchanges.private.paradex", "ParadexPrivate"),
}
# Requests per second and burst, well under each venue's documented per-account limit
# (Bybit execution/list 50/s per UID, WOO X transactionHistory 2/s, Paradex private GET 120/s,
# Hyperliquid 1200 weight per minute per IP shared with the public poller).
_LIMITS: dict[Exchange, tuple[float, float]] = {
    "bybit": (10.0, 10.0),
    "woox": (1.5, 2.0),
    "hyperliquid": (1.0, 5.0),
    "paradex": (10.0, 10.0),
}


def private_class(exchange: Exchange) -> type[PrivateClient]:
    module, name = _CLASSES[exchange]
    cls: type[PrivateClient] = getattr(importlib.import_module(module), name)
    return cls


def make_private_client(
    exchange: Exchange,
    settings: Settings,
    credential: ApiCredential,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    policy: RetryPolicy | None = None,
) -> PrivateClient:
    rate, burst = _LIMITS[exchange]
    client = VenueClient(
        exchange,
        settings.venue_url(exchange),
        RateLimiter(rate * settings.rate_limit_scale, burst * settings.rate_limit_scale),
        policy=policy or RetryPolicy(timeout=settings.http_timeout),
        transport=transport,
    )
    return private_class(exchange)(client, credential, clock=clock)
