"""Liquidity pools: equal highs and equal lows, and how price takes them.

Resting orders sit beyond swing points that price failed to pass more than once. When a swing
high of the liquidity scope is confirmed, it joins the most recent live buy-side pool whose top
is within ``liquidity_tolerance_atr * ATR`` of it; otherwise it is matched against the live
single swing highs ("candidates") within that tolerance, and once ``liquidity_min_members``
swings agree they form a pool, confirmed at the candle that confirmed the last member. Pools
only grow by new versions: the grown pool is a new row, the old row gets ``superseded_index``.

From the candle after confirmation, a candle whose high passes the pool top either closes back
below it (``swept_index``: a sweep, the classic stop hunt) or closes above it (``run_index``:
the liquidity was run). Either ends the pool. A candidate stops being one when price closes above
it or trades above it by more than the tolerance. Sell-side pools mirror this below lows.

Example (tolerance 1 pip): swing highs at 1.1000 and 1.0999 form a buy-side pool 1.0999 .. 1.1000;
a later candle with high 1.1004 and close 1.0995 sweeps it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel
from smc_agent.smc.swings import W_FORMED, W_LEVEL
from smc_agent.smc.tables import Schema, new_row, slist_insert, slist_probe, slist_remove

__all__ = ["POOLS", "liquidity_add", "liquidity_update"]

POOLS = Schema(
    "pools",
    ints=(
        "formed_index",
        "confirmed_index",
        "side",
        "members",
        "last_member_index",
        "swept_index",
        "run_index",
        "superseded_index",
        "expired_index",
    ),
    floats=("top", "bottom"),
    events=("swept_index", "run_index", "superseded_index", "expired_index"),
    per_candle=1,
)
Q_FORMED, Q_CONFIRMED, Q_SIDE, Q_MEMBERS, Q_LAST, Q_SWEPT, Q_RUN, Q_SUPERSEDED, Q_EXPIRED = range(9)
Q_TOP, Q_BOTTOM = 0, 1


@kernel
def _pools(side: int) -> tuple[int, int, bool]:
    # Buy-side pools are taken from below (up lists keyed by top), sell-side from above.
    k = 0 if side == 1 else 1
    return L.S_LQ_POOLS + k * (1 + L.POOL_CAP), L.SF_LQ_POOL_KEYS + k * L.POOL_CAP, side == 1


@kernel
def _candidates(side: int) -> tuple[int, int, bool]:
    k = 0 if side == 1 else 1
    return L.S_LQ_CANDS + k * (1 + L.CANDIDATE_CAP), L.SF_LQ_CAND_KEYS + k * L.CANDIDATE_CAP, side == 1


@kernel
def liquidity_update(
    i: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    tolerance: float,
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    sw_f: npt.NDArray[np.float64],
    q_i: npt.NDArray[np.int32],
    q_f: npt.NDArray[np.float64],
) -> None:
    """Apply candle i to live pools and candidates (before swings confirmed at i join)."""
    for side in (1, -1):
        sign = float(side)
        extreme = high[i] if side == 1 else low[i]
        base, fbase, up = _pools(side)
        probe = slist_probe(up, high[i], low[i])
        pos = 0
        while pos < state_i[base] and state_f[fbase + pos] >= probe:
            row = state_i[base + 1 + pos]
            level = q_f[row, Q_TOP] if side == 1 else q_f[row, Q_BOTTOM]
            if sign * (extreme - level) > 0:
                q_i[row, Q_RUN if sign * (close[i] - level) > 0 else Q_SWEPT] = i
                slist_remove(state_i, state_f, base, fbase, pos)
                continue
            pos += 1
        base, fbase, up = _candidates(side)
        pos = 0
        while pos < state_i[base] and state_f[fbase + pos] >= probe:
            level = sw_f[state_i[base + 1 + pos], W_LEVEL]
            if sign * (close[i] - level) > 0 or sign * (extreme - level) > tolerance:
                slist_remove(state_i, state_f, base, fbase, pos)
                continue
            pos += 1


@kernel
def liquidity_add(
    i: int,
    swing: int,
    side: int,
    tolerance: float,
    min_members: int,
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    sw_i: npt.NDArray[np.int32],
    sw_f: npt.NDArray[np.float64],
    q_i: npt.NDArray[np.int32],
    q_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> None:
    """Let the swing confirmed at i join a pool, found one, or wait as a candidate."""
    if np.isnan(tolerance):
        return  # ATR still warming up: "equal" has no scale yet
    level = sw_f[swing, W_LEVEL]
    formed = sw_i[swing, W_FORMED]
    base, fbase, up = _pools(side)
    best = -1
    for pos in range(state_i[base]):
        row = state_i[base + 1 + pos]
        edge = q_f[row, Q_TOP] if side == 1 else q_f[row, Q_BOTTOM]
        if abs(level - edge) <= tolerance and (best < 0 or row > state_i[base + 1 + best]):
            best = pos  # the most recent pool in reach
    if best >= 0:
        old = state_i[base + 1 + best]
        row = _new_pool(i, side, q_i[old, Q_FORMED], q_i[old, Q_MEMBERS] + 1, formed, q_i, q_f, counts, table)
        q_f[row, Q_TOP] = max(q_f[old, Q_TOP], level)
        q_f[row, Q_BOTTOM] = min(q_f[old, Q_BOTTOM], level)
        q_i[old, Q_SUPERSEDED] = i
        slist_remove(state_i, state_f, base, fbase, best)
        slist_insert(state_i, state_f, base, fbase, L.POOL_CAP, row, q_f[row, Q_TOP if up else Q_BOTTOM], up)
        return

    cbase, cfbase, _ = _candidates(side)
    matched = 0
    first = formed
    top = level
    bottom = level
    for pos in range(state_i[cbase]):
        cand = state_i[cbase + 1 + pos]
        if abs(sw_f[cand, W_LEVEL] - level) <= tolerance:
            matched += 1
            first = min(first, sw_i[cand, W_FORMED])
            top = max(top, sw_f[cand, W_LEVEL])
            bottom = min(bottom, sw_f[cand, W_LEVEL])
    if matched + 1 < min_members:
        slist_insert(state_i, state_f, cbase, cfbase, L.CANDIDATE_CAP, swing, level, up)
        return
    pos = 0
    while pos < state_i[cbase]:
        if abs(sw_f[state_i[cbase + 1 + pos], W_LEVEL] - level) <= tolerance:
            slist_remove(state_i, state_f, cbase, cfbase, pos)
        else:
            pos += 1
    row = _new_pool(i, side, first, matched + 1, formed, q_i, q_f, counts, table)
    q_f[row, Q_TOP] = top
    q_f[row, Q_BOTTOM] = bottom
    evicted = slist_insert(state_i, state_f, base, fbase, L.POOL_CAP, row, top if up else bottom, up)
    if evicted >= 0:
        q_i[evicted, Q_EXPIRED] = i


@kernel
def _new_pool(
    i: int,
    side: int,
    formed: int,
    members: int,
    last: int,
    q_i: npt.NDArray[np.int32],
    q_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> int:
    row = new_row(q_i, q_f, counts, table)
    q_i[row, Q_FORMED] = formed
    q_i[row, Q_CONFIRMED] = i
    q_i[row, Q_SIDE] = side
    q_i[row, Q_MEMBERS] = members
    q_i[row, Q_LAST] = last
    return row
