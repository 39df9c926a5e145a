"""The shapes of the current-volume document and its public subset, as TypedDicts: plain dicts at run
time (so the JSON bytes are exactly what `core.current_volume` builds) whose keys and types mypy checks
wherever the documents are built, cached, served or rendered. The pydantic models in
`webapp.views.api` / `webapp.views.public` document the same shapes in OpenAPI; tests/core/test_documents.py
checks that both list the same fields.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class VenueDoc(TypedDict):
    """One venue in the document (webapp.views.api.CurrentVenue documents the same shape for OpenAPI)."""

    exchange: str
    label: str
    volume_usd: str | None
    share: NotRequired[str | None]
    as_of: str | None
    fetched_at: NotRequired[str | None]  # absent until the venue has a figure
    age_seconds: int | None
    stale: bool
    error: str | None
    estimated: bool
    source: str
    markets: int
    as_of_note: str | None  # why as_of is not the venue's own time (its clock ran ahead of ours)


class Change24hDoc(TypedDict):
    available: bool
    pct: str | None
    previous_usd: str | None
    exchanges: list[str]


class TopMarketDoc(TypedDict):
    exchange: str
    symbol: str
    base: str | None
    quote: str | None
    volume_usd: str | None
    estimated: bool
    as_of: str | None


class CurrentVolumeDoc(TypedDict):
    """The current-volume document (webapp.views.api.CurrentVolume documents it for OpenAPI; a test checks
    that the two list the same fields). The API adds `served_from` and `top_markets` when it serves it."""

    as_of: str | None
    seq: int | None  # build order: a larger seq is a newer document
    judged_at: str | None  # when ages and stale flags were judged
    data_mode: str
    simulated: bool
    window: Literal["rolling_24h"]
    unit: Literal["USD"]
    # null (never "0") when no venue counts; no_data_reason then says why.
    total_usd: str | None
    no_data_reason: str | None
    complete: bool
    excluded: list[str]
    estimated: bool
    exchanges: list[VenueDoc]
    change_24h: NotRequired[Change24hDoc]
    served_from: NotRequired[Literal["database", "cache"]]
    top_markets: NotRequired[list[TopMarketDoc]]


class PublicVenueDoc(TypedDict):
    """One venue of the public document (webapp.views.public.PublicVenue for OpenAPI)."""

    exchange: str
    label: str
    volume_usd: str | None
    share: str | None
    as_of: str | None
    stale: bool


class PublicVolumeDoc(TypedDict):
    """`/public/latest-volume` (webapp.views.public.PublicVolume for OpenAPI)."""

    as_of: str | None
    seq: int | None
    data_mode: str
    simulated: bool
    window: Literal["rolling_24h"]
    unit: Literal["USD"]
    total_usd: str | None
    no_data_reason: str | None
    complete: bool
    estimated: bool
    excluded: list[str]
    exchanges: list[PublicVenueDoc]
