"""The typed documents of core and the web app (checked by mypy where they are built and served) and the
pydantic models that document them in OpenAPI (checked by schemathesis) describe the same fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from core.current_volume import VenueFigure, build_current
from core.documents import (
    Change24hDoc,
    CurrentVolumeDoc,
    PublicVenueDoc,
    PublicVolumeDoc,
    TopMarketDoc,
    VenueDoc,
)
from core.health import BackfillDoc, EstimateErrorDoc, ExchangesDoc, VenueHealthDoc
from core.history import PeriodDoc, PeriodVenueDoc, period_document
from core.history_document import AssetHistoricalDoc, HistoricalDoc, StoredHistoryDoc
from storage.queries.history import PeriodVenue
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
from webapp.views.api import (
    Backfill,
    Change24h,
    CurrentVenue,
    CurrentVolume,
    EstimateErrorModel,
    Exchanges,
    Historical,
    HistoryBounds,
    HistoryPeriod,
    HistoryVenue,
    TopMarket,
    VenueHealth,
)
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
from webapp.views.public import PublicVenue, PublicVolume

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
PAIRS: list[tuple[Any, type[BaseModel]]] = [
    (CurrentVolumeDoc, CurrentVolume),
    (VenueDoc, CurrentVenue),
    (Change24hDoc, Change24h),
    (TopMarketDoc, TopMarket),
    (PeriodDoc, HistoryPeriod),
    (PeriodVenueDoc, HistoryVenue),
    (PublicVolumeDoc, PublicVolume),
    (PublicVenueDoc, PublicVenue),
    (ExchangesDoc, Exchanges),
    (VenueHealthDoc, VenueHealth),
    (BackfillDoc, Backfill),
    (EstimateErrorDoc, EstimateErrorModel),
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


def test_a_built_current_document_validates_against_its_openapi_model() -> None:
    figure = VenueFigure("bybit", Decimal("12.5"), NOW, NOW - timedelta(seconds=5), 3, False, "tickers")
    doc = build_current([figure], now=NOW, stale_seconds=120, data_mode="real", previous={"bybit": Decimal(10)})
    doc["served_from"] = "database"
    assert CurrentVolume.model_validate(doc).total_usd == "12.5"


def test_a_built_period_validates_against_its_openapi_model() -> None:
    day = date(2026, 11, 2)
    row = PeriodVenue("woox", day, Decimal("7"), 7, 0, 2, False)
    period = period_document((day, day, day + timedelta(days=6)), ["bybit", "woox"], {(day, "woox"): row}, {})
    assert HistoryPeriod.model_validate(period).gaps == ["bybit"]
