"""The simulator's ASGI app: routes each request to the venue that owns its path, enforces that
venue's rate limit the way the venue does, and injects faults on demand.

Control endpoints (not part of any venue):
  GET    /_sim/faults   the active faults
  POST   /_sim/faults   add one fault (JSON, see `Fault`)
  DELETE /_sim/faults   clear all faults
  GET    /_sim/health   {"ok": true, "seed": N, "requests": {venue: n}, "throttled": {venue: n},
                         "weight": {venue: weight charged}, "kinds": {"venue METHOD path [type]": n}}
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl

from exchanges.sim.model import SimModel

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

FAULT_KINDS = (
    "latency",
    "timeout",
    "throttle",
    "error5xx",
    "malformed",
    "truncated",
    "missing_field",
    "partial",
    "skew",
)


@dataclass(slots=True)
class SimRequest:
    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    headers: Mapping[str, str]
    raw_query: str = ""
    raw_body: bytes = b""
    client: str = "127.0.0.1"


@dataclass(slots=True)
class SimResponse:
    status: int
    body: Any  # JSON-able; Decimal is written as a JSON number, str(Decimal) as a string
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # when set, sent as is (e.g. a plain-text error)


class VenueSim(Protocol):
    """What each simulated venue module provides."""

    venue: str
    rate: float  # requests (or weight) per second the real venue allows
    burst: float

    def owns(self, method: str, path: str) -> bool: ...

    def weight(self, request: SimRequest) -> float: ...

    async def handle(self, request: SimRequest) -> SimResponse: ...

    def throttled(self) -> SimResponse: ...


@dataclass(slots=True)
class Fault:
    """One injected fault. `count` requests are affected (None: all) with `probability` each."""

    kind: str
    venue: str = "*"
    path: str = ""  # only paths starting with this
    count: int | None = None
    probability: float = 1.0
    ms: int = 0  # latency / timeout length
    retry_after: int | None = None
    status: int = 503
    field: str = ""  # for missing_field
    keep: float = 0.5  # partial: the share of each list of rows kept (valid JSON, HTTP 200)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if not 0 <= self.probability <= 1:
            raise ValueError("probability must be within 0..1")
        if self.kind == "missing_field" and not self.field:
            raise ValueError("missing_field needs field=NAME")
        if not 0 <= self.keep < 1:
            raise ValueError("keep must be within 0..1 (exclusive of 1)")

    def applies(self, venue: str, path: str) -> bool:
        if self.venue not in ("*", venue) or not path.startswith(self.path):
            return False
        if self.count is not None and self.count <= 0:
            return False
        return random.random() < self.probability


def parse_fault(spec: str) -> Fault:
    """`VENUE:KIND[:key=value,...]`, e.g. `bybit:throttle:count=3,retry_after=1`."""
    parts = spec.split(":", 2)
    if len(parts) < 2:
        raise ValueError(f"fault {spec!r}: expected VENUE:KIND[:key=value,...]")
    options: dict[str, Any] = {}
    if len(parts) == 3 and parts[2]:
        for item in parts[2].split(","):
            key, _, value = item.partition("=")
            options[key] = value
    return fault_from_json({"venue": parts[0], "kind": parts[1], **options})


def fault_from_json(data: Mapping[str, Any]) -> Fault:
    known = {"kind", "venue", "path", "count", "probability", "ms", "retry_after", "status", "field", "keep"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = dict(data)
    for key in ("count", "ms", "retry_after", "status"):
        if kwargs.get(key) is not None:
            kwargs[key] = int(kwargs[key])
    for key in ("probability", "keep"):
        if key in kwargs:
            kwargs[key] = float(kwargs[key])
    return Fault(**kwargs)


class _Bucket:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, clock()

    def take(self, weight: float) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < weight:
            return False
        self.tokens -= weight
        return True


_DEC = re.compile(r'"\\u0000D:([-+0-9.Ee]+)"')


def encode_json(body: Any) -> bytes:
    """JSON with Decimal written as an exact JSON number."""

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return "\x00D:" + format(obj, "f")
        raise TypeError(f"cannot encode {type(obj).__name__}")

    return _DEC.sub(r"\1", json.dumps(body, default=default, separators=(",", ":"))).encode()


def drop_field(body: Any, name: str) -> Any:
    if isinstance(body, dict):
        return {k: drop_field(v, name) for k, v in body.items() if k != name}
    if isinstance(body, list):
        return [drop_field(v, name) for v in body]
    return body


class SimulatorApp:
    def __init__(self, model: SimModel, venues: list[VenueSim], *, enforce_limits: bool = True) -> None:
        self.model = model
        self.venues = venues
        self.enforce_limits = enforce_limits
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {v.venue: 0 for v in venues}
        # Requests refused by the venue-style rate limit (not injected throttle faults).
        self.throttled: dict[str, int] = {v.venue: 0 for v in venues}
        # Weight charged against each venue's budget, and requests per kind (path, and the body's
        # `type`/interval where one path serves many): what a bench compares with the minimum needed.
        self.weight: dict[str, float] = {v.venue: 0.0 for v in venues}
        self.kinds: dict[str, int] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        # What the rate limits refill by; tests set their own clock so throttling never races wall time.
        self.clock: Callable[[], float] = time.monotonic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw_body = b""
        while True:
            message = await receive()
            raw_body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = _make_request(scope, raw_body)
        response = await self.dispatch(request)
        await _send(send, response)

    async def dispatch(self, request: SimRequest) -> SimResponse:
        if request.path.startswith("/_sim/"):
            return self._control(request)
        venue = next((v for v in self.venues if v.owns(request.method, request.path)), None)
        if venue is None:
            return SimResponse(404, {"error": f"no simulated venue serves {request.method} {request.path}"})
        self.requests[venue.venue] += 1
        kind = request_kind(venue.venue, request)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        weight = venue.weight(request)
        if self.enforce_limits and not self._bucket(venue, request.client).take(weight):
            self.throttled[venue.venue] += 1
            return venue.throttled()
        self.weight[venue.venue] += weight
        fault = next((f for f in self.faults if f.applies(venue.venue, request.path)), None)
        if fault is not None and fault.count is not None:
            fault.count -= 1
        if fault is not None and fault.kind in ("latency", "timeout"):
            await asyncio.sleep((fault.ms or (60_000 if fault.kind == "timeout" else 500)) / 1000)
        if fault is not None and fault.kind == "throttle":
            response = venue.throttled()
            if fault.retry_after is not None:
                response.headers["Retry-After"] = str(fault.retry_after)
            return response
        if fault is not None and fault.kind == "error5xx":
            return SimResponse(fault.status, None, raw=b"<html><body>502 Bad Gateway</body></html>")
        if fault is not None and fault.kind == "skew":
            # The venue's clock is off by `ms` (negative: behind): every time it writes is shifted.
            with self.model.skewed(fault.ms):
                return await venue.handle(request)
        response = await venue.handle(request)
        if fault is None:
            return response
        return _corrupt(response, fault)

    def _bucket(self, venue: VenueSim, client: str) -> _Bucket:
        key = (venue.venue, client)
        if key not in self._buckets:
            self._buckets[key] = _Bucket(venue.rate, venue.burst, lambda: self.clock())
        return self._buckets[key]

    def _control(self, request: SimRequest) -> SimResponse:
        if request.path == "/_sim/health":
            return SimResponse(
                200,
                {"ok": True, "seed": self.model.seed, "requests": self.requests, "throttled": self.throttled,
                 "weight": self.weight, "kinds": self.kinds},
            )
        if request.path != "/_sim/faults":
            return SimResponse(404, {"error": "unknown control path"})
        if request.method == "POST":
            try:
                self.faults.append(fault_from_json(request.body or {}))
            except (TypeError, ValueError) as exc:
                return SimResponse(400, {"error": str(exc)})
        elif request.method == "DELETE":
            self.faults.clear()
        return SimResponse(200, {"faults": [asdict(f) for f in self.faults]})


def request_kind(venue: str, request: SimRequest) -> str:
    """`venue METHOD path`, plus the body's `type` and candle interval where one path serves many."""
    kind = f"{venue} {request.method} {request.path}"
    body = request.body if isinstance(request.body, dict) else {}
    if isinstance(body.get("type"), str):
        kind += f" {body['type']}"
        req = body.get("req")
        if isinstance(req, dict) and isinstance(req.get("interval"), str):
            kind += f" {req['interval']}"
    elif "interval" in request.query or "type" in request.query:
        kind += f" {request.query.get('interval') or request.query.get('type')}"
    return kind


def cut_rows(body: Any, keep: float) -> Any:
    """Every list of objects cut to its first `keep` share (parallel lists stay aligned)."""
    if isinstance(body, dict):
        return {k: cut_rows(v, keep) for k, v in body.items()}
    if isinstance(body, list):
        if len(body) > 1 and all(isinstance(v, dict) for v in body):
            return [cut_rows(v, keep) for v in body[: int(len(body) * keep)]]
        return [cut_rows(v, keep) for v in body]
    return body


def _corrupt(response: SimResponse, fault: Fault) -> SimResponse:
    if fault.kind == "partial":
        return SimResponse(response.status, cut_rows(response.body, fault.keep), response.headers)
    if fault.kind == "missing_field":
        return SimResponse(response.status, drop_field(response.body, fault.field), response.headers)
    body = response.raw if response.raw is not None else encode_json(response.body)
    if fault.kind == "truncated":
        return SimResponse(response.status, None, response.headers, raw=body[: max(1, len(body) // 2)])
    if fault.kind == "malformed":
        return SimResponse(response.status, None, response.headers, raw=b'{"result": [1, 2,, }' + body[:10])
    return response


def _make_request(scope: Scope, raw_body: bytes) -> SimRequest:
    raw_query = scope.get("query_string", b"").decode()
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    body: Any = None
    if raw_body:
        try:
            body = json.loads(raw_body, parse_float=Decimal)
        except ValueError:
            body = None
    client = (scope.get("client") or ("127.0.0.1", 0))[0]
    return SimRequest(
        method=scope["method"],
        path=scope["path"],
        query=dict(parse_qsl(raw_query, keep_blank_values=True)),
        body=body,
        headers=headers,
        raw_query=raw_query,
        raw_body=raw_body,
        client=client,
    )


async def _send(send: Send, response: SimResponse) -> None:
    body = response.raw if response.raw is not None else encode_json(response.body)
    content_type = b"application/json" if response.raw is None else b"text/plain"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
