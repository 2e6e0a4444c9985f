"""Order blocks and breaker blocks.

When structure breaks bullishly at candle b (a close above the swing high formed at s), the
displacement leg starts at the lowest low in ``[s, b)`` (the latest one on ties: a double
bottom launches the move from its second low). The bullish order block is the last
down-close candle (close < open) at or before that low, together with the down-close candles
directly before it (a candle *range*); if the leg has no down-close candle, the lowest candle
itself. The zone spans the range's highs and lows and reaches down to the leg's low. It is
confirmed at b, and ``displacement_atr = (close[b] - bottom) / ATR[b]`` says how strong the move
away was. Bearish blocks mirror this.

After confirmation, from candle b + 1 on:

* ``mitigated_index``: first retest, by the ``ob_mitigation`` mode: ``touch`` (a wick enters the
  zone), ``half`` (a wick reaches the zone's midpoint) or ``close`` (a close beyond the far side);
* ``invalidated_index``: first close beyond the far side; the block becomes a *breaker* of the
  opposite direction;
* ``breaker_touched_index``: first wick back into the breaker after that;
* ``breaker_invalidated_index``: first close back through the breaker's other side. Tracking ends.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel
from smc_agent.smc.tables import Schema, new_row, slist_insert, slist_probe, slist_remove

__all__ = ["ORDER_BLOCKS", "ob_create", "ob_update"]

ORDER_BLOCKS = Schema(
    "order_blocks",
    ints=(
        "formed_index",
        "end_index",
        "confirmed_index",
        "direction",
        "scope",
        "break_row",
        "mitigated_index",
        "invalidated_index",
        "breaker_touched_index",
        "breaker_invalidated_index",
        "expired_index",
    ),
    floats=("top", "bottom", "displacement_atr"),
    events=(
        "mitigated_index",
        "invalidated_index",
        "breaker_touched_index",
        "breaker_invalidated_index",
        "expired_index",
    ),
    per_candle=2 * L.N_SCOPES,
)
(O_FORMED, O_END, O_CONFIRMED, O_DIRECTION, O_SCOPE, O_BREAK, O_MITIGATED, O_INVALIDATED) = range(8)
O_BREAKER_TOUCHED, O_BREAKER_INVALIDATED, O_EXPIRED = 8, 9, 10
O_TOP, O_BOTTOM, O_DISPLACEMENT = 0, 1, 2


@kernel
def ob_create(
    b: int,
    s: int,
    direction: int,
    scope: int,
    break_row: int,
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    atr_b: float,
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    ob_i: npt.NDArray[np.int32],
    ob_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> None:
    """Record the order block behind the break at candle ``b`` of the swing formed at ``s``."""
    sign = float(direction)
    # The leg's origin: the most extreme opposite price (latest on ties) before the break.
    origin = s
    for j in range(s, b):
        if low[j] <= low[origin] if direction == 1 else high[j] >= high[origin]:
            origin = j
    end = origin
    for j in range(origin, s - 1, -1):
        if sign * (close[j] - open_[j]) < 0:
            end = j
            break
    start = end
    while start - 1 >= s and sign * (close[start - 1] - open_[start - 1]) < 0:
        start -= 1
    top = high[start]
    bottom = low[start]
    for j in range(start, end + 1):
        top = max(top, high[j])
        bottom = min(bottom, low[j])
    if direction == 1:
        bottom = min(bottom, low[origin])
    else:
        top = max(top, high[origin])

    row = new_row(ob_i, ob_f, counts, table)
    ob_i[row, O_FORMED] = start
    ob_i[row, O_END] = end
    ob_i[row, O_CONFIRMED] = b
    ob_i[row, O_DIRECTION] = direction
    ob_i[row, O_SCOPE] = scope
    ob_i[row, O_BREAK] = break_row
    ob_f[row, O_TOP] = top
    ob_f[row, O_BOTTOM] = bottom
    far = bottom if direction == 1 else top
    ob_f[row, O_DISPLACEMENT] = sign * (close[b] - far) / atr_b
    _track(b, 0 if direction == 1 else 1, row, state_i, state_f, ob_i, ob_f)


@kernel
def _list(k: int) -> tuple[int, int, bool]:
    # Lists 0 and 3 are touched from above (keyed by top), 1 and 2 from below (keyed by bottom).
    return L.S_OB_LISTS + k * (1 + L.OB_CAP), L.SF_OB_KEYS + k * L.OB_CAP, k == 1 or k == 2


@kernel
def _track(
    i: int,
    k: int,
    row: int,
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    ob_i: npt.NDArray[np.int32],
    ob_f: npt.NDArray[np.float64],
) -> None:
    base, fbase, up = _list(k)
    key = ob_f[row, O_BOTTOM] if up else ob_f[row, O_TOP]
    evicted = slist_insert(state_i, state_f, base, fbase, L.OB_CAP, row, key, up)
    if evicted >= 0:
        ob_i[evicted, O_EXPIRED] = i


@kernel
def ob_update(
    i: int,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    params: npt.NDArray[np.int64],
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    ob_i: npt.NDArray[np.int32],
    ob_f: npt.NDArray[np.float64],
) -> None:
    """Apply candle i to every tracked block (call before blocks confirmed at i are added).

    Breakers go first, so that a block failing on this candle is not also retested by it.
    """
    mode = params[L.P_OB_MODE]
    for k in (2, 3, 0, 1):
        base, fbase, up = _list(k)
        probe = slist_probe(up, high[i], low[i])
        pos = 0
        while pos < state_i[base] and state_f[fbase + pos] >= probe:
            row = state_i[base + 1 + pos]
            top = ob_f[row, O_TOP]
            bottom = ob_f[row, O_BOTTOM]
            bull = ob_i[row, O_DIRECTION] == 1
            if k >= 2:
                # A failed bullish block now acts as bearish resistance (and vice versa); being in
                # this prefix means the candle traded back into it.
                if ob_i[row, O_BREAKER_TOUCHED] < 0:
                    ob_i[row, O_BREAKER_TOUCHED] = i
                if close[i] > top if bull else close[i] < bottom:
                    ob_i[row, O_BREAKER_INVALIDATED] = i
                    slist_remove(state_i, state_f, base, fbase, pos)
                    continue
            else:
                through = close[i] < bottom if bull else close[i] > top
                if ob_i[row, O_MITIGATED] < 0:
                    hit = through
                    if mode == L.OB_TOUCH:
                        hit = True
                    elif mode == L.OB_HALF:
                        half = 0.5 * (top + bottom)
                        hit = low[i] <= half if bull else high[i] >= half
                    if hit:
                        ob_i[row, O_MITIGATED] = i
                if through:
                    ob_i[row, O_INVALIDATED] = i
                    slist_remove(state_i, state_f, base, fbase, pos)
                    _track(i, 2 if bull else 3, row, state_i, state_f, ob_i, ob_f)
                    continue
            pos += 1
