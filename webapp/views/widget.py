"""The embeddable widget's script, built from `widget/` into `static/widget/` (see widget/README.md).

- `/widget.js`: the current build; cached for 5 minutes so a new release reaches embedders soon.
- `/widget/<version>.js`: one release, never changed once published; cached for a year (immutable).

Both are loaded by other websites: CORS is open and `Cross-Origin-Resource-Policy: cross-origin` lets
pages with COEP load them. No cookies are read or set.
"""

from __future__ import annotations

import re
from pathlib import Path

from quart import Blueprint, Response, abort
from quart.helpers import send_from_directory
from quart_schema import hide

WIDGET_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "widget"
LATEST_CACHE = "public, max-age=300"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
VERSION = re.compile(r"\d{1,4}\.\d{1,4}\.\d{1,4}(?:-[0-9A-Za-z.]{1,32})?")

widget_bp = Blueprint("widget", __name__)


@widget_bp.get("/widget.js")
@hide
async def widget_latest() -> Response:
    return await _script("widget.js", LATEST_CACHE)


@widget_bp.get("/widget/<version>.js")
@hide
async def widget_versioned(version: str) -> Response:
    if not VERSION.fullmatch(version):
        abort(404)
    return await _script(f"widget-{version}.js", VERSIONED_CACHE)


async def _script(name: str, cache_control: str) -> Response:
    if not (WIDGET_DIR / name).is_file():
        abort(404)
    response = await send_from_directory(WIDGET_DIR, name, mimetype="application/javascript")
    response.headers["Cache-Control"] = cache_control
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
