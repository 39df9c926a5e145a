"""The dashboard's routes: server-rendered pages, and the htmx partials that update their regions.

Each page's view model (its figures, typed) lives in `webapp/view_models/` (`overview`, `history`,
`markets`, `status`, `embed`); this module maps URLs to them and renders. htmx requests get the region's
partial (`templates/partials/_*.html`) alone, full requests the page around it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, cast

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
from webapp.views.responses import app_pool, app_settings, chart_download, gzip_html, is_htmx, page_or_partial

pages_bp = Blueprint("pages", __name__)


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


pages_bp.after_request(gzip_html)


# ---- overview ----


@pages_bp.get("/")
async def overview() -> str:
    doc = await current_doc(app_pool(), app_settings(), current_app.extensions["hub"])
    return await render_template("pages/overview.html", page="overview", **await overview_context(app_pool(), doc))


@pages_bp.get("/partials/<region>")
async def overview_partial(region: str) -> str | Response:
    """One overview region, as the live stream sends it (for clients that refresh a region on demand)."""
    template = OVERVIEW_REGIONS.get(region)
    if template is None:
        detail = f"no region {region!r}; use {', '.join(OVERVIEW_REGIONS)}"
        return Response(detail, status=404, mimetype="text/plain")
    doc = await current_doc(app_pool(), app_settings(), current_app.extensions["hub"])
    return await render_template(template, **await overview_context(app_pool(), doc))


@pages_bp.get("/live/overview")
async def overview_live() -> Response:
    """Server-sent events `total`, `venues`, `share`, `top-markets`: each an overview region's HTML."""
    app = cast(Quart, current_app._get_current_object())  # type: ignore[attr-defined]
    return sse_response(lambda update: render_overview_events(app, update))


# ---- history ----


@pages_bp.get("/history")
async def history_page() -> str:
    context = await history_context(app_pool(), request.args, datetime.now(UTC).date())
    return await page_or_partial("pages/history.html", "partials/_history_panel.html", context, "history")


@pages_bp.get("/history/chart.<any(svg, png):fmt>")
async def history_export(fmt: Literal["svg", "png"]) -> Response:
    """The history chart as SVG or PNG (rendered on the server with vl-convert, light theme)."""
    context = await history_context(app_pool(), request.args, datetime.now(UTC).date())
    state = context["state"]
    return await chart_download(context["spec"], f"perpvol-{state.granularity}-{state.start}-{state.end}.{fmt}", fmt)


# ---- markets, status, embed ----


@pages_bp.get("/markets")
async def markets_page() -> str:
    context = await markets_context(app_pool(), parse_markets_state(request.args))
    return await page_or_partial("pages/markets.html", "partials/_markets_table.html", context, "markets")


@pages_bp.get("/status")
async def status_page() -> str:
    if is_htmx():
        return await render_template("partials/_status_table.html", **await status_context(app_pool(), app_settings()))
    context = await status_page_context(app_pool(), app_settings())
    return await render_template("pages/status.html", page="status", **context)


@pages_bp.get("/embed")
async def embed_page() -> str:
    context = await embed_context(app_pool(), request.args, request.host_url.rstrip("/"))
    return await page_or_partial("pages/embed.html", "partials/_embed_output.html", context, "embed")
