"""What the dashboard's page modules share: reading query arguments, and where the static files are."""

from __future__ import annotations

from datetime import date
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"


def choice(value: str | None, allowed: tuple[str, ...], default: str) -> str:
    """`value` when it is one of `allowed`, else `default` (query arguments never fail a page)."""
    return value if value in allowed else default


def parse_day(value: str | None) -> date | None:
    """An ISO date, or None when absent or not a date."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
