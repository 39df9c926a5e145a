"""The perpvol web application.

`create_app(settings)` builds the Quart app; `create_asgi(settings)` wraps it with the fast path that
answers `/public/latest-volume` before the framework (what `perpvol web` serves).

Workers write the market data (PostgreSQL and Redis) and publish the live feed through Redis; this app
reads those, and writes only what users do here (accounts, sessions, sealed credentials, sign-in counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from quart import Quart, current_app, render_template_string
from quart_schema import QuartSchema, hide
from quart_schema.openapi import OpenAPIProvider
from redis.asyncio import Redis
from werkzeug.routing import Rule

from core.current_volume import rejudge
from core.documents import CurrentVolumeDoc
from core.settings import Settings, load_settings
from storage.current_cache import build_from_db, cached_current, encode, live_channel
from storage.db import create_pool
from webapp.account_routes import register_accounts
from webapp.broadcast import Hub
from webapp.collector import collect_when_quiet
from webapp.errors import register_error_handlers
from webapp.health import DrainOnSignal, register_health
from webapp.request_guards import TrustedProxies, register_request_guards
from webapp.shared_counts import SharedRateCounts
from webapp.views import api, live, public
from webapp.views.assets_routes import register_asset_pages
from webapp.views.pages import register_pages
from webapp.views.widget import widget_bp

log = logging.getLogger(__name__)

SWAGGER_UI = "/static/vendor/swagger-ui-5.35.0"
# quart-schema's own page has no doctype, <html>, language or charset: browsers render it in quirks mode.
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ title }}</title>
  <link rel="stylesheet" href="{{ swagger_css_url }}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{{ swagger_js_url }}"></script>
  <script>
    SwaggerUIBundle({
      deepLinking: true,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
      url: "{{ url_for('openapi') }}"
    });
  </script>
</body>
</html>
"""
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"


def create_app(settings: Settings | None = None, *, accounts: bool = True) -> Quart:
    """The Quart app. `accounts=False` leaves the account routes out (tests register them with
    their own password hasher and venue transport)."""
    settings = settings or load_settings()
    app = Quart(__name__, static_folder="../static", template_folder="../templates")
    app.config["PERPVOL"] = settings
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = f"{SWAGGER_UI}/swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = f"{SWAGGER_UI}/swagger-ui.css"
    _Schema(
        app,
        info={"title": "perpvol API", "version": "1", "description": _API_DESCRIPTION},
        redoc_ui_path=None,
        scalar_ui_path=None,
        openapi_provider_class=_OpenAPI,
    )
    register_error_handlers(app)
    register_request_guards(app, settings)
    if settings.trusted_networks:
        proxied = TrustedProxies(cast(public.ASGIApp, app.asgi_app), settings.trusted_networks)
        app.asgi_app = proxied  # type: ignore[method-assign,assignment]
    for blueprint in (api.blueprint, public.blueprint, live.blueprint, widget_bp):
        app.register_blueprint(blueprint)
    register_pages(app)
    register_asset_pages(app)
    # Live first: its before-serving hook opens the pool the accounts' secret check reads.
    _setup_live(app, settings)
    if accounts:
        register_accounts(app)
    register_health(app, settings.data_mode)

    return app


# The JSON API is what /docs describes; HTML pages, forms and static files are not part of it.
DOCUMENTED_PREFIXES = ("/api/", "/public/", "/healthz", "/readyz")


class _Schema(QuartSchema):
    """quart-schema, serving /docs as a complete HTML document (DOCS_PAGE)."""

    @hide
    async def swagger_ui(self) -> str:
        return await render_template_string(
            DOCS_PAGE,
            title=self.info.title if self.info else "perpvol API",
            swagger_js_url=current_app.config["QUART_SCHEMA_SWAGGER_JS_URL"],
            swagger_css_url=current_app.config["QUART_SCHEMA_SWAGGER_CSS_URL"],
        )


class _OpenAPI(OpenAPIProvider):
    """Documents the JSON API only. Responses whose model declares a `media_type` (e.g. CSV) are
    documented as that type of text (an event stream by the schema of one event, its `event_schema`)."""

    def generate_rules(self) -> Iterable[Rule]:
        for rule in super().generate_rules():
            if rule.rule.startswith(DOCUMENTED_PREFIXES):
                yield rule

    def build_response_object(self, model: Any, headers_model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        media_type = getattr(model, "media_type", None)
        if not isinstance(media_type, str):
            return super().build_response_object(model, headers_model)
        schema = getattr(model, "event_schema", None) or {"type": "string"}
        content = {media_type: {"schema": schema}}
        return {"content": content, "description": inspect.getdoc(model) or ""}, {}


def create_asgi(settings: Settings | None = None) -> public.ASGIApp:
    """The ASGI callable to serve: `/public/latest-volume` and `/ws/live-volume` answered before the
    framework (from memory and the live feed), everything else by Quart; behind PERPVOL_TRUSTED_PROXIES,
    the fast path too sees the client address and scheme the proxy reports."""
    app = create_app(settings)
    fast = public.PublicFastPath(
        cast(public.ASGIApp, app),
        app.extensions["public_feed"],
        app.extensions["hub"],
        app.extensions["stream_cap"],
    )
    networks = app.config["PERPVOL"].trusted_networks
    return TrustedProxies(fast, networks) if networks else fast


def _setup_live(app: Quart, settings: Settings) -> None:
    redis_url = settings.redis_url or DEFAULT_REDIS_URL

    def judge(doc: CurrentVolumeDoc) -> CurrentVolumeDoc:
        return rejudge(doc, now=datetime.now(UTC), stale_seconds=settings.stale_seconds)

    hub = Hub(redis_url, live_channel(settings), client_name=f"perpvol-web-{settings.key_prefix}", judge=judge)
    feed = public.PublicFeed(settings.stale_seconds, settings.public_rate_limit)
    hub.listeners.append(feed.on_update)
    app.extensions["hub"] = hub
    app.extensions["public_feed"] = feed
    app.extensions["stream_cap"] = live.StreamCap(settings.live_streams_per_client)

    async def load_current() -> bytes | None:
        """The cached document from Redis, else built from PostgreSQL (None when neither answers)."""
        with contextlib.suppress(Exception):
            cached = await cached_current(app.extensions["redis"], settings)
            if cached is not None:
                return cached
        try:
            return encode(await build_from_db(app.extensions["pool"], settings))
        except Exception as exc:
            log.warning("live feed: no current document from Redis or PostgreSQL: %s", exc)
            return None

    @app.before_serving
    async def _open() -> None:
        # min_size=0: the app starts (and serves the public endpoint from Redis) while PostgreSQL is down.
        app.extensions["pool"] = await create_pool(settings.database_url or "", min_size=0)
        app.extensions["redis"] = Redis.from_url(redis_url)
        # Read here, not at create_app: a test (or an embedding app) may set it in between.
        hub.heartbeat_seconds = float(app.config.get("PERPVOL_HEARTBEAT_SECONDS", hub.heartbeat_seconds))
        await hub.start(load_current)
        app.extensions["refresher"] = asyncio.create_task(feed.keep_fresh())
        feed.shared = SharedRateCounts(app.extensions["redis"], settings.key_prefix, settings.public_rate_limit)
        app.extensions["rate_sync"] = asyncio.create_task(feed.shared.run())
        app.extensions["collector"] = asyncio.create_task(collect_when_quiet(hub.quiet_for))
        app.extensions["drain"] = DrainOnSignal(hub)
        app.extensions["drain"].install()

    @app.after_serving
    async def _close() -> None:
        app.extensions["drain"].uninstall()
        for name in ("refresher", "rate_sync", "collector"):
            app.extensions[name].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await app.extensions[name]
        await hub.stop()
        await app.extensions["redis"].aclose()
        await app.extensions["pool"].close()


_API_DESCRIPTION = """Perpetual-futures USD volume across Bybit, WOO X, Hyperliquid and Paradex.

Money is a decimal string in USD (USDT/USDC counted as USD). Times are ISO 8601 in UTC; a day is a UTC
calendar day and weeks start on Monday. Every figure says its window (`rolling_24h` or `utc_day`), its
source and whether it was estimated. Errors are JSON: `{"error": "...", "detail": ...}`.

Live feeds: `GET /api/live/sse` (server-sent events `volume`) and the WebSocket `/ws/live-volume`
(not listed below) push the current-volume document on every update.
"""
