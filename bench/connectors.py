"""Connector benchmark: parse time of a full snapshot per venue, and the request count and time of a
2-year history fetch of every market against the simulator, beside the floor that the venue's rate
limit allows.

    .venv/bin/python bench/connectors.py [--days 730] [--venues bybit,woox] [--scale 1.0]

Runs in process (the simulator's ASGI app, no sockets), with each connector's real client-side rate
limiter, so the history time is what the venue's documented limit costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta

import httpx

from cli.commands.fetch import daily_for_markets
from core.settings import Settings
from exchanges.base import EXCHANGES, Exchange
from exchanges.http import RateLimiter
from exchanges.registry import connector_class, make_client
from exchanges.sim.app import SimulatorApp
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims


def _settings() -> Settings:
    # Defaults only: the bench never reads a developer's .env or environment.
    return Settings(_env_file=None)  # type: ignore[call-arg]


async def parse_time(exchange: Exchange, app: SimulatorApp, rounds: int) -> tuple[float, int]:
    """Median seconds to turn recorded snapshot bodies into a CurrentSnapshot (no network)."""
    recorded: dict[str, bytes] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:

        async def record(request: httpx.Request) -> httpx.Response:
            key = f"{request.method} {request.url.path}?{request.url.query.decode()} {request.content!r}"
            if key not in recorded:
                upstream = await http.send(
                    http.build_request(
                        request.method,
                        request.url.path,
                        params=request.url.params,
                        content=request.content,
                        headers={"content-type": "application/json"},
                    )
                )
                recorded[key] = upstream.content
            return httpx.Response(
                200, content=recorded[key], headers={"Date": "Wed, 25 Nov 2026 12:00:00 GMT"}
            )

        # No rate limiter here: this measures parsing, not waiting.
        client = make_client(
            exchange, _settings(), transport=httpx.MockTransport(record), limiter=RateLimiter(1e9, 1e9)
        )
        connector = connector_class(exchange)(client)
        snapshot = await connector.fetch_current()  # records the bodies
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            await connector.fetch_current()
            times.append(time.perf_counter() - started)
        await connector.aclose()
    return statistics.median(times), len(snapshot.markets)


async def history(exchange: Exchange, app: SimulatorApp, days: int) -> tuple[float, int, float, int, float]:
    client = make_client(exchange, _settings(), transport=httpx.ASGITransport(app=app))
    connector = connector_class(exchange)(client)
    markets = await connector.list_markets()
    end = app.model.today()
    start = end - timedelta(days=days)
    started = time.perf_counter()
    rows = len(await daily_for_markets(connector, markets, start, end, progress=None))
    elapsed = time.perf_counter() - started
    limiter = client.limiter
    floor = max(0.0, (client.weight_sent - limiter.capacity) / limiter.rate)
    await connector.aclose()
    return elapsed, client.requests_sent, floor, rows, client.weight_sent


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--venues", default=",".join(EXCHANGES))
    parser.add_argument("--scale", type=float, default=1.0, help="simulated market count scale")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--skip-history", action="store_true")
    args = parser.parse_args()
    model = SimModel(seed=1, history_days=max(args.days, 800), scale=args.scale)
    app = SimulatorApp(model, venue_sims(model), enforce_limits=False)
    venues = [v for v in args.venues.split(",") if v]
    print("snapshot parse (recorded bodies, no network):")
    for venue in venues:
        seconds, count = await parse_time(venue, app, args.rounds)  # type: ignore[arg-type]
        print(f"  {venue:<12} {seconds * 1000:8.2f} ms per full snapshot  ({count} markets)")
    if args.skip_history:
        return
    print(f"\n{args.days}-day daily history of every market, real client-side rate limits:")
    for venue in venues:
        elapsed, requests, floor, rows, weight = await history(venue, app, args.days)  # type: ignore[arg-type]
        print(
            f"  {venue:<12} {elapsed:8.1f} s  {requests:6d} requests (weight {weight:.0f})  "
            f"rate-limit floor {floor:8.1f} s  {rows:7d} market-days"
        )


if __name__ == "__main__":
    asyncio.run(main())
