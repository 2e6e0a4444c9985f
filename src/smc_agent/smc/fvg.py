"""Fair value gaps: three-candle imbalances, and how they fill.

A bullish gap sits on a bullish middle candle m (close > open) whose neighbours do not overlap:
``high[m-1] < low[m+1]``. The gap is ``bottom = high[m-1]``, ``top = low[m+1]``; it is formed at
m and confirmed at m + 1, the first candle at whose close both neighbours are known. Bearish gaps
mirror this (``low[m-1] > high[m+1]`` on a bearish middle candle).

From candle m + 2 on, price filling a bullish gap from above sets ``touched_index`` (a wick
enters the gap), ``half_index`` (it reaches the midpoint, ICT's consequent encroachment) and
``filled_index`` (it reaches the far side; tracking ends). Minimum size: ``none``; ``atr``
(``top - bottom >= fvg_min_atr * ATR[m+1]``); or ``auto`` (the middle candle's body, as a
fraction of its open, beats twice the running mean of that fraction over all candles so far).
With ``fvg_join_consecutive``, a gap whose middle candle directly follows the previous gap's in
the same direction absorbs it: the new row spans both, and the old row gets ``superseded_index``.

Example: highs/lows ``(1.0, 0.8), (1.5, 1.1), (1.6, 1.2)`` with a bullish middle candle give a
bullish gap 1.0 .. 1.2 formed at 1, confirmed at 2.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel
from smc_agent.smc.tables import Schema, new_row, slist_insert, slist_probe, slist_remove

__all__ = ["FVGS", "fvg_step"]

FVGS = Schema(
    "fvgs",
    ints=(
        "formed_index",
        "confirmed_index",
        "direction",
        "start_index",
        "touched_index",
        "half_index",
        "filled_index",
        "superseded_index",
        "expired_index",
    ),
    floats=("top", "bottom"),
    events=("touched_index", "half_index", "filled_index", "superseded_index", "expired_index"),
    per_candle=1,
)
G_FORMED, G_CONFIRMED, G_DIRECTION, G_START, G_TOUCHED, G_HALF, G_FILLED, G_SUPERSEDED, G_EXPIRED = range(9)
G_TOP, G_BOTTOM = 0, 1


@kernel
def _list(direction: int) -> tuple[int, int, bool]:
    k = 0 if direction == 1 else 1
    return L.S_FVG_LISTS + k * (1 + L.FVG_CAP), L.SF_FVG_KEYS + k * L.FVG_CAP, direction == -1


@kernel
def _fill(
    i: int,
    direction: int,
    high: float,
    low: float,
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    g_i: npt.NDArray[np.int32],
    g_f: npt.NDArray[np.float64],
) -> None:
    base, fbase, up = _list(direction)
    probe = slist_probe(up, high, low)
    pos = 0
    while pos < state_i[base] and state_f[fbase + pos] >= probe:
        row = state_i[base + 1 + pos]
        top = g_f[row, G_TOP]
        bottom = g_f[row, G_BOTTOM]
        # Walking the sorted prefix means this candle entered the gap: from above into a
        # bullish gap, from below into a bearish one.
        half = 0.5 * (top + bottom)
        reached_half = low <= half if direction == 1 else high >= half
        reached_far = low <= bottom if direction == 1 else high >= top
        if g_i[row, G_TOUCHED] < 0:
            g_i[row, G_TOUCHED] = i
        if reached_half and g_i[row, G_HALF] < 0:
            g_i[row, G_HALF] = i
        if reached_far:
            g_i[row, G_FILLED] = i
            slist_remove(state_i, state_f, base, fbase, pos)
            continue
        pos += 1


@kernel
def fvg_step(
    i: int,
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    atr_i: float,
    params: npt.NDArray[np.int64],
    params_f: npt.NDArray[np.float64],
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    g_i: npt.NDArray[np.int32],
    g_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> None:
    """Fill tracked gaps with candle i, then record the gap whose middle candle is i - 1."""
    _fill(i, 1, high[i], low[i], state_i, state_f, g_i, g_f)
    _fill(i, -1, high[i], low[i], state_i, state_f, g_i, g_f)
    if open_[i] != 0.0:
        state_f[L.SF_FVG_BODY_SUM] += abs(close[i] - open_[i]) / abs(open_[i])
        state_f[L.SF_FVG_BODY_N] += 1.0
    if i < 2:
        return
    m = i - 1
    if close[m] > open_[m] and high[m - 1] < low[i]:
        direction, top, bottom = 1, low[i], high[m - 1]
    elif close[m] < open_[m] and low[m - 1] > high[i]:
        direction, top, bottom = -1, low[m - 1], high[i]
    else:
        return
    mode = params[L.P_FVG_MODE]
    if mode == L.FVG_ATR and not top - bottom >= params_f[L.PF_FVG_MIN_ATR] * atr_i:
        return
    if mode == L.FVG_AUTO:
        mean_body = state_f[L.SF_FVG_BODY_SUM] / state_f[L.SF_FVG_BODY_N]
        if not abs(close[m] - open_[m]) / abs(open_[m]) > 2.0 * mean_body:
            return

    last_slot = L.S_FVG_LAST_BULL if direction == 1 else L.S_FVG_LAST_BEAR
    prev = state_i[last_slot]
    start = m
    if params[L.P_FVG_JOIN] == 1 and prev >= 0 and g_i[prev, G_FORMED] == m - 1:
        top = max(top, g_f[prev, G_TOP])
        bottom = min(bottom, g_f[prev, G_BOTTOM])
        start = g_i[prev, G_START]
        g_i[prev, G_SUPERSEDED] = i
        base, fbase, _ = _list(direction)
        for pos in range(state_i[base]):
            if state_i[base + 1 + pos] == prev:
                slist_remove(state_i, state_f, base, fbase, pos)
                break

    row = new_row(g_i, g_f, counts, table)
    g_i[row, G_FORMED] = m
    g_i[row, G_CONFIRMED] = i
    g_i[row, G_DIRECTION] = direction
    g_i[row, G_START] = start
    g_f[row, G_TOP] = top
    g_f[row, G_BOTTOM] = bottom
    state_i[last_slot] = row
    base, fbase, up = _list(direction)
    evicted = slist_insert(state_i, state_f, base, fbase, L.FVG_CAP, row, bottom if up else top, up)
    if evicted >= 0:
        g_i[evicted, G_EXPIRED] = i
