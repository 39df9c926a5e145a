"""The Embed page's view model: the widget configurator's choices and the snippet they make."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypedDict

import asyncpg
from quart import current_app

from core.current_volume import EXCHANGES
from storage.queries import assets as assets_q
from webapp.view_models import page_args

EMBED_THEMES = ("auto", "light", "dark")
EMBED_LAYOUTS = ("badge", "card")
WIDGET_PATH = "/widget.js"
# The names the widget accepts for data-asset (widget/src/index.js checks the same pattern).
_ASSET = re.compile(r"[A-Za-z0-9]{1,40}")


@dataclass(frozen=True)
class EmbedChoice:
    theme: str
    layout: str
    exchanges: list[str]
    refresh: int
    # data-asset: one coin's cross-venue volume instead of the venues' totals; None for the totals.
    asset: str | None = None
    # What was typed in the asset field when it is not an asset name (shown back with the reason).
    asset_rejected: str | None = None

    def attributes(self) -> list[tuple[str, str]]:
        attrs = [("data-theme", self.theme), ("data-layout", self.layout)]
        if self.asset:
            attrs.append(("data-asset", self.asset))
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
    typed = (args.get("asset") or "").strip()
    asset = typed.upper() if _ASSET.fullmatch(typed) else None
    return EmbedChoice(
        theme=page_args.choice(args.get("theme"), EMBED_THEMES, "auto"),
        layout=page_args.choice(args.get("layout"), EMBED_LAYOUTS, "card"),
        exchanges=chosen or list(EXCHANGES),
        refresh=refresh,
        asset=asset,
        asset_rejected=typed[:60] if typed and asset is None else None,
    )


def embed_snippet(choice: EmbedChoice, origin: str) -> str:
    """The `<script>` tag a site owner pastes: it loads the widget and configures it from data-*."""
    attrs = " ".join(f'{name}="{value}"' for name, value in choice.attributes())
    return f'<script src="{origin}/widget.js" {attrs} async></script>'


def widget_served() -> bool:
    """The widget is built and the app serves it at /widget.js (so the preview can load it)."""
    routes = {rule.rule for rule in current_app.url_map.iter_rules()}
    return WIDGET_PATH in routes and (page_args.STATIC_DIR / "widget" / "widget.js").is_file()


class EmbedContext(TypedDict):
    """What `pages/embed.html` and `partials/_embed_output.html` render."""

    choice: EmbedChoice
    asset_unknown: bool  # a well-formed asset name with no stored market
    snippet: str
    themes: tuple[str, ...]
    layouts: tuple[str, ...]
    widget_ready: bool


async def embed_context(pool: asyncpg.Pool, args: Any, origin: str) -> EmbedContext:
    chosen = parse_embed_choice(args)
    async with pool.acquire() as conn:
        # A well-formed name with no stored market still makes a snippet (a listing may come), but says so.
        unknown = chosen.asset is not None and not await assets_q.asset_exists(conn, chosen.asset)
    return {
        "choice": chosen,
        "asset_unknown": unknown,
        "snippet": embed_snippet(chosen, origin),
        "themes": EMBED_THEMES,
        "layouts": EMBED_LAYOUTS,
        "widget_ready": widget_served(),
    }
