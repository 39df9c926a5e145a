"""The Assets pages' routes: `/assets` (live top assets), `/assets/<ASSET>` (venues, markets, history),
`/assets/compare` (two to five assets), and each page's htmx partial and chart export."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, cast

from quart import Blueprint, Quart, Response, current_app, render_template, request

from webapp.view_models.assets import AssetContext, asset_context, assets_context, compare_context, parse_asset_name
from webapp.view_models.overview import current_doc
from webapp.views import assets_api
from webapp.views.assets_page import render_assets_events
from webapp.views.live import sse_response
from webapp.views.responses import app_pool, app_settings, chart_download, gzip_html, is_htmx, page_or_partial

assets_pages_bp = Blueprint("asset_pages", __name__)
assets_pages_bp.after_request(gzip_html)


def _not_found(detail: str) -> Response:
    return Response(detail, status=404, mimetype="text/plain")


@assets_pages_bp.get("/assets")
async def assets_page() -> str:
    doc = await current_doc(app_pool(), app_settings(), current_app.extensions["hub"])
    context = await assets_context(app_pool(), doc, request.args.get("q", ""))
    return await page_or_partial("pages/assets.html", "partials/_assets_panel.html", context, "assets")


@assets_pages_bp.get("/live/assets")
async def assets_live() -> Response:
    """Server-sent events `assets`: the top-assets panel's HTML, once per current-volume update."""
    app = cast(Quart, current_app._get_current_object())  # type: ignore[attr-defined]
    return sse_response(lambda update: render_assets_events(app, update))


@assets_pages_bp.get("/assets/compare")
async def compare_page() -> str:
    context = await compare_context(app_pool(), request.args, datetime.now(UTC).date())
    return await page_or_partial("pages/asset_compare.html", "partials/_asset_compare.html", context, "assets")


async def _asset_context(asset: str) -> AssetContext | None:
    """The asset page's context, or None when the name is not an asset perpvol knows."""
    name = parse_asset_name(asset)
    if name is None:
        return None
    return await asset_context(app_pool(), app_settings(), name, request.args, datetime.now(UTC).date())


@assets_pages_bp.get("/assets/<asset>")
async def asset_page(asset: str) -> str | Response:
    context = await _asset_context(asset)
    if context is None:
        return _not_found(f"no perp market of {asset!r} is known; see /assets")
    if is_htmx():
        return await render_template("partials/_asset_history.html", **context)
    return await render_template("pages/asset.html", page="assets", **context)


@assets_pages_bp.get("/assets/<asset>/chart.<any(svg, png):fmt>")
async def asset_export(asset: str, fmt: Literal["svg", "png"]) -> Response:
    """The asset's history chart (as on its page: `view=volume` or `share`) as SVG or PNG (vl-convert)."""
    context = await _asset_context(asset)
    if context is None:
        return _not_found(f"no perp market of {asset!r} is known; see /assets")
    state = context["state"]
    filename = f"perpvol-{context['asset']}-{state.view}-{state.granularity}-{state.start}-{state.end}.{fmt}"
    return await chart_download(context["spec"], filename, fmt)


def register_asset_pages(app: Quart) -> None:
    """Everything issue 12 adds to the app: the assets API, the widget's asset endpoint and the pages."""
    for blueprint in (assets_api.blueprint, assets_api.public_blueprint, assets_pages_bp):
        app.register_blueprint(blueprint)
