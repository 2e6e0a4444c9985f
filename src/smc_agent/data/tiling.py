"""Mirror tiling: stretch a real candle series to any length, for benchmarks only.

Benchmarks need 100k or 1M candles and we ship no such file. Repeating a real series end to end
would put a price jump at every seam (the last close is nowhere near the first open), and random
walks drift to zero or infinity and have none of the texture of a market. Mirror tiling plays the
real series forward, then backwards in time, then forward again, and so on::

    block 0: c[0], c[1], ..., c[m-1]          as recorded
    block 1: r[m-1], r[m-2], ..., r[0]        time-reversed
    block 2: c[0], c[1], ..., c[m-1]          as recorded ...

A time-reversed candle ``r[i]`` is candle ``c[i]`` run backwards: its open is ``c[i].close`` and its
close is ``c[i].open``; high, low and volume stay. So the first candle of every block opens
*exactly* at the close of the candle before it (``r[m-1].open == c[m-1].close`` and
``c[0].open == r[0].close``), prices never leave the source's range, and inside a block the gap
between one close and the next open is always one of the source's own gaps. Every output candle
is a source candle or its reversal, so it is as OHLC-sane as the source.

Times are regenerated evenly, one source timeframe step apart from the first source time: the
result has no weekends or gaps, whatever the source had.

**This is not market data.** Half of it runs backwards, its calendar is invented, and sessions,
weekday effects and anything else tied to the clock are meaningless in it. Use it to measure speed
and memory, never to evaluate a strategy or to test detector *results*.

>>> import numpy as np
>>> src = Candles.from_arrays(np.array([0, 60_000]), [1.0, 2.0], [2.5, 3.0], [0.5, 1.5],
...                           [2.0, 2.5], [10.0, 20.0], timeframe="1m")
>>> t = mirror_tile(src, 5)
>>> t.open.tolist(), t.close.tolist()
([1.0, 2.0, 2.5, 2.0, 1.0], [2.0, 2.5, 2.0, 1.0, 2.0])
>>> t.time.tolist()
[0, 60000, 120000, 180000, 240000]
"""

from __future__ import annotations

import numpy as np

from smc_agent.core.errors import DataError
from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import parse_timeframe

__all__ = ["mirror_tile"]


def mirror_tile(candles: Candles, n: int) -> Candles:
    """Return ``n`` candles built by playing ``candles`` forward, backward, forward, ... (benchmarks only).

    The source's final candle is left out when ``last_complete`` is False, since a candle that is
    still forming should not be copied thousands of times. The step between the regenerated
    times is the source ``timeframe``, or the most common spacing when the timeframe is not set.
    Symbol and timeframe labels are kept. See the module docstring for why this keeps prices
    continuous, and why the result must never be mistaken for market data.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    source = candles if candles.last_complete else candles[:-1]
    m = len(source)
    if m == 0 and n > 0:
        raise DataError("cannot tile an empty candle series; mirror_tile needs at least one candle")
    timeframe = source.timeframe or source.infer_timeframe()
    if not timeframe and n > 1:
        raise DataError(
            "cannot tile candles whose timeframe is unknown; set the timeframe "
            "or pass at least two candles so that it can be inferred"
        )
    step = parse_timeframe(timeframe) if timeframe else 0

    position = np.arange(n, dtype=np.int64) % (2 * m) if m else np.zeros(0, dtype=np.int64)
    reversed_ = position >= m
    # Forward blocks read 0..m-1, reversed blocks read m-1..0.
    index = np.where(reversed_, 2 * m - 1 - position, position)

    open_ = source.open[index]
    close = source.close[index]
    start = int(source.time[0]) if m else 0
    return Candles(
        time=start + np.arange(n, dtype=np.int64) * step,
        open=np.where(reversed_, close, open_),
        high=source.high[index],
        low=source.low[index],
        close=np.where(reversed_, open_, close),
        volume=source.volume[index],
        symbol=source.symbol,
        timeframe=timeframe,
        last_complete=True,
    )
