"""Market structure per scope: trend, break of structure (BOS) and change of character (CHoCH).

Each scope watches its latest swing high and swing low. When a candle closes above the swing
high (or, with ``structure_break="wick"``, trades above it) the high is *broken*: that is a
CHoCH if the trend was bearish, otherwise a BOS, and the trend becomes bullish. Mirrored for
lows. A level breaks once; the next break needs a new swing. The break is confirmed at the
breaking candle; it is drawn from the swing (``formed_index``) to the break.

A candle that breaks both levels at once (possible with wick breaks) records both breaks, each
judged against the trend before that candle; the trend then ends bearish (lows are checked last).

Example (close break): swing high 1.10 confirmed, trend bearish, a candle closes at 1.1012 ->
bullish CHoCH at that candle, level 1.10; the next close above the *next* swing high is a BOS.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel
from smc_agent.smc.swings import W_BROKEN, W_FORMED, W_LEVEL
from smc_agent.smc.tables import Schema, new_row

__all__ = ["BOS", "BREAKS", "CHOCH", "structure_levels", "structure_step"]

BREAKS = Schema(
    "breaks",
    ints=("formed_index", "confirmed_index", "direction", "kind", "scope", "swing_row"),
    floats=("level",),
    events=(),
    per_candle=2 * L.N_SCOPES,
)
B_FORMED, B_CONFIRMED, B_DIRECTION, B_KIND, B_SCOPE, B_SWING = range(6)
B_LEVEL = 0

BOS, CHOCH = 1, 2


@kernel
def _break(
    i: int,
    scope: int,
    direction: int,
    trend_before: int,
    swing: int,
    state_i: npt.NDArray[np.int64],
    sw_i: npt.NDArray[np.int32],
    sw_f: npt.NDArray[np.float64],
    br_i: npt.NDArray[np.int32],
    br_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> int:
    trend_slot = L.S_ST_TREND + 5 * scope
    row = new_row(br_i, br_f, counts, table)
    br_i[row, B_FORMED] = sw_i[swing, W_FORMED]
    br_i[row, B_CONFIRMED] = i
    br_i[row, B_DIRECTION] = direction
    br_i[row, B_KIND] = CHOCH if trend_before == -direction else BOS
    br_i[row, B_SCOPE] = scope
    br_i[row, B_SWING] = swing
    br_f[row, B_LEVEL] = sw_f[swing, W_LEVEL]
    sw_i[swing, W_BROKEN] = i
    state_i[trend_slot] = direction
    return row


@kernel
def structure_step(
    i: int,
    scope: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    params: npt.NDArray[np.int64],
    state_i: npt.NDArray[np.int64],
    sw_i: npt.NDArray[np.int32],
    sw_f: npt.NDArray[np.float64],
    br_i: npt.NDArray[np.int32],
    br_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> tuple[int, int]:
    """Test candle i against the scope's current levels; return the new break rows (or -1)."""
    base = 5 * scope
    by_close = params[L.P_CLOSE_BREAK] == 1
    bull = -1
    bear = -1
    trend_before = state_i[L.S_ST_TREND + base]
    top = state_i[L.S_ST_TOP + base]
    crossed = state_i[L.S_ST_TOP_CROSSED + base] == 1
    if top >= 0 and not crossed and (close[i] if by_close else high[i]) > sw_f[top, W_LEVEL]:
        bull = _break(i, scope, 1, trend_before, top, state_i, sw_i, sw_f, br_i, br_f, counts, table)
        state_i[L.S_ST_TOP_CROSSED + base] = 1
    bottom = state_i[L.S_ST_BOTTOM + base]
    crossed = state_i[L.S_ST_BOTTOM_CROSSED + base] == 1
    if bottom >= 0 and not crossed and (close[i] if by_close else low[i]) < sw_f[bottom, W_LEVEL]:
        bear = _break(i, scope, -1, trend_before, bottom, state_i, sw_i, sw_f, br_i, br_f, counts, table)
        state_i[L.S_ST_BOTTOM_CROSSED + base] = 1
    return bull, bear


@kernel
def structure_levels(scope: int, kind: int, swing: int, state_i: npt.NDArray[np.int64]) -> None:
    """A newly confirmed swing becomes the level that the next break must cross."""
    base = 5 * scope
    if kind == 1:
        state_i[L.S_ST_TOP + base] = swing
        state_i[L.S_ST_TOP_CROSSED + base] = 0
    else:
        state_i[L.S_ST_BOTTOM + base] = swing
        state_i[L.S_ST_BOTTOM_CROSSED + base] = 0
