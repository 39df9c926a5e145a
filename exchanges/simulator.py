"""The exchange simulator: all four venues' public APIs on one port, from one deterministic model.

`perpvol sim --port 8900` and then every `PERPVOL_*_URL=http://127.0.0.1:8900` points perpvol at it.
The venues' paths do not collide (Bybit /v5/, WOO X /v3/, Hyperliquid POST /info, Paradex /v1/).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

import uvicorn

from exchanges.sim.app import Fault, SimulatorApp, VenueSim
from exchanges.sim.bybit import BybitSim
from exchanges.sim.hyperliquid import HyperliquidSim
from exchanges.sim.model import SimModel
from exchanges.sim.paradex import ParadexSim
from exchanges.sim.woox import WooxSim


def venue_sims(model: SimModel) -> list[VenueSim]:
    return [BybitSim(model), WooxSim(model), HyperliquidSim(model), ParadexSim(model)]


def build_simulator(
    seed: int = 1,
    *,
    faults: Iterable[Fault] = (),
    enforce_limits: bool = True,
    model: SimModel | None = None,
    history_days: int = 800,
    market_scale: float = 1.0,
) -> SimulatorApp:
    model = model or SimModel(seed, history_days=history_days, scale=market_scale)
    app = SimulatorApp(model, venue_sims(model), enforce_limits=enforce_limits)
    app.faults.extend(faults)
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname())."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve(app: SimulatorApp, sock: socket.socket, *, log_level: str = "warning") -> None:
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    await server.serve(sockets=[sock])


def run(app: SimulatorApp, host: str, port: int) -> None:
    sock = bind_socket(host, port)
    asyncio.run(serve(app, sock))
