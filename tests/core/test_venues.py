"""Every list of venues derives from, or agrees with, the one registry in core/venues.py."""

from __future__ import annotations

from typing import get_args

import asyncpg
import pytest

from core.records import EXCHANGES, Exchange
from core.settings import Settings
from core.venues import COLOURS, DEFAULT_URLS, LABELS, VENUES, parse_exchange
from exchanges.private.registry import PRIVATE_CLIENTS
from exchanges.registry import CONNECTORS
from exchanges.sim.model import SimModel
from exchanges.simulator import venue_sims


def test_the_exchange_type_lists_the_registry_venues_in_order() -> None:
    assert get_args(Exchange) == tuple(VENUES) == EXCHANGES


def test_every_registry_entry_is_keyed_by_its_own_name_and_complete() -> None:
    for name, venue in VENUES.items():
        assert venue.name == name
        assert venue.label and venue.colour.startswith("#") and venue.default_url.startswith("https://")
        assert all(limit > 0 for limit in (*venue.public_limit, *venue.private_limit))
    assert list(LABELS) == list(COLOURS) == list(DEFAULT_URLS) == list(VENUES)


def test_every_venue_has_a_connector_a_private_client_and_a_simulator() -> None:
    assert {name: cls.name for name, cls in CONNECTORS.items()} == {name: name for name in VENUES}
    assert {name: cls.name for name, cls in PRIVATE_CLIENTS.items()} == {name: name for name in VENUES}
    assert [sim.venue for sim in venue_sims(SimModel(seed=1, history_days=2))] == list(VENUES)


def test_settings_have_one_url_per_venue_defaulting_to_the_registry() -> None:
    url_fields = {name for name in Settings.model_fields if name.endswith("_url")} - {"database_url", "redis_url"}
    assert url_fields == {f"{name}_url" for name in VENUES}
    for name, venue in VENUES.items():
        field = Settings.model_fields[f"{name}_url"]
        assert (field.default, field.alias) == (venue.default_url, venue.url_setting)


@pytest.mark.parametrize(("typed", "venue"), [("WOO", "woox"), (" hl ", "hyperliquid"), ("Paradex", "paradex")])
def test_parse_exchange_accepts_names_and_aliases(typed: str, venue: str) -> None:
    assert parse_exchange(typed) == venue


def test_parse_exchange_names_the_valid_venues_for_an_unknown_one() -> None:
    with pytest.raises(ValueError, match="unknown exchange 'ftx'; one of bybit, woox, hyperliquid, paradex"):
        parse_exchange("ftx")


async def test_the_migrated_venues_table_matches_the_registry(db: asyncpg.Pool) -> None:
    rows = await db.fetch("SELECT exchange, label FROM venues ORDER BY sort_order")
    assert [(r["exchange"], r["label"]) for r in rows] == [(name, v.label) for name, v in VENUES.items()]
