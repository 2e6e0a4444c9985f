"""Replay of a candle file as a feed of closed candles: the backtest feed, and paper trading's on a file.

Each candle is delivered at its close (``event_ms`` = open time + timeframe), which is when a live
feed would deliver it. ``pace_seconds`` > 0 sleeps between candles (a paper session watched in real
time); 0 replays as fast as possible. Sleeping is the only thing pace changes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

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
        tf, symbol, timeframe = c.timeframe_ms, c.symbol, c.timeframe
        rows: Iterator[tuple[Any, ...]] = zip(*(column.tolist() for column in (c.time, *c.columns)), strict=True)
        if self._pace:
            rows = _paced(rows, self._pace)
        for t, o, h, lo, cl, v in rows:
            yield CandleClosed(t + tf, t + tf, symbol, timeframe, t, o, h, lo, cl, v)


def _paced(rows: Iterator[tuple[Any, ...]], seconds: float) -> Iterator[tuple[Any, ...]]:
    """The rows with a sleep between each two."""
    for index, row in enumerate(rows):
        if index:
            time.sleep(seconds)
        yield row
