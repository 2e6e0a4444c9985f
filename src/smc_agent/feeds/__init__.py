"""Feeds: where closed candles come from. One small port, :class:`Feed`, and its implementations.

A feed delivers each stream's candles once they have closed, in close-time order per stream, as an
async iterator for the asyncio session; it also keeps the candle still forming (for a chart) and says
how healthy it is. The replay of files (:class:`~smc_agent.feeds.replay.ReplayFeed`) is a product, not
a test double: backtests iterate it synchronously, paper sessions asynchronously, paced by the clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Protocol

from smc_agent.events import CandleClosed

__all__ = ["Feed", "FeedHealth"]


class FeedHealth(StrEnum):
    CONNECTED = "connected"
    DEGRADED = "degraded"  # data arrives, but late, with gaps being filled, or after retries
    DOWN = "down"
    DONE = "done"  # a replay that has delivered everything


class Feed(Protocol):
    @property
    def health(self) -> FeedHealth: ...

    def closed(self) -> AsyncIterator[CandleClosed]:
        """Closed candles as they become known."""
        ...

    def forming(self, symbol: str, timeframe: str) -> CandleClosed | None:
        """The candle of that stream still forming (its ``event_ms`` is its future close), if any."""
        ...
