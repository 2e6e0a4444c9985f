"""Average true range (Wilder, 1978): the volatility unit that sizes tolerances, displacement and slippage.

Causal by construction: ATR at candle i uses candles 0..i only. The first ``period - 1`` values
are NaN (warm-up); at ``period - 1`` it is the plain mean of the true ranges, then Wilder's
smoothing ``atr[i] = (atr[i-1] * (period - 1) + tr[i]) / period``.

>>> import numpy as np
>>> h, l, c = np.array([2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5])
>>> atr(h, l, c, 2).tolist()
[nan, 1.25, 1.375]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.indicators.jit import kernel

__all__ = ["atr", "atr_step"]


@kernel
def atr_step(
    i: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    period: int,
    tr_sum: float,
    previous: float,
) -> tuple[float, float]:
    """ATR at candle ``i`` and the new warm-up sum of true ranges.

    Scalars in and out, so each caller keeps the two numbers wherever its own state lives (the
    detectors keep them in their state and series arrays). ``tr_sum`` is the sum of the true ranges
    before ``i`` (0.0 at the start), ``previous`` the ATR at ``i - 1``; it is read only after the
    warm-up, so any value does at ``i < period``.
    """
    tr = high[i] - low[i]
    if i > 0:
        prev = close[i - 1]
        tr = max(tr, abs(high[i] - prev), abs(low[i] - prev))
    if i < period:
        tr_sum += tr
        return (tr_sum / period if i == period - 1 else np.nan), tr_sum
    return (previous * (period - 1) + tr) / period, tr_sum


@kernel
def _atr_loop(
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    period: int,
    out: npt.NDArray[np.float64],
) -> None:
    tr_sum = 0.0
    value = np.nan
    for i in range(high.shape[0]):
        value, tr_sum = atr_step(i, high, low, close, period, tr_sum, value)
        out[i] = value


def atr(
    high: npt.NDArray[np.float64], low: npt.NDArray[np.float64], close: npt.NDArray[np.float64], period: int = 14
) -> npt.NDArray[np.float64]:
    """ATR over whole arrays, the same arithmetic the detectors run candle by candle."""
    out = np.empty(len(high))
    _atr_loop(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        period,
        out,
    )
    return out
