"""`/widget.js` and `/widget/<version>.js`: the built widget, cross-origin loadable, cached as intended."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quart import Quart

from webapp.views.widget import WIDGET_DIR, widget_bp

VERSION = json.loads((Path(__file__).parents[2] / "widget" / "package.json").read_text())["version"]


@pytest.fixture
def app() -> Quart:
    app = Quart(__name__)
    app.register_blueprint(widget_bp)
    return app


async def test_latest_script_is_cross_origin_javascript_with_a_short_cache(app: Quart) -> None:
    response = await app.test_client().get("/widget.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers
    body = await response.get_data()
    assert body == (WIDGET_DIR / "widget.js").read_bytes()
    assert b"perpvol-volume" in body


async def test_versioned_script_is_immutable(app: Quart) -> None:
    response = await app.test_client().get(f"/widget/{VERSION}.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert await response.get_data() == (WIDGET_DIR / f"widget-{VERSION}.js").read_bytes()


async def test_the_latest_build_is_the_current_version(app: Quart) -> None:
    latest = await (await app.test_client().get("/widget.js")).get_data()
    versioned = await (await app.test_client().get(f"/widget/{VERSION}.js")).get_data()
    assert latest == versioned
    assert f"perpvol widget {VERSION} ".encode() in latest


async def test_conditional_get_answers_304(app: Quart) -> None:
    client = app.test_client()
    etag = (await client.get("/widget.js")).headers["ETag"]
    response = await client.get("/widget.js", headers={"If-None-Match": etag})
    assert response.status_code == 304


@pytest.mark.parametrize(
    "path",
    ["/widget/0.0.0.js", "/widget/latest.js", "/widget/..%2f..%2fpyproject.js", "/widget/1.0.0%00.js"],
)
async def test_unknown_or_malformed_versions_are_404(app: Quart, path: str) -> None:
    response = await app.test_client().get(path)
    assert response.status_code == 404
