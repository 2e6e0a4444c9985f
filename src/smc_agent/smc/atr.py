"""Average true range (Wilder, 1978): the volatility unit that sizes tolerances and displacement.

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

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel

__all__ = ["atr", "atr_step"]


@kernel
def atr_step(
    i: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    period: int,
    state_f: npt.NDArray[np.float64],
    series_f: npt.NDArray[np.float64],
) -> None:
    tr = high[i] - low[i]
    if i > 0:
        prev = close[i - 1]
        tr = max(tr, abs(high[i] - prev), abs(low[i] - prev))
    if i < period:
        state_f[L.SF_ATR_SUM] += tr
        series_f[i, L.SF_ATR] = state_f[L.SF_ATR_SUM] / period if i == period - 1 else np.nan
    else:
        series_f[i, L.SF_ATR] = (series_f[i - 1, L.SF_ATR] * (period - 1) + tr) / period


@kernel
def _atr_loop(
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    period: int,
    state_f: npt.NDArray[np.float64],
    series_f: npt.NDArray[np.float64],
) -> None:
    for i in range(high.shape[0]):
        atr_step(i, high, low, close, period, state_f, series_f)


def atr(
    high: npt.NDArray[np.float64], low: npt.NDArray[np.float64], close: npt.NDArray[np.float64], period: int = 14
) -> npt.NDArray[np.float64]:
    """ATR over whole arrays, the same arithmetic the engine runs candle by candle."""
    series_f = np.empty((len(high), L.N_SF))
    _atr_loop(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        period,
        np.zeros(L.N_STATE_F),
        series_f,
    )
    return series_f[:, L.SF_ATR].copy()
