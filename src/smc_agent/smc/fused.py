"""The fused detector loop: every detector's step, in a fixed order, for candles [start, end).

Batch analysis calls this once over all candles; streaming calls it for one new candle. Both run
this exact code, which is why they agree. Within a candle the order is: volatility, calendar,
existing order blocks, structure breaks (and the blocks they create), fair value gaps, existing
liquidity, the dealing range's trailing edges, and last the swings that this candle confirms
(new levels for structure, pools and the range). Existing objects therefore see candle i before
objects confirmed at i are added, and an object is never tested against the candle that
confirmed it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.indicators.atr import atr_step
from smc_agent.smc import layout as L
from smc_agent.smc.calendar import NO_KEY, calendar_step
from smc_agent.smc.fvg import fvg_step
from smc_agent.smc.jit import kernel
from smc_agent.smc.liquidity import liquidity_add, liquidity_update
from smc_agent.smc.order_blocks import ob_create, ob_update
from smc_agent.smc.ranges import range_new_swing, range_trail
from smc_agent.smc.structure import B_FORMED, structure_levels, structure_step
from smc_agent.smc.swings import W_KIND, swing_step

__all__ = ["T_BREAKS", "T_CALENDAR", "T_FVGS", "T_ORDER_BLOCKS", "T_POOLS", "T_RANGES", "T_SWINGS", "run"]

T_SWINGS, T_BREAKS, T_ORDER_BLOCKS, T_FVGS, T_POOLS, T_RANGES, T_CALENDAR = range(7)

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]


@kernel
def run(
    start: int,
    end: int,
    time: I64,
    open_: F64,
    high: F64,
    low: F64,
    close: F64,
    zone_starts: I64,
    zone_values: I32,
    params: I64,
    params_f: F64,
    windows: I64,
    state_i: I64,
    state_f: F64,
    series_f: F64,
    series_i: I32,
    sw_i: I32,
    sw_f: F64,
    br_i: I32,
    br_f: F64,
    ob_i: I32,
    ob_f: F64,
    g_i: I32,
    g_f: F64,
    q_i: I32,
    q_f: F64,
    rg_i: I32,
    rg_f: F64,
    c_i: I32,
    c_f: F64,
    counts: I64,
    capacity: I64,
    per_candle: I64,
) -> int:
    """Process candles until ``end``, or stop early where a table might run out of room.

    Returns the index of the next unprocessed candle; the caller grows the tables and resumes.
    """
    stop = end
    for table in range(counts.shape[0]):
        # Checking room once per call, not per candle, keeps the loop body free of early exits.
        stop = min(stop, start + (capacity[table] - counts[table]) // per_candle[table])
    enable = params[L.P_ENABLE]
    for i in range(start, stop):
        # At i = 0 the ATR step reads no previous value (it is still warming up).
        atr, state_f[L.SF_ATR_SUM] = atr_step(
            i, high, low, close, params[L.P_ATR_PERIOD], state_f[L.SF_ATR_SUM], series_f[max(i - 1, 0), L.SF_ATR]
        )
        series_f[i, L.SF_ATR] = atr
        if enable & L.EN_CALENDAR:
            calendar_step(
                i, time, high, low, zone_starts, zone_values, params, windows, state_i, state_f, c_i, c_f,
                series_i, counts, T_CALENDAR,
            )  # fmt: skip
        if enable & L.EN_ORDER_BLOCKS:
            ob_update(i, high, low, close, params, state_i, state_f, ob_i, ob_f)
        if enable & L.EN_STRUCTURE:
            for scope in range(L.N_SCOPES):
                bull, bear = structure_step(
                    i, scope, high, low, close, params, state_i, sw_i, sw_f, br_i, br_f, counts, T_BREAKS
                )
                if enable & L.EN_ORDER_BLOCKS:
                    for row, direction in ((bull, 1), (bear, -1)):
                        if row >= 0:
                            ob_create(
                                i, br_i[row, B_FORMED], direction, scope, row, open_, high, low, close, atr,
                                state_i, state_f, ob_i, ob_f, counts, T_ORDER_BLOCKS,
                            )  # fmt: skip
        if enable & L.EN_FVG:
            fvg_step(i, open_, high, low, close, atr, params, params_f, state_i, state_f, g_i, g_f, counts, T_FVGS)
        tolerance = params_f[L.PF_LIQ_TOL_ATR] * atr
        if enable & L.EN_LIQUIDITY:
            liquidity_update(i, high, low, close, tolerance, state_i, state_f, sw_f, q_i, q_f)
        if enable & L.EN_RANGES:
            range_trail(i, high, low, state_f, series_f)
        if enable & L.EN_SWINGS:
            for scope in range(L.N_SCOPES):
                row = swing_step(i, scope, high, low, params, state_i, state_f, sw_i, sw_f, counts, T_SWINGS)
                if row < 0:
                    continue
                kind = sw_i[row, W_KIND]
                if enable & L.EN_STRUCTURE:
                    structure_levels(scope, kind, row, state_i)
                if enable & L.EN_LIQUIDITY and scope == params[L.P_LIQ_SCOPE]:
                    liquidity_add(
                        i, row, kind, tolerance, params[L.P_LIQ_MIN_MEMBERS], state_i, state_f,
                        sw_i, sw_f, q_i, q_f, counts, T_POOLS,
                    )  # fmt: skip
                if enable & L.EN_RANGES and scope == params[L.P_RANGE_SCOPE]:
                    range_new_swing(
                        i, kind, state_i[L.S_SW_BEST_HIGH + 3 * scope], state_i[L.S_SW_BEST_LOW + 3 * scope],
                        high, low, state_i, state_f, sw_i, sw_f, rg_i, rg_f, series_f, counts, T_RANGES,
                    )  # fmt: skip
        for scope in range(L.N_SCOPES):
            series_i[i, L.SI_TREND + scope] = state_i[L.S_ST_TREND + 5 * scope]
        # Series buffers are not pre-filled, so a disabled detector still writes its neutral value.
        if not enable & L.EN_RANGES:
            series_f[i, L.SF_PD_TOP] = np.nan
            series_f[i, L.SF_PD_BOTTOM] = np.nan
        if not enable & L.EN_CALENDAR:
            series_i[i, L.SI_SESSIONS] = 0
    return max(stop, start)


def initial_state() -> tuple[I64, F64]:
    """Kernel state before the first candle: no swings, no levels, nothing tracked."""
    state_i = np.zeros(L.N_STATE_I, dtype=np.int64)
    state_f = np.zeros(L.N_STATE_F, dtype=np.float64)
    for scope in range(L.N_SCOPES):
        state_i[L.S_SW_BEST_HIGH + 3 * scope] = -1
        state_i[L.S_SW_BEST_LOW + 3 * scope] = -1
        state_i[L.S_ST_TOP + 5 * scope] = -1
        state_i[L.S_ST_BOTTOM + 5 * scope] = -1
        state_f[L.SF_SW_PREV_HIGH + 2 * scope] = np.nan
        state_f[L.SF_SW_PREV_LOW + 2 * scope] = np.nan
    state_i[L.S_FVG_LAST_BULL] = -1
    state_i[L.S_FVG_LAST_BEAR] = -1
    state_i[L.S_RG_ROW] = -1
    state_f[L.SF_RG_TOP] = np.nan
    state_f[L.SF_RG_BOTTOM] = np.nan
    state_i[L.S_CAL_DAY_SEEN] = NO_KEY
    for stream in range(L.CAL_STREAMS):
        state_i[L.S_CAL_KEY + 6 * stream] = NO_KEY
        state_i[L.S_CAL_LAST_ROW + 6 * stream] = -1
    return state_i, state_f
