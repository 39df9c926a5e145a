"""The Overview's live regions: each has a stable id and one partial that renders it, both in the full page
and in updates; the live stream (`/live/overview`) renders every region once per update and shares the
bytes with all clients. The figures come from `webapp.view_models.overview`.
"""

from __future__ import annotations

from quart import Quart

from webapp.broadcast import Update
from webapp.view_models.overview import overview_context
from webapp.views.live import render_once, sse_event

OVERVIEW_REGIONS = {
    "total": "partials/_total.html",
    "venues": "partials/_venues.html",
    "share": "partials/_share.html",
    "top-markets": "partials/_top_markets.html",
}


async def render_overview_events(app: Quart, update: Update) -> bytes:
    """SSE events (one per overview region) for an update; rendered once and shared by all clients."""

    async def render() -> bytes:
        context = await overview_context(app.extensions["pool"], update.doc)
        parts = []
        for name, path in OVERVIEW_REGIONS.items():
            html = await app.jinja_env.get_template(path).render_async(**context)
            parts.append(sse_event(name, html.strip()))
        return b"".join(parts)

    return await render_once(app, "overview_events", update, render)
