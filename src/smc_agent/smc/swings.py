"""Swing highs and lows: fractal pivots, kept alternating, in two scopes.

A candle p is a swing-high *candidate* when its high is >= the highs of the ``left`` candles
before it and the ``right`` candles after it (ties allowed; a candle that is both a high and a
low candidate counts as a high). That is knowable at the close of candle ``p + right``, which is
the candidate's ``confirmed_index``.

Swings alternate: consecutive candidates of the same kind form a *run*, and a run keeps only its
most extreme member (the first one on ties). When a later candidate beats the run's best, the old
best gets ``superseded_index``; a candidate that does not beat it is not a swing at all. Labels
compare a swing with the best of the previous run of its kind: HH/LH for highs, HL/LL for lows;
an equal high counts as LH and an equal low as HL (the double top is not a higher high).

Example (left = right = 1, highs): ``[1, 3, 2, 4, 3]`` gives a high at 1 (level 3) confirmed at
2, then a high at 3 (level 4) confirmed at 4 that supersedes it, since no low came between.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel
from smc_agent.smc.tables import Schema, new_row

__all__ = ["HH", "HL", "LH", "LL", "SWINGS", "swing_step"]

SWINGS = Schema(
    "swings",
    ints=("formed_index", "confirmed_index", "kind", "scope", "label", "superseded_index", "broken_index"),
    floats=("level",),
    events=("superseded_index", "broken_index"),
    per_candle=L.N_SCOPES,
)
W_FORMED, W_CONFIRMED, W_KIND, W_SCOPE, W_LABEL, W_SUPERSEDED, W_BROKEN = range(7)
W_LEVEL = 0

HH, LH, HL, LL = 1, 2, 3, 4


@kernel
def _is_pivot(values: npt.NDArray[np.float64], p: int, left: int, right: int, sign: float) -> bool:
    # Right side first: most candles fail there, so the loop exits early.
    pivot = sign * values[p]
    for j in range(p + 1, p + right + 1):
        if sign * values[j] > pivot:
            return False
    for j in range(p - left, p):  # noqa: SIM110 - a generator inside a numba kernel is slower
        if sign * values[j] > pivot:
            return False
    return True


@kernel
def swing_step(
    i: int,
    scope: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    params: npt.NDArray[np.int64],
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    sw_i: npt.NDArray[np.int32],
    sw_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> int:
    """Confirm the candidate ``right`` candles back, if any; return its new row or -1."""
    left = params[L.P_LEFT + 2 * scope]
    right = params[L.P_RIGHT + 2 * scope]
    p = i - right
    if p - left < 0:
        return -1
    if _is_pivot(high, p, left, right, 1.0):
        kind, level = 1, high[p]
    elif _is_pivot(low, p, left, right, -1.0):
        kind, level = -1, low[p]
    else:
        return -1

    base = 3 * scope
    best_slot = L.S_SW_BEST_HIGH + base if kind == 1 else L.S_SW_BEST_LOW + base
    prev_slot = L.SF_SW_PREV_HIGH + 2 * scope if kind == 1 else L.SF_SW_PREV_LOW + 2 * scope
    best = state_i[best_slot]
    if state_i[L.S_SW_LAST_KIND + base] == kind:
        if kind * level <= kind * sw_f[best, W_LEVEL]:
            return -1
        sw_i[best, W_SUPERSEDED] = i
    else:
        if best >= 0:
            state_f[prev_slot] = sw_f[best, W_LEVEL]
        state_i[L.S_SW_LAST_KIND + base] = kind

    row = new_row(sw_i, sw_f, counts, table)
    prev = state_f[prev_slot]
    label = 0
    if not np.isnan(prev):
        label = (HH if level > prev else LH) if kind == 1 else (LL if level < prev else HL)
    sw_i[row, W_FORMED] = p
    sw_i[row, W_CONFIRMED] = i
    sw_i[row, W_KIND] = kind
    sw_i[row, W_SCOPE] = scope
    sw_i[row, W_LABEL] = label
    sw_f[row, W_LEVEL] = level
    state_i[best_slot] = row
    return row
