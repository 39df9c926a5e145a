"""The dashboard's routes: server-rendered pages, and the htmx partials that update their regions.

Each page's view model (its figures, typed) lives in `webapp/view_models/` (`overview`, `history`,
`markets`, `status`, `embed`); this module maps URLs to them and renders. htmx requests get the region's
partial (`templates/partials/_*.html`) alone, full requests the page around it.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, cast

import asyncpg
from quart import Blueprint, Quart, Response, current_app, render_template, request

from core.settings import Settings
from core.venues import LABELS
from webapp import charts
from webapp.formatting import register_filters
from webapp.security_headers import register_security_headers
from webapp.view_models.embed import embed_context
from webapp.view_models.history import history_context
from webapp.view_models.markets import markets_context, parse_markets_state
from webapp.view_models.overview import current_doc, overview_context
from webapp.view_models.page_args import STATIC_DIR
from webapp.view_models.status import status_context, status_page_context
from webapp.views.live import sse_response
from webapp.views.overview_page import OVERVIEW_REGIONS, render_overview_events

pages_bp = Blueprint("pages", __name__)

GZIP_MIN_BYTES = 1400


def register_pages(app: Quart) -> None:
    """Everything the dashboard adds to the app: routes, Jinja filters and globals, security headers."""
    register_filters(app)
    app.jinja_env.globals.update(static_url=static_url, LABELS=LABELS, VENUE_COLORS=charts.VENUE_COLORS)
    app.jinja_env.filters["venue_label"] = lambda name: LABELS.get(name, name)
    app.jinja_env.filters["spec_json"] = charts.spec_json
    app.register_blueprint(pages_bp)
    register_security_headers(app)

    @app.context_processor
    async def _page_context() -> dict[str, Any]:
        settings: Settings = app.config["PERPVOL"]
        return {"simulated": settings.simulated, "data_mode": settings.data_mode}



@lru_cache(maxsize=64)
def static_url(path: str) -> str:
    """`/static/<path>?v=<content hash>`: browsers may cache it for good, and a new build busts it."""
    try:
        digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    except OSError:
        return f"/static/{path}"
    return f"/static/{path}?v={digest}"


@pages_bp.after_request
async def _gzip_html(response: Response) -> Response:
    """Pages carry chart data and tables; gzip them (the live stream and small partials go as they are)."""
    if (
        response.mimetype != "text/html"
        or response.status_code != 200
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or "Content-Encoding" in response.headers
    ):
        return response
    body = await response.get_data(as_text=False)
    if len(body) >= GZIP_MIN_BYTES:
        response.set_data(gzip.compress(body, compresslevel=5))
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response


def _settings() -> Settings:
    settings: Settings = current_app.config["PERPVOL"]
    return settings


def _pool() -> asyncpg.Pool:
    return current_app.extensions["pool"]


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


async def _page_or_partial(page: str, partial: str, context: Mapping[str, Any], name: str) -> str:
    """The region's partial for an htmx request, else the whole page around it."""
    if _is_htmx():
        return await render_template(partial, **context)
    return await render_template(page, page=name, **context)


# ---- overview ----


@pages_bp.get("/")
async def overview() -> str:
    doc = await current_doc(_pool(), _settings(), current_app.extensions["hub"])
    return await render_template("pages/overview.html", page="overview", **await overview_context(_pool(), doc))


@pages_bp.get("/partials/<region>")
async def overview_partial(region: str) -> str | Response:
    """One overview region, as the live stream sends it (for clients that refresh a region on demand)."""
    template = OVERVIEW_REGIONS.get(region)
    if template is None:
        detail = f"no region {region!r}; use {', '.join(OVERVIEW_REGIONS)}"
        return Response(detail, status=404, mimetype="text/plain")
    doc = await current_doc(_pool(), _settings(), current_app.extensions["hub"])
    return await render_template(template, **await overview_context(_pool(), doc))


@pages_bp.get("/live/overview")
async def overview_live() -> Response:
    """Server-sent events `total`, `venues`, `share`, `top-markets`: each an overview region's HTML."""
    app = cast(Quart, current_app._get_current_object())  # type: ignore[attr-defined]
    return sse_response(lambda update: render_overview_events(app, update))


# ---- history ----


@pages_bp.get("/history")
async def history_page() -> str:
    context = await history_context(_pool(), request.args, datetime.now(UTC).date())
    return await _page_or_partial("pages/history.html", "partials/_history_panel.html", context, "history")


@pages_bp.get("/history/chart.<any(svg, png):fmt>")
async def history_export(fmt: Literal["svg", "png"]) -> Response:
    """The history chart as SVG or PNG (rendered on the server with vl-convert, light theme)."""
    import vl_convert as vlc

    context = await history_context(_pool(), request.args, datetime.now(UTC).date())
    spec = dict(context["spec"], width=960, autosize={"type": "pad"})
    state = context["state"]
    name = f"perpvol-{state.granularity}-{state.start}-{state.end}.{fmt}"
    if fmt == "svg":
        body: bytes = (await asyncio.to_thread(vlc.vegalite_to_svg, spec)).encode()
        mimetype = "image/svg+xml"
    else:
        body = await asyncio.to_thread(vlc.vegalite_to_png, spec, scale=2)
        mimetype = "image/png"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# ---- markets, status, embed ----


@pages_bp.get("/markets")
async def markets_page() -> str:
    context = await markets_context(_pool(), parse_markets_state(request.args))
    return await _page_or_partial("pages/markets.html", "partials/_markets_table.html", context, "markets")


@pages_bp.get("/status")
async def status_page() -> str:
    if _is_htmx():
        return await render_template("partials/_status_table.html", **await status_context(_pool(), _settings()))
    context = await status_page_context(_pool(), _settings())
    return await render_template("pages/status.html", page="status", **context)


@pages_bp.get("/embed")
async def embed_page() -> str:
    context = await embed_context(_pool(), request.args, request.host_url.rstrip("/"))
    return await _page_or_partial("pages/embed.html", "partials/_embed_output.html", context, "embed")
