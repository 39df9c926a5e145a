"""Reading a live-feed subscription in tests: bounded, so a missing update fails instead of hanging."""

from __future__ import annotations

import asyncio

from webapp.broadcast import Heartbeat, Subscription, Update

WAIT = 5.0


async def next_update(sub: Subscription, wait: float = WAIT) -> Update | None:
    """The next update (None when the stream ended), skipping heartbeats; fails after `wait` seconds."""
    async with asyncio.timeout(wait):
        while isinstance(update := await sub.next(), Heartbeat):
            pass
    return update
