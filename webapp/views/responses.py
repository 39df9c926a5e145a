"""What every view module reaches for: the app's settings and pool, the page-or-partial rule for htmx,
gzip for pages, and a chart as an SVG/PNG download."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Mapping
from typing import Any, Literal

import asyncpg
from quart import Response, current_app, render_template, request

from core.settings import Settings

GZIP_MIN_BYTES = 1400


def app_settings() -> Settings:
    settings: Settings = current_app.config["PERPVOL"]
    return settings


def app_pool() -> asyncpg.Pool:
    return current_app.extensions["pool"]


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


async def page_or_partial(page: str, partial: str, context: Mapping[str, Any], name: str) -> str:
    """The region's partial for an htmx request, else the whole page around it."""
    if is_htmx():
        return await render_template(partial, **context)
    return await render_template(page, page=name, **context)


async def gzip_html(response: Response) -> Response:
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


async def chart_download(spec: Mapping[str, Any], filename: str, fmt: Literal["svg", "png"]) -> Response:
    """A page's Vega-Lite chart as an SVG or PNG attachment, rendered with vl-convert off the event loop."""
    import vl_convert as vlc  # loaded on the first download only: it is large

    wide = dict(spec, width=960, autosize={"type": "pad"})
    if fmt == "svg":
        body: bytes = (await asyncio.to_thread(vlc.vegalite_to_svg, wide)).encode()
        mimetype = "image/svg+xml"
    else:
        body = await asyncio.to_thread(vlc.vegalite_to_png, wide, scale=2)
        mimetype = "image/png"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
