"""Helpers for connector tests: replay recorded responses, or talk to the simulator in process.

No test ever reaches a real exchange: clients get an httpx transport that answers from a fixture file
(`replay`) or from the simulator's ASGI app (`sim_client`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings
from exchanges.base import EXCHANGES, Connector, Exchange
from exchanges.http import RateLimiter, RetryPolicy, VenueClient
from exchanges.registry import connector_class, make_client
from exchanges.sim.app import SimulatorApp

FIXTURES = Path(__file__).parent / "fixtures" / "exchanges"

# A fixed clock for the simulator so that totals are exact and repeatable.
SIM_NOW = datetime(2026, 11, 20, 15, 30, 0, tzinfo=UTC)

FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, timeout=2.0)


def fixture_bytes(venue: str, name: str) -> bytes:
    return (FIXTURES / venue / name).read_bytes()


def fixture_json(venue: str, name: str) -> Any:
    return json.loads(fixture_bytes(venue, name))


async def _no_sleep(_: float) -> None:
    return None


def replay_client(
    venue: str,
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    policy: RetryPolicy = FAST_RETRIES,
) -> VenueClient:
    """A client whose every request is answered by `handler` (usually from fixture files)."""
    return VenueClient(
        venue,
        "https://example.invalid",
        RateLimiter(rate=1e6, capacity=1e6),
        policy=policy,
        transport=httpx.MockTransport(handler),
        sleep=_no_sleep,
    )


class TimeoutASGITransport(httpx.ASGITransport):
    """ASGITransport that honours the client's read timeout, as a socket would."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            return await asyncio.wait_for(super().handle_async_request(request), timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("simulated read timeout", request=request) from None


def sim_client(
    venue: str,
    app: SimulatorApp,
    *,
    policy: RetryPolicy = FAST_RETRIES,
    limiter: RateLimiter | None = None,
) -> VenueClient:
    """A client talking to the simulator in process (no sockets)."""
    return VenueClient(
        venue,
        "http://sim.test",
        limiter or RateLimiter(rate=1e6, capacity=1e6),
        policy=policy,
        transport=TimeoutASGITransport(app=app),
        sleep=_no_sleep,
    )


def sim_connectors(
    settings: Settings, app: SimulatorApp, policy: RetryPolicy, venues: tuple[Exchange, ...] = EXCHANGES
) -> dict[Exchange, Connector]:
    """The connectors a worker builds from `settings`, talking to the simulator in process, unthrottled."""
    connectors: dict[Exchange, Connector] = {}
    for name in venues:
        client = make_client(name, settings, transport=TimeoutASGITransport(app=app), limiter=RateLimiter(1e6, 1e6))
        client.policy = policy
        connectors[name] = connector_class(name)(client)
    return connectors
