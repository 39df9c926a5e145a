"""The dashboard pages against a real PostgreSQL and Redis: real numbers server-rendered, partials for
htmx, the simulated-data banner, security headers, and a compiled stylesheet that is current."""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client

from core.settings import Settings
from exchanges.base import CurrentSnapshot, DailyVolume, MarketVolume
from storage.current_cache import build_from_db, encode
from storage.queries import daily, snapshots, status
from webapp.app import create_app
from webapp.broadcast import Update
from webapp.formatting import age, percent, signed_percent, usd_compact, usd_full
from webapp.view_models import embed as embed_page
from webapp.views import overview_page

ROOT = Path(__file__).resolve().parents[2]
HX = {"HX-Request": "true"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def seed_current(db: asyncpg.Pool, stale_woox: bool = True) -> datetime:
    """Bybit and Hyperliquid fresh; WOO X last answered an hour ago and has failed since."""
    now = datetime.now(UTC)
    figures = {"bybit": ("12345678901.23", "2.5"), "hyperliquid": ("7000000.125",), "woox": ("99",)}
    for exchange, values in figures.items():
        taken = now - timedelta(hours=1) if exchange == "woox" and stale_woox else now
        snap = CurrentSnapshot(
            exchange,  # type: ignore[arg-type]
            as_of=taken,
            source=f"{exchange} tickers",
            markets=tuple(MarketVolume(f"{exchange.upper()}-M{i}", Decimal(v)) for i, v in enumerate(values)),
        )
        await snapshots.insert_snapshot(db, snap, taken_at=taken)
        await status.record_success(db, exchange, taken)
    if stale_woox:
        await status.record_failure(db, "woox", now, "HTTP 503 from api.woox.io: service unavailable")
    return now


async def seed_days(db: asyncpg.Pool, count: int = 40) -> date:
    today = datetime.now(UTC).date()
    rows = []
    for i in range(1, count + 1):
        day = today - timedelta(days=i)
        rows.append(DailyVolume("bybit", "BTCUSDT", day, Decimal("1000.5"), source="kline", complete=True))
        if i != 5:  # a gap: Hyperliquid has no row five days ago
            rows.append(DailyVolume("hyperliquid", "BTC", day, Decimal("250"), source="candle", complete=True))
    await daily.upsert_daily_volumes(db, rows, fetched_at=datetime.now(UTC))
    return today


async def text(client: Client, path: str, headers: dict[str, str] | None = None) -> str:
    response = await client.get(path, headers=headers or {})
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_data(as_text=True)


# ---- formats ----


def test_money_is_compact_for_the_eye_and_exact_in_full() -> None:
    assert usd_compact("12345678901.23") == "$12.35B"
    assert usd_compact("999999.999") == "$1.00M"
    assert usd_full("12345678901.23") == "$12,345,678,901.23"
    assert usd_full("0.000001") == "$0.000001"
    assert usd_compact(None) == "—" and percent("0.43215") == "43.22%"
    assert signed_percent("-1.5") == "−1.50%" and age(3725) == "1 h 2 min"


# ---- overview ----


async def test_overview_renders_the_api_total_before_any_script_runs(client: Client, db: asyncpg.Pool) -> None:
    await seed_current(db)
    api = await (await client.get("/api/volume/current")).get_json()
    html = await text(client, "/")
    assert api["total_usd"] == "12352678903.855"
    assert f'<data class="num " value="{api["total_usd"]}" title="$12,352,678,903.855 USD">$12.35B</data>' in html
    assert 'sse-connect="/live/overview"' in html and 'id="share-spec"' in html
    assert "UTC" in html and "vega-embed-7.3.0.min.js" in html


async def test_overview_shows_no_figure_rather_than_zero_when_no_venue_counts(client: Client) -> None:
    html = await text(client, "/")
    assert 'title="No venue has a fresh figure">—</p>' in html
    assert "$0.00" not in html


async def test_overview_when_no_exchange_answers_shows_the_reason_a_banner_and_marks_the_venues_down(
    settings: Settings, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    for exchange in ("bybit", "woox", "hyperliquid", "paradex"):
        await status.record_failure(db, exchange, now, f"{exchange}: name or service not known")
    app = create_app(settings)
    async with app.test_app() as test_app:
        html = await text(test_app.test_client(), "/")
    assert 'id="no-venue-banner" role="alert"' in html
    assert "check the network or proxy, or try <code>./run up --simulate</code>" in html
    assert '<p id="no-data-reason" class="text-sm font-medium">No data: cannot reach any exchange</p>' in html
    # The live indicator reads this: the feed may be up, but no venue is.
    assert 'data-venue-health="none"' in html
    assert "$0.00" not in html


async def test_overview_with_a_venue_counted_has_no_unreachable_banner(client: Client, db: asyncpg.Pool) -> None:
    await seed_current(db)
    html = await text(client, "/")
    assert "no-venue-banner" not in html and "no-data-reason" not in html
    assert 'data-venue-health="partial"' in html


async def test_history_without_any_stored_day_says_no_data_rather_than_zero(client: Client) -> None:
    html = await text(client, "/history?range=30d&granularity=daily", HX)
    total = html[html.index('id="history-total"') :]
    total = total[: total.index("</dd>")]
    assert "no data" in total and "$0" not in total


async def test_overview_shows_a_stale_venue_with_its_age_and_error(client: Client, db: asyncpg.Pool) -> None:
    await seed_current(db)
    html = await text(client, "/")
    card = html[html.index('id="venue-woox"') :]
    card = card[: card.index("</li>")]
    assert 'data-stale="true"' in card and "Stale" in card
    assert "1 h old" in card and "HTTP 503 from api.woox.io" in card
    assert "Left out (stale)" in html and "not in the total" in card


async def test_overview_regions_are_served_as_partials(client: Client, db: asyncpg.Pool) -> None:
    await seed_current(db)
    for region in overview_page.OVERVIEW_REGIONS:
        html = await text(client, f"/partials/{region}", HX)
        assert "<html" not in html
    top = await text(client, "/partials/top-markets", HX)
    assert top.index("BYBIT-M0") < top.index("HYPERLIQUID-M0")
    assert (await client.get("/partials/nope")).status_code == 404


async def test_live_stream_renders_every_region_once_per_update(settings: Settings, db: asyncpg.Pool) -> None:
    await seed_current(db)
    app = create_app(settings)
    async with app.test_app():
        doc = await build_from_db(app.extensions["pool"], settings)
        update = Update(seq=7, payload=encode(doc))
        first = await overview_page.render_overview_events(app, update)
        again = await overview_page.render_overview_events(app, update)
    assert first is again
    events = re.findall(rb"^event: (\S+)$", first, re.M)
    assert events == [b"total", b"venues", b"share", b"top-markets"]
    assert b"$12.35B" in first


async def test_banner_says_when_the_data_is_simulated(settings: Settings) -> None:
    for mode, shown in (("simulated", True), ("real", False)):
        app = create_app(settings.model_copy(update={"data_mode": mode}))
        async with app.test_app() as test_app:
            html = await text(test_app.test_client(), "/status")
        assert ('id="simulated-banner"' in html) is shown


# ---- history ----


async def test_history_shows_gaps_and_keeps_its_state_in_the_url(client: Client, db: asyncpg.Pool) -> None:
    today = await seed_days(db)
    html = await text(client, "/history?range=30d&granularity=daily")
    assert 'id="history-form"' in html and 'hx-push-url="true"' in html

    def gaps(day: date) -> str:
        row = html[html.index(f">{day.isoformat()}<") :]
        return row[: row.index("</tr>")]

    assert "Hyperliquid" in gaps(today - timedelta(days=5))
    assert "Hyperliquid" not in gaps(today - timedelta(days=6))
    partial = await text(client, "/history?range=90d&granularity=weekly&view=share", HX)
    assert partial.lstrip().startswith('<section id="history-panel"')
    assert "range=90d&amp;granularity=weekly&amp;scale=linear&amp;view=share" in partial
    assert '"offset":"normalize"' in partial


async def test_history_totals_match_the_api(client: Client, db: asyncpg.Pool) -> None:
    today = await seed_days(db, count=20)
    start = today - timedelta(days=29)
    api = await (await client.get(f"/api/volume/historical?start_date={start}&granularity=weekly")).get_json()
    partial = await text(client, "/history?range=30d&granularity=weekly", HX)
    total = sum(Decimal(p["total_usd"]) for p in api["periods"] if p["total_usd"])
    assert f'value="{total}"' in partial


async def test_history_custom_range_and_bad_input_fall_back_with_a_message(client: Client) -> None:
    html = await text(client, "/history?range=custom&start=2024-05-10&end=2024-05-01", HX)
    assert "is after the end" in html
    html = await text(client, "/history?range=bogus&granularity=hourly", HX)
    assert "daily" in html


async def test_history_chart_downloads_as_svg(client: Client, db: asyncpg.Pool) -> None:
    await seed_days(db, count=10)
    response = await client.get("/history/chart.svg?range=30d")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert (await response.get_data(as_text=True)).lstrip().startswith("<svg")


# ---- markets, status, embed ----


async def test_markets_sort_filter_and_search(client: Client, db: asyncpg.Pool) -> None:
    await seed_current(db, stale_woox=False)
    html = await text(client, "/markets")
    assert html.index("BYBIT-M0") < html.index("HYPERLIQUID-M0") < html.index("WOOX-M0")
    ascending = await text(client, "/markets?sort=volume&dir=asc", HX)
    assert ascending.index("BYBIT-M1") < ascending.index("WOOX-M0") < ascending.index("BYBIT-M0")
    only = await text(client, "/markets?exchange=hyperliquid", HX)
    assert "HYPERLIQUID-M0" in only and "BYBIT-M0" not in only
    found = await text(client, "/markets?q=woox", HX)
    assert "WOOX-M0" in found and "BYBIT" not in found and 'aria-sort="descending"' in found


async def test_status_shows_health_errors_and_completeness(client: Client, db: asyncpg.Pool) -> None:
    await seed_current(db)
    await seed_days(db, count=3)
    html = await text(client, "/status")
    woox = html[html.index('id="status-woox"') :]
    assert "Unhealthy" in woox[:600] and "HTTP 503" in woox
    assert "UTC days since" in html
    assert (await text(client, "/status", HX)).lstrip().startswith('<section id="status-table"')


async def test_embed_builds_the_snippet_from_the_choices(client: Client) -> None:
    html = await text(client, "/embed?theme=dark&layout=badge&exchange=bybit&exchange=hyperliquid&refresh=60", HX)
    snippet = (
        '<script src="http://localhost/widget.js" data-theme="dark" data-layout="badge" '
        'data-exchanges="bybit,hyperliquid" data-refresh="60" async></script>'
    )
    assert snippet in html_lib.unescape(html)
    choice = embed_page.parse_embed_choice(pages_args(refresh="5", theme="neon"))
    assert choice.refresh == 10 and choice.theme == "auto" and choice.exchanges == list(embed_page.EXCHANGES)


def pages_args(**values: str) -> object:
    from werkzeug.datastructures import MultiDict

    return MultiDict(values)


# ---- not found, /docs ----

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def test_a_mistyped_page_url_in_a_browser_gets_an_html_404_in_the_site_layout(client: Client) -> None:
    response = await client.get("/histroy", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = await response.get_data(as_text=True)
    assert html.startswith("<!doctype html>") and '<nav aria-label="Main"' in html
    assert "Page not found" in html and "<code class=\"font-mono\">/histroy</code>" in html


async def test_api_paths_and_clients_asking_for_json_still_get_a_json_404(client: Client) -> None:
    for path, accept in (("/api/nope", BROWSER_ACCEPT), ("/nope", "application/json"), ("/nope", "*/*")):
        response = await client.get(path, headers={"Accept": accept})
        assert response.status_code == 404 and response.mimetype == "application/json", (path, accept)
        assert (await response.get_json())["error"] == "not_found"


async def test_docs_is_a_complete_html_document(client: Client) -> None:
    html = await text(client, "/docs")
    assert html.startswith("<!doctype html>\n<html lang=\"en\">")
    assert '<meta charset="utf-8">' in html and html.rstrip().endswith("</html>")
    assert '<div id="swagger-ui"></div>' in html and 'url: "/openapi.json"' in html


# ---- headers and assets ----


async def test_every_page_has_security_headers(client: Client) -> None:
    for path in ("/", "/history", "/markets", "/status", "/embed"):
        response = await client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]+)", csp)
        assert script_src and "unsafe-inline" not in script_src.group(1) and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        html = await response.get_data(as_text=True)
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
        assert all('type="application/json"' in attrs for attrs in inline), path
        assert " style=" not in html and "<style" not in html


async def test_docs_page_allows_only_its_own_inline_script(client: Client) -> None:
    response = await client.get("/docs")
    csp = response.headers["Content-Security-Policy"]
    assert "'sha256-" in csp and "unsafe-inline" not in csp.split("style-src")[0]


async def test_pages_are_gzipped_when_the_browser_accepts_it(client: Client) -> None:
    response = await client.get("/markets", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers.get("Content-Encoding") == "gzip"


def test_compiled_css_is_current(tmp_path: Path) -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules/.bin/tailwindcss").exists():
        pytest.skip("needs Node and `npm ci` (the Tailwind CLI)")
    out = tmp_path / "app.css"
    subprocess.run([str(ROOT / "scripts/build-css"), str(out)], check=True, cwd=ROOT, timeout=60)
    committed = (ROOT / "static/css/app.css").read_text()
    assert out.read_text() == committed, "static/css/app.css is stale: run scripts/build-css"


def test_vendored_files_are_the_pinned_versions() -> None:
    vendor = ROOT / "static/vendor"
    for name in (
        "htmx-2.0.11.min.js",
        "htmx-ext-sse-2.2.4.js",
        "htmx-ext-ws-2.0.4.js",
        "vega-6.2.0.min.js",
        "vega-lite-6.4.3.min.js",
        "vega-embed-7.3.0.min.js",
    ):
        assert (vendor / name).stat().st_size > 1000, name
