"""Dealing range: premium, discount, equilibrium and the OTE band.

The dealing range spans the latest swing low and swing high of ``range_scope``. A new row starts
each time either end gets a new swing; the previous row gets ``superseded_index``. ``direction``
is +1 when the newest end is the high (an up-leg, so pull-backs are bought in discount) and -1
when it is the low. Per candle, the series ``pd_top``/``pd_bottom`` trail the range outward as
price trades beyond it before the next swing is confirmed, so premium/discount is always defined
against what is known.

Equilibrium is the midpoint; above it is premium, below it discount. The optimal trade entry
(OTE) band is the 62% to 79% retracement of the leg, measured from its newest end.

Example: swing low 1.00, then swing high 1.10 confirmed -> an up-leg, equilibrium 1.05, OTE band
1.021 .. 1.038; a close at 1.03 sits in discount, at 0.3 of the range.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel
from smc_agent.smc.swings import W_FORMED, W_LEVEL
from smc_agent.smc.tables import Schema, new_row

__all__ = ["OTE_HIGH", "OTE_LOW", "RANGES", "range_new_swing", "range_trail"]

RANGES = Schema(
    "ranges",
    ints=("formed_index", "confirmed_index", "direction", "high_index", "low_index", "superseded_index"),
    floats=("top", "bottom"),
    events=("superseded_index",),
    per_candle=1,
)
R_FORMED, R_CONFIRMED, R_DIRECTION, R_HIGH, R_LOW, R_SUPERSEDED = range(6)
R_TOP, R_BOTTOM = 0, 1

OTE_LOW, OTE_HIGH = 0.62, 0.79


@kernel
def range_trail(
    i: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    state_f: npt.NDArray[np.float64],
    series_f: npt.NDArray[np.float64],
) -> None:
    """Extend the trailing edges with candle i and write them to the series."""
    state_f[L.SF_RG_TOP] = max(state_f[L.SF_RG_TOP], high[i])
    state_f[L.SF_RG_BOTTOM] = min(state_f[L.SF_RG_BOTTOM], low[i])
    series_f[i, L.SF_PD_TOP] = state_f[L.SF_RG_TOP]
    series_f[i, L.SF_PD_BOTTOM] = state_f[L.SF_RG_BOTTOM]


@kernel
def range_new_swing(
    i: int,
    kind: int,
    high_row: int,
    low_row: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    sw_i: npt.NDArray[np.int32],
    sw_f: npt.NDArray[np.float64],
    rg_i: npt.NDArray[np.int32],
    rg_f: npt.NDArray[np.float64],
    series_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> None:
    """Start a new range after a swing of the range scope was confirmed at candle i."""
    if high_row < 0 or low_row < 0:
        return
    hi = sw_i[high_row, W_FORMED]
    lo = sw_i[low_row, W_FORMED]
    prev = state_i[L.S_RG_ROW]
    if prev >= 0:
        rg_i[prev, R_SUPERSEDED] = i
    row = new_row(rg_i, rg_f, counts, table)
    rg_i[row, R_FORMED] = min(hi, lo)
    rg_i[row, R_CONFIRMED] = i
    rg_i[row, R_DIRECTION] = kind
    rg_i[row, R_HIGH] = hi
    rg_i[row, R_LOW] = lo
    rg_f[row, R_TOP] = sw_f[high_row, W_LEVEL]
    rg_f[row, R_BOTTOM] = sw_f[low_row, W_LEVEL]
    state_i[L.S_RG_ROW] = row
    # Price may already have traded beyond an end that is not the newest swing.
    top = rg_f[row, R_TOP]
    bottom = rg_f[row, R_BOTTOM]
    for j in range(hi, i + 1):
        top = max(top, high[j])
    for j in range(lo, i + 1):
        bottom = min(bottom, low[j])
    state_f[L.SF_RG_TOP] = top
    state_f[L.SF_RG_BOTTOM] = bottom
    series_f[i, L.SF_PD_TOP] = top
    series_f[i, L.SF_PD_BOTTOM] = bottom
