"""The dashboard: server-rendered pages, and the htmx partials that update their regions.

Each live region has a stable id and one partial (`templates/partials/_*.html`) that renders it, both
in the full page and in updates: htmx requests get the partial alone, and the overview's regions are
pushed over server-sent events (`/live/overview`), rendered once per update for every client.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlencode

import asyncpg
from quart import Blueprint, Quart, Response, current_app, render_template, request

from webapp import charts
from webapp.broadcast import Hub, Update
from webapp.current import build_from_db
from webapp.formatting import register_filters
from webapp.live_state import EXCHANGES, LABELS
from webapp.queries import checkpoints, daily, history, snapshots, status
from webapp.queries import dashboard as dash
from webapp.security_headers import register_security_headers
from webapp.settings import Settings
from webapp.views.api import MAX_RANGE_DAYS, money
from webapp.views.api import _period as period_document
from webapp.views.live import HEARTBEAT_SECONDS, SSE_RETRY_MS, sse_event

pages_bp = Blueprint("pages", __name__)

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
TOP_MARKETS = 10
GZIP_MIN_BYTES = 1400
PRESETS = {"30d": 30, "90d": 90, "1y": 365, "2y": 730}
RANGES = (*PRESETS, "all", "custom")
OVERVIEW_REGIONS = {
    "total": "partials/_total.html",
    "venues": "partials/_venues.html",
    "share": "partials/_share.html",
    "top-markets": "partials/_top_markets.html",
}


def register_pages(app: Quart) -> None:
    """Everything the dashboard adds to the app: routes, Jinja filters and globals, security headers."""
    register_filters(app)
    app.jinja_env.globals.update(static_url=static_url, LABELS=LABELS, VENUE_COLORS=charts.VENUE_COLORS)
    app.jinja_env.filters["venue_label"] = lambda name: LABELS.get(name, name)
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


# ---- overview ----


async def current_doc(pool: asyncpg.Pool, settings: Settings, hub: Hub) -> dict[str, Any]:
    """The current-volume document from PostgreSQL, else the latest one the live feed delivered."""
    try:
        return await build_from_db(pool, settings)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        if hub.latest is None:
            raise
        return dict(hub.latest.doc)


async def overview_context(pool: asyncpg.Pool, doc: dict[str, Any]) -> dict[str, Any]:
    try:
        markets = await snapshots.select_top_markets(pool, TOP_MARKETS)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        markets = []
    total = Decimal(doc["total_usd"])
    return {
        "doc": doc,
        "top_markets": [
            {
                "exchange": m.exchange,
                "label": LABELS.get(m.exchange, m.exchange),
                "symbol": m.symbol,
                "base": m.base,
                "quote": m.quote,
                "volume_usd": money(m.volume_usd),
                "estimated": m.estimated,
                "share": money(m.volume_usd / total) if total else None,
            }
            for m in markets
        ],
        "share_spec": charts.share_chart(doc),
    }


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


@dataclass
class _RenderedUpdate:
    seq: int = -1
    payload: bytes = b""
    lock: asyncio.Lock | None = None


async def render_overview_events(app: Quart, update: Update) -> bytes:
    """SSE events (one per overview region) for an update; rendered once and shared by all clients."""
    cache: _RenderedUpdate = app.extensions.setdefault("overview_events", _RenderedUpdate(lock=asyncio.Lock()))
    assert cache.lock is not None
    async with cache.lock:
        if cache.seq != update.seq:
            context = await overview_context(app.extensions["pool"], update.doc)
            parts = []
            for name, path in OVERVIEW_REGIONS.items():
                html = await app.jinja_env.get_template(path).render_async(**context)
                parts.append(sse_event(name, html.strip()))
            cache.seq, cache.payload = update.seq, b"".join(parts)
        return cache.payload


async def _overview_stream(app: Quart, hub: Hub, heartbeat: float) -> AsyncIterator[bytes]:
    yield f"retry: {SSE_RETRY_MS}\n\n".encode()
    async with hub.subscribe() as sub:
        while True:
            try:
                update = await sub.next(within=heartbeat)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if update is None:
                return
            yield await render_overview_events(app, update)


@pages_bp.get("/live/overview")
async def overview_live() -> Response:
    """Server-sent events `total`, `venues`, `share`, `top-markets`: each an overview region's HTML."""
    app = cast(Quart, current_app._get_current_object())  # type: ignore[attr-defined]
    heartbeat = float(app.config.get("PERPVOL_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
    response = Response(
        _overview_stream(app, app.extensions["hub"], heartbeat),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None
    return response


# ---- history ----


@dataclass(frozen=True)
class HistoryState:
    """What the history page shows; all of it lives in the URL."""

    range: str
    start: date
    end: date
    granularity: history.Granularity
    scale: charts.Scale
    view: charts.View
    exchanges: list[str]
    error: str | None = None

    def query(self, **changes: str) -> str:
        params = {
            "range": self.range,
            "granularity": self.granularity,
            "scale": self.scale,
            "view": self.view,
        }
        if self.range == "custom":
            params.update(start=self.start.isoformat(), end=self.end.isoformat())
        if list(self.exchanges) != list(EXCHANGES):
            params["exchange"] = ",".join(self.exchanges)
        params.update(changes)
        return urlencode(params)

    def api_query(self) -> str:
        return urlencode(
            {
                "start_date": self.start.isoformat(),
                "end_date": self.end.isoformat(),
                "granularity": self.granularity,
                "exchange": ",".join(self.exchanges),
            }
        )


def _choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def _parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_history_state(args: Any, today: date, first_day: date | None) -> HistoryState:
    """The page state from query arguments; anything invalid falls back to a default and says so."""
    chosen = _choice(args.get("range"), RANGES, "1y")
    granularity = cast(history.Granularity, _choice(args.get("granularity"), history.GRANULARITIES, "daily"))
    scale = cast(charts.Scale, _choice(args.get("scale"), ("linear", "log"), "linear"))
    view = cast(charts.View, _choice(args.get("view"), ("volume", "share"), "volume"))
    wanted = [e.strip() for e in (args.get("exchange") or "").split(",") if e.strip()]
    exchanges = [e for e in EXCHANGES if e in wanted] or list(EXCHANGES)
    error = None
    end = today
    if chosen in PRESETS:
        start = today - timedelta(days=PRESETS[chosen] - 1)
    elif chosen == "all":
        start = first_day or today - timedelta(days=364)
    else:
        start_arg, end_arg = _parse_day(args.get("start")), _parse_day(args.get("end"))
        end = min(end_arg or today, today)
        start = start_arg or end - timedelta(days=364)
        if start > end:
            error = f"The start {start} is after the end {end}; showing the year before the end."
            start = end - timedelta(days=364)
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        start = end - timedelta(days=MAX_RANGE_DAYS - 1)
        error = f"At most {MAX_RANGE_DAYS} days at once; showing the last {MAX_RANGE_DAYS}."
    return HistoryState(chosen, start, end, granularity, scale, view, exchanges, error)


async def load_periods(pool: asyncpg.Pool, state: HistoryState, today: date) -> list[dict[str, Any]]:
    """Period documents shaped like the API's (`/api/volume/historical`), from the fast page reads."""
    spans = history.periods(state.start, state.end, state.granularity)
    cutoff = today - timedelta(days=1)
    async with pool.acquire() as conn:
        rows = await dash.select_period_totals(conn, state.start, state.end, state.granularity, state.exchanges)
        lagging = await dash.select_lagging_markets(conn, cutoff, state.exchanges)
    pending = dash.pending_by_period(lagging, [(key, min(last, cutoff)) for key, _, last in spans])
    found = {(r.period_start, r.exchange): r for r in rows}
    return [period_document(span, state.exchanges, found, pending) for span in spans]


def history_summary(periods: list[dict[str, Any]], exchanges: list[str]) -> dict[str, Any]:
    totals = {name: Decimal(0) for name in exchanges}
    for period in periods:
        for venue in period["exchanges"]:
            if venue["volume_usd"] is not None:
                totals[venue["exchange"]] += Decimal(venue["volume_usd"])
    grand = sum(totals.values(), Decimal(0))
    return {
        "total_usd": money(grand),
        "venues": [
            {"exchange": n, "volume_usd": money(v), "share": money(v / grand) if grand else None}
            for n, v in totals.items()
        ],
        "gaps": sum(1 for p in periods if not p["complete"]),
    }


async def history_context() -> dict[str, Any]:
    today = datetime.now(UTC).date()
    async with _pool().acquire() as conn:
        bounds = await daily.select_daily_bounds(conn)
    first = min((b.first_day for b in bounds.values()), default=None)
    state = parse_history_state(request.args, today, first)
    periods = await load_periods(_pool(), state, today)
    spec = charts.history_chart(
        periods, state.exchanges, granularity=state.granularity, view=state.view, scale=state.scale
    )
    return {
        "state": state,
        "periods": periods,
        "spec": spec,
        "summary": history_summary(periods, state.exchanges),
        "presets": RANGES,
        "today": today,
    }


@pages_bp.get("/history")
async def history_page() -> str:
    context = await history_context()
    if _is_htmx():
        return await render_template("partials/_history_panel.html", **context)
    return await render_template("pages/history.html", page="history", **context)


@pages_bp.get("/history/chart.<any(svg, png):fmt>")
async def history_export(fmt: Literal["svg", "png"]) -> Response:
    """The history chart as SVG or PNG (rendered on the server with vl-convert, light theme)."""
    import vl_convert as vlc

    context = await history_context()
    spec = dict(context["spec"], width=960, autosize={"type": "pad"})
    state: HistoryState = context["state"]
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


# ---- markets ----

MARKET_SORTS = ("volume", "market", "venue")


@dataclass(frozen=True)
class MarketsState:
    sort: str
    direction: str
    exchange: str
    q: str

    def query(self, **changes: str) -> str:
        params = {"sort": self.sort, "dir": self.direction, "exchange": self.exchange, "q": self.q}
        params.update(changes)
        return urlencode({k: v for k, v in params.items() if v})

    def sort_query(self, column: str) -> str:
        """The link of a column header: sort by it, or flip the direction when it is already sorted."""
        flipped = "asc" if self.direction == "desc" else "desc"
        first = "desc" if column == "volume" else "asc"
        return self.query(sort=column, dir=flipped if column == self.sort else first)

    def aria_sort(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "ascending" if self.direction == "asc" else "descending"


def parse_markets_state(args: Any) -> MarketsState:
    return MarketsState(
        sort=_choice(args.get("sort"), MARKET_SORTS, "volume"),
        direction=_choice(args.get("dir"), ("asc", "desc"), "desc"),
        exchange=_choice(args.get("exchange"), EXCHANGES, ""),
        q=(args.get("q") or "").strip()[:40],
    )


def market_rows(markets: list[Any], state: MarketsState) -> tuple[list[dict[str, Any]], str]:
    """Rows matching the filter, sorted; shares are of all listed markets' 24h volume."""
    total = sum((m.volume_usd for m in markets), Decimal(0))
    needle = state.q.lower()
    rows = [
        {
            "exchange": m.exchange,
            "label": LABELS.get(m.exchange, m.exchange),
            "symbol": m.symbol,
            "base": m.base or "",
            "quote": m.quote or "",
            "volume": m.volume_usd,
            "volume_usd": money(m.volume_usd),
            "estimated": m.estimated,
            "share": money(m.volume_usd / total) if total else None,
        }
        for m in markets
        if (not state.exchange or m.exchange == state.exchange)
        and (not needle or needle in m.symbol.lower() or needle in (m.base or "").lower())
    ]
    keys = {
        "volume": lambda r: (r["volume"], r["symbol"]),
        "market": lambda r: (r["symbol"].lower(), r["exchange"]),
        "venue": lambda r: (EXCHANGES.index(r["exchange"]), -r["volume"]),
    }
    rows.sort(key=keys[state.sort], reverse=state.direction == "desc")
    return rows, money(total) or "0"


@pages_bp.get("/markets")
async def markets_page() -> str:
    state = parse_markets_state(request.args)
    markets = await snapshots.select_top_markets(_pool(), 100_000)
    rows, total = market_rows(markets, state)
    context = {"state": state, "rows": rows, "total_usd": total, "market_count": len(markets)}
    if _is_htmx():
        return await render_template("partials/_markets_table.html", **context)
    return await render_template("pages/markets.html", page="markets", **context)


# ---- status ----


async def status_context(pool: asyncpg.Pool, settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC)
    yesterday = now.date() - timedelta(days=1)
    window_start = now.date() - timedelta(days=settings.history_days)
    async with pool.acquire() as conn:
        health = await status.select_venue_status(conn)
        progress = await checkpoints.select_backfill_progress(conn)
        bounds = await daily.select_daily_bounds(conn)
        stored = await dash.select_days_stored(conn, window_start, yesterday)
    expected = (yesterday - window_start).days + 1
    venues = []
    for row in health:
        success = row.last_success
        healthy = (
            success is not None
            and (now - success).total_seconds() <= settings.stale_seconds
            and (row.last_error_at is None or row.last_error_at <= success)
        )
        venues.append(
            {
                "row": row,
                "healthy": healthy,
                "progress": progress.get(row.exchange),
                "bounds": bounds.get(row.exchange),
                "days_stored": stored.get(row.exchange, 0),
            }
        )
    return {
        "venues": venues,
        "now": now,
        "days_expected": expected,
        "window_start": window_start,
        "yesterday": yesterday,
        "stale_seconds": settings.stale_seconds,
    }


@pages_bp.get("/status")
async def status_page() -> str:
    context = await status_context(_pool(), _settings())
    if _is_htmx():
        return await render_template("partials/_status_table.html", **context)
    return await render_template("pages/status.html", page="status", **context)


# ---- embed ----

EMBED_THEMES = ("auto", "light", "dark")
EMBED_LAYOUTS = ("badge", "card")
WIDGET_PATH = "/widget.js"


@dataclass(frozen=True)
class EmbedChoice:
    theme: str
    layout: str
    exchanges: list[str]
    refresh: int

    def attributes(self) -> list[tuple[str, str]]:
        attrs = [("data-theme", self.theme), ("data-layout", self.layout)]
        if self.exchanges != list(EXCHANGES):
            attrs.append(("data-exchanges", ",".join(self.exchanges)))
        attrs.append(("data-refresh", str(self.refresh)))
        return attrs


def parse_embed_choice(args: Any) -> EmbedChoice:
    chosen = [e for e in EXCHANGES if e in args.getlist("exchange")]
    try:
        refresh = min(max(int(args.get("refresh", 30)), 10), 3600)
    except ValueError:
        refresh = 30
    return EmbedChoice(
        theme=_choice(args.get("theme"), EMBED_THEMES, "auto"),
        layout=_choice(args.get("layout"), EMBED_LAYOUTS, "card"),
        exchanges=chosen or list(EXCHANGES),
        refresh=refresh,
    )


def embed_snippet(choice: EmbedChoice, origin: str) -> str:
    """The `<script>` tag a site owner pastes: it loads the widget and configures it from data-*."""
    attrs = " ".join(f'{name}="{value}"' for name, value in choice.attributes())
    return f'<script src="{origin}/widget.js" {attrs} async></script>'


def widget_served() -> bool:
    """The widget is built and the app serves it at /widget.js (so the preview can load it)."""
    routes = {rule.rule for rule in current_app.url_map.iter_rules()}
    return WIDGET_PATH in routes and (STATIC_DIR / "widget" / "widget.js").is_file()


@pages_bp.get("/embed")
async def embed_page() -> str:
    choice = parse_embed_choice(request.args)
    origin = request.host_url.rstrip("/")
    context = {
        "choice": choice,
        "snippet": embed_snippet(choice, origin),
        "themes": EMBED_THEMES,
        "layouts": EMBED_LAYOUTS,
        "widget_ready": widget_served(),
    }
    if _is_htmx():
        return await render_template("partials/_embed_output.html", **context)
    return await render_template("pages/embed.html", page="embed", **context)
