"""The Assets page's live region: the top assets (`#assets-live`), rendered once per current-volume update
for every client of `/live/assets`. The figures come from `webapp.view_models.assets`.
"""

from __future__ import annotations

from quart import Quart

from webapp.broadcast import Update
from webapp.view_models.assets import assets_context
from webapp.views.live import render_once, sse_event

__all__ = ["render_assets_events"]


async def render_assets_events(app: Quart, update: Update) -> bytes:
    """The `assets` SSE event (the unfiltered top assets, `#assets-live`), rendered once per update for all
    clients."""

    async def render() -> bytes:
        context = await assets_context(app.extensions["pool"], update.doc)
        html = await app.jinja_env.get_template("partials/_assets_live.html").render_async(**context)
        return sse_event("assets", html.strip())

    return await render_once(app, "assets_events", update, render)
