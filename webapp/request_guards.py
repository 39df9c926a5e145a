"""Checks every request passes before a view sees it: the `Host` header names this site (DNS rebinding),
and a JSON body that cannot be parsed is a 400, whatever broke the parser. `TrustedProxies` takes the
scheme and client address from the headers of a configured reverse proxy (PERPVOL_TRUSTED_PROXIES).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from quart import Quart, Request, Response, request

from core.settings import Settings
from webapp.errors import ApiError, error_response

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
# Listening on every interface names no host: then only loopback names and the configured ones pass.
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", "[::]", ""})


class JsonRequest(Request):
    """Quart's request whose `get_json` turns every unparseable body into a 400 `invalid_json`.

    Quart decodes the body before its own error handling, so invalid UTF-8 escapes as
    UnicodeDecodeError, and deep nesting (`[[[[…`) exhausts the parser's recursion: both were 500s.
    """

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)
        except UnicodeDecodeError:
            if silent:
                return None
            raise ApiError(400, "invalid_json", "the body is not UTF-8") from None
        except RecursionError:
            if silent:
                return None
            raise ApiError(400, "invalid_json", "the JSON body is nested too deeply") from None

    def on_json_loading_failed(self, error: Exception) -> Any:
        raise ApiError(400, "invalid_json", "the body is not valid JSON")


def host_name(host_header: str) -> str:
    """The host of a `Host` header without its port, lower-cased (`[::1]:8000` -> `[::1]`)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() else host


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The host names this site answers to; None when any is allowed (`PERPVOL_ALLOWED_HOSTS=*`)."""
    configured = [h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip()]
    if "*" in configured:
        return None
    listen = settings.host.strip().lower()
    if ":" in listen and not listen.startswith("["):
        listen = f"[{listen}]"
    names = set(LOOPBACK_NAMES) | {host_name(h) for h in configured}
    if listen not in WILDCARD_ADDRESSES:
        names.add(listen)
    return frozenset(names)


def register_request_guards(app: Quart, settings: Settings) -> None:
    app.request_class = JsonRequest
    names = allowed_hosts(settings)
    if names is None:
        return

    async def _check_host() -> Response | None:
        if host_name(request.host) in names:
            return None
        return error_response(
            400,
            "host_not_allowed",
            "this site does not answer to that Host header; an operator adds the name to PERPVOL_ALLOWED_HOSTS",
        )

    # First of all before-request functions: nothing runs for a request addressed to another site.
    app.before_request_funcs.setdefault(None, []).insert(0, _check_host)


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class TrustedProxies:
    """ASGI middleware: when the peer is a trusted proxy, the request's scheme is its last
    `X-Forwarded-Proto` and its client the right-most `X-Forwarded-For` address that is not itself a
    trusted proxy. Headers from any other peer are ignored (anyone can send them)."""

    def __init__(self, app: ASGIApp, networks: tuple[IPv4Network | IPv6Network, ...]) -> None:
        self.app = app
        self.networks = networks

    def trusted(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self.trusted(client[0]):
            scope = self.rewrite(scope)
        await self.app(scope, receive, send)

    def rewrite(self, scope: Scope) -> Scope:
        headers = {k.lower(): v.decode("latin-1") for k, v in scope["headers"] if k.lower().startswith(b"x-forwarded-")}
        scope = dict(scope)
        proto = headers.get(b"x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            secure = proto == "https"
            scope["scheme"] = ("wss" if secure else "ws") if scope["type"] == "websocket" else proto
        hops = [h.strip() for h in headers.get(b"x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusted(hop):
                scope["client"] = (hop, 0)
                break
        return scope
