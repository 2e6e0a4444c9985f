"""Tiny builders for hand-made candle scenarios in the SMC detector tests.

Import it as ``from scenario import candles`` (pytest puts this directory on ``sys.path``).

>>> c = candles([(10, 11, 9, 10.5), (10.5, 12, 10, 11.5)])
>>> len(c), c.time.tolist(), c.high.tolist()
(2, [0, 60000], [11.0, 12.0])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.smc.config import SmcConfig
from smc_agent.smc.detector import SmcEngine, SmcResult, analyze
from smc_agent.smc.tables import ObjectTable

__all__ = ["OHLC", "bars", "candles", "mirror", "pick", "prefixes_agree", "stream"]

OHLC = tuple[float, float, float, float]


def candles(ohlc: Sequence[OHLC], timeframe: str = "1m", start_ms: int = 0) -> Candles:
    """Candles from ``(open, high, low, close)`` tuples, one ``timeframe`` apart, volume 1."""
    n = len(ohlc)
    o, h, lo, c = (np.array([row[k] for row in ohlc], dtype=np.float64) for k in range(4))
    time = start_ms + np.arange(n, dtype=np.int64) * parse_timeframe(timeframe)
    return Candles.from_arrays(time, o, h, lo, c, np.ones(n), timeframe=timeframe)


def bars(highs: Sequence[float], lows: Sequence[float], timeframe: str = "1m", start_ms: int = 0) -> Candles:
    """Candles from highs and lows only (open = close = midpoint), for swing-only scenarios."""
    if len(highs) != len(lows):
        raise ValueError(f"{len(highs)} highs but {len(lows)} lows")
    rows = [(0.5 * (h + lo), h, lo, 0.5 * (h + lo)) for h, lo in zip(highs, lows, strict=True)]
    return candles(rows, timeframe, start_ms)


def mirror(ohlc: Sequence[OHLC], level: float) -> list[OHLC]:
    """Reflect prices about ``level`` (p -> 2 * level - p): up moves become down moves.

    The new high is the reflected low and vice versa, so a bullish scenario becomes its bearish twin.
    """
    axis = 2 * level
    return [(axis - o, axis - lo, axis - h, axis - c) for o, h, lo, c in ohlc]


def pick(table: ObjectTable, *names: str) -> list[tuple[Any, ...]]:
    """The named columns of every row, as tuples, in table order."""
    return [tuple(row[name] for name in names) for row in table.rows()]


def stream(c: Candles, config: SmcConfig, detectors: Iterable[str] | None = None) -> SmcResult:
    """Feed ``c`` to a fresh :class:`SmcEngine` one candle at a time and return its result."""
    engine = SmcEngine(c.timeframe, config, detectors=detectors, capacity=16)
    for k in range(len(c)):
        engine.update(int(c.time[k]), c.open[k], c.high[k], c.low[k], c.close[k], c.volume[k])
    return engine.result()


def prefixes_agree(c: Candles, config: SmcConfig, detectors: Iterable[str] | None = None) -> list[str]:
    """Check streaming and every prefix against the batch run; return what differs (empty when none).

    Streaming must equal batch exactly, so must a block of the first half followed by single
    updates, and batch over the first k candles must equal the full batch result as it was known
    after k candles (:meth:`SmcResult.as_of`).
    """
    chosen = None if detectors is None else list(detectors)
    full = analyze(c, config, detectors=chosen)
    problems = [f"stream: {name}" for name in stream(c, config, chosen).differences(full)]
    half = len(c) // 2
    engine = SmcEngine(c.timeframe, config, detectors=chosen, capacity=16)
    engine.extend(c[:half])
    for k in range(half, len(c)):
        engine.update(int(c.time[k]), c.open[k], c.high[k], c.low[k], c.close[k], c.volume[k])
    problems += [f"extend then update: {name}" for name in engine.result().differences(full)]
    for k in range(2, len(c) + 1):
        prefix = analyze(c[:k], config, detectors=chosen)
        problems += [f"prefix {k}: {name}" for name in prefix.differences(full.as_of(k))]
    return problems
