"""Replay of a candle file as a feed of closed candles: the backtest feed, and paper trading's on a file.

Each candle is delivered at its close (``event_ms`` = open time + timeframe), which is when a live
feed would deliver it. ``pace_seconds`` > 0 sleeps between candles (a paper session watched in real
time); 0 replays as fast as possible. Sleeping is the only thing pace changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import repeat

from smc_agent.core.events import CandleClosed
from smc_agent.data.candles import Candles

__all__ = ["ReplayFeed"]


class ReplayFeed:
    def __init__(self, candles: Candles, *, pace_seconds: float = 0.0) -> None:
        self._candles = candles
        self._pace = pace_seconds

    @property
    def symbol(self) -> str:
        return self._candles.symbol

    def __iter__(self) -> Iterator[CandleClosed]:
        c = self._candles
        closes = (c.time + c.timeframe_ms).tolist()
        # map() builds the events from C, without a Python frame per candle: a replay is a million of them.
        candles = map(
            CandleClosed, closes, closes, repeat(c.symbol), repeat(c.timeframe), c.time.tolist(),
            *(column.tolist() for column in c.columns),
        )  # fmt: skip
        return _paced(candles, self._pace) if self._pace else candles


def _paced(candles: Iterator[CandleClosed], seconds: float) -> Iterator[CandleClosed]:
    """The candles with a sleep between each two."""
    for index, candle in enumerate(candles):
        if index:
            time.sleep(seconds)
        yield candle
