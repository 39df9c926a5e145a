"""Probes for orchestrators and load balancers, and the graceful drain on SIGTERM.

- `/healthz` (liveness): the process answers; touches no storage, so a database outage never gets
  every web process restarted at once.
- `/readyz` (readiness): PostgreSQL and Redis answer within a bound and the database schema is the one
  this code expects; 503 with the reason otherwise, and while draining.

On SIGTERM (what Kubernetes, Docker and `perpvol up` send) the web process drains before its server
stops it: `/readyz` turns 503 so the balancer stops sending new requests, live clients are told to
reconnect (to another process): SSE streams get a short `retry:` and end, WebSockets close with 1012
"service restart". Ordinary requests in flight finish; the server (granian's worker kill timeout, or
uvicorn's graceful-shutdown timeout, both `perpvol web --drain-seconds`) bounds how long that may take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from pydantic import BaseModel
from quart import Quart, jsonify
from quart_schema import document_response

from storage.migrate import load_migrations
from webapp.broadcast import Hub
from webapp.errors import ErrorBody

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0
DEFAULT_ACTION_DELAY = 1.0
DRAIN_SIGNALS = (signal.SIGTERM,)

SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class Health(BaseModel):
    ok: bool


class Ready(BaseModel):
    ok: bool
    data_mode: str
    schema_version: int


def register_health(app: Quart, data_mode: str) -> None:
    expected = max((m.version for m in load_migrations()), default=0)

    @app.get("/healthz")
    @document_response(Health, 200)
    async def healthz() -> Any:
        """Liveness: the process answers. Touches neither PostgreSQL nor Redis (see `/readyz`)."""
        return jsonify({"ok": True})

    @app.get("/readyz")
    @document_response(Ready, 200)
    @document_response(ErrorBody, 503)
    async def readyz() -> Any:
        """Readiness: PostgreSQL and Redis answer within 2 s each and every migration this code knows
        is applied; 503 `{"error": "not_ready", "detail": …}` otherwise, and while the process drains."""
        hub: Hub = app.extensions["hub"]
        if hub.draining:
            return _not_ready("draining: this process is shutting down")
        try:
            version = await asyncio.wait_for(_schema_version(app), PROBE_TIMEOUT_SECONDS)
        except Exception as exc:
            return _not_ready(f"PostgreSQL: {_reason(exc)}")
        if version != expected:
            return _not_ready(f"database schema is at migration {version}, this code needs {expected}: perpvol migrate")
        try:
            await asyncio.wait_for(app.extensions["redis"].ping(), PROBE_TIMEOUT_SECONDS)
        except Exception as exc:
            return _not_ready(f"Redis: {_reason(exc)}")
        return jsonify({"ok": True, "data_mode": data_mode, "schema_version": version})


async def _schema_version(app: Quart) -> int:
    async with app.extensions["pool"].acquire() as conn:
        version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(version)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {PROBE_TIMEOUT_SECONDS:g}s"
    return str(exc) or type(exc).__name__


def _not_ready(detail: str) -> Any:
    response = jsonify({"error": "not_ready", "detail": detail})
    response.status_code = 503
    response.headers["Cache-Control"] = "no-store"
    # Like every other storage outage answer: a wait, with when to ask again.
    response.headers["Retry-After"] = "5"
    return response


class DrainOnSignal:
    """Chains a drain in front of the server's own SIGTERM handler (granian's and uvicorn's both keep
    working: they still stop accepting and wait for the connections that remain)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._previous: dict[int, SignalHandler] = {}

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in DRAIN_SIGNALS:
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: FrameType | None, previous: SignalHandler = previous) -> None:
                loop.call_soon_threadsafe(self.hub.drain)
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:
                    # No server handler to pass it to: let live clients get their goodbye, then die as
                    # the default action would have.
                    signal.signal(signum, signal.SIG_DFL)
                    loop.call_later(DEFAULT_ACTION_DELAY, os.kill, os.getpid(), signum)

            # Only the main thread may set handlers (tests run apps elsewhere too): then nothing to chain.
            with contextlib.suppress(ValueError):
                signal.signal(sig, handler)
                self._previous[sig] = previous

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._previous.clear()
