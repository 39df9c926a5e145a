"""The typed documents the web app builds (checked by mypy where they are built and served) and the
pydantic models that document them in OpenAPI (checked by schemathesis) describe the same fields, as
tests/core/test_documents.py checks for core's documents."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from core.history_document import AssetHistoricalDoc, HistoricalDoc, StoredHistoryDoc
from webapp.accounts import KeyDoc
from webapp.assets_doc import (
    AssetDetailDoc,
    AssetDetailVenueDoc,
    AssetItemDoc,
    AssetMarketDoc,
    AssetsDoc,
    AssetVenueDoc,
    PublicAssetDoc,
    PublicAssetVenueDoc,
    UnmappedDoc,
)
from webapp.own_volume import OwnCurrentDoc, OwnHistoryDoc, OwnPeriodDoc, OwnTotalsDoc, OwnVenueDoc, PublicEmbedDoc
from webapp.views.account import PublicEmbed
from webapp.views.account_api import KeyOut, OwnCurrent, OwnHistory, OwnPeriod, OwnTotals, OwnVenue
from webapp.views.api import Historical, HistoryBounds
from webapp.views.assets_api import (
    AssetDetail,
    AssetDetailVenue,
    AssetHistorical,
    AssetItem,
    AssetMarket,
    Assets,
    AssetVenue,
    PublicAsset,
    PublicAssetVenue,
    UnmappedItem,
)

PAIRS: list[tuple[Any, type[BaseModel]]] = [
    (HistoricalDoc, Historical),
    (StoredHistoryDoc, HistoryBounds),
    (AssetHistoricalDoc, AssetHistorical),
    (AssetsDoc, Assets),
    (AssetItemDoc, AssetItem),
    (AssetVenueDoc, AssetVenue),
    (UnmappedDoc, UnmappedItem),
    (AssetDetailDoc, AssetDetail),
    (AssetDetailVenueDoc, AssetDetailVenue),
    (AssetMarketDoc, AssetMarket),
    (PublicAssetDoc, PublicAsset),
    (PublicAssetVenueDoc, PublicAssetVenue),
    (OwnCurrentDoc, OwnCurrent),
    (OwnVenueDoc, OwnVenue),
    (OwnTotalsDoc, OwnTotals),
    (OwnPeriodDoc, OwnPeriod),
    (OwnHistoryDoc, OwnHistory),
    (KeyDoc, KeyOut),
    (PublicEmbedDoc, PublicEmbed),
]


@pytest.mark.parametrize(("typed", "model"), PAIRS, ids=[t.__name__ for t, _ in PAIRS])
def test_each_typed_document_has_the_fields_of_its_openapi_model(typed: Any, model: type[BaseModel]) -> None:
    assert list(typed.__annotations__) == list(model.model_fields)
