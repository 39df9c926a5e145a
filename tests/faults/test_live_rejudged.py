"""Issue 15, wrong figure 3 and the out-of-order deliveries: the live feed re-judges what it already
pushed, and never replaces a newer document with an older one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from core.current_volume import VenueFigure, build_current, rejudge
from core.settings import Settings
from storage.current_cache import STORE_IF_NEWER, cached_current, current_key, encode, live_channel, refresh_current
from tests.live_support import next_update
from webapp.broadcast import Hub

STALE = 2


def _doc(fetched_at: datetime, seq: int, usd: str = "100") -> dict[str, Any]:
    figure = VenueFigure("bybit", Decimal(usd), fetched_at, fetched_at, 3, False, "test")
    return build_current([figure], now=fetched_at, stale_seconds=STALE, data_mode="real", seq=seq)


def _judge(doc: dict[str, Any]) -> dict[str, Any]:
    return rejudge(doc, now=datetime.now(UTC), stale_seconds=STALE)


async def test_subscribers_get_a_new_document_when_a_venue_crosses_the_stale_limit(
    settings: Settings,
) -> None:
    fresh = _doc(datetime.now(UTC) - timedelta(seconds=1), seq=10)

    async def load() -> bytes:
        return encode(fresh)

    hub = Hub(settings.redis_url or "", live_channel(settings), judge=_judge, judge_seconds=0.2)
    await hub.start(load)
    try:
        async with hub.subscribe() as sub:
            first = await next_update(sub)
            assert first is not None and first.doc["exchanges"][0]["stale"] is False
            pushed = await next_update(sub)  # no worker published anything meanwhile
            assert pushed is not None
            assert pushed.doc["exchanges"][0]["stale"] is True and "bybit" in pushed.doc["excluded"]
            assert pushed.doc["seq"] == 10 and pushed.seq > first.seq
    finally:
        await hub.stop()


async def test_an_older_document_delivered_late_never_replaces_the_newer_one(settings: Settings) -> None:
    hub = Hub(settings.redis_url or "", live_channel(settings))
    now = datetime.now(UTC)
    async with hub.subscribe() as sub:
        assert hub.publish_local(encode(_doc(now, seq=2, usd="200"))) is not None
        assert hub.publish_local(encode(_doc(now - timedelta(seconds=1), seq=1, usd="100"))) is None
        assert hub.latest is not None and hub.latest.doc["total_usd"] == "200"
        received = await next_update(sub)
        assert received is not None and received.doc["seq"] == 2 and sub.dropped == 0


async def test_a_late_worker_never_overwrites_the_cache_with_an_older_document(
    settings: Settings, db: Any, redis: Any
) -> None:
    older_now = datetime.now(UTC)
    first = await refresh_current(db, redis, settings, older_now)
    second = await refresh_current(db, redis, settings, older_now)
    assert second["seq"] > first["seq"]
    # A worker that built `first` but is slow to store it must not win over `second`.
    await redis.eval(
        STORE_IF_NEWER, 2, current_key(settings), f"{current_key(settings)}:seq",
        json.dumps(first), str(first["seq"]), live_channel(settings),
    )
    cached = await cached_current(redis, settings)
    assert cached is not None and json.loads(cached)["seq"] == second["seq"]


async def test_a_document_without_seq_is_ordered_by_when_it_was_judged(settings: Settings) -> None:
    hub = Hub(settings.redis_url or "", live_channel(settings))
    now = datetime.now(UTC)
    assert hub.publish_local(encode(_doc(now, seq=5))) is not None
    unnumbered = _doc(now + timedelta(seconds=1), seq=0)
    del unnumbered["seq"]
    assert hub.publish_local(encode(unnumbered)) is not None  # newer by judgement: delivered
    assert hub.publish_local(encode(_doc(now - timedelta(seconds=5), seq=0) | {"seq": None})) is None
