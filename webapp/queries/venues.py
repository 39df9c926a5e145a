"""The four venues, seeded by migration 0001."""

from __future__ import annotations

from webapp.queries._db import Executor
from webapp.queries.records import VenueRow, from_record


async def select_venues(db: Executor) -> list[VenueRow]:
    """Venues in display order."""
    rows = await db.fetch("SELECT exchange, label, sort_order FROM venues ORDER BY sort_order")
    return [from_record(VenueRow, row) for row in rows]


async def select_venue_labels(db: Executor) -> dict[str, str]:
    """exchange -> display label, e.g. 'woox' -> 'WOO X'."""
    return {venue.exchange: venue.label for venue in await select_venues(db)}
