"""Resting liquidity as traders mean it: every level where stops cluster, with its kind and strength.

Buy-side liquidity rests above highs, sell-side below lows. The detectors already track each kind;
this module reads them as one list of levels (a long is described, shorts mirror):

* ``equal_highs``: a pool of two or more swing highs within the tolerance (the detector's pools with
  more than one member): the strongest, and stronger the more members it has;
* ``swing_high`` / ``internal_high``: a single swing high (a one-member pool) of the swing scope or
  of the internal scope only;
* ``pdh``, ``pwh``, ``pmh``: the previous day's, week's and month's high (the calendar streams);
* ``<session>_high``: the latest completed session's high (``asia_high`` above all).

A level is *taken* at the first candle that trades beyond it (``taken``). That first pass is a
**sweep** (the stop hunt) when it reaches at least ``sweep_depth_atr`` x ATR beyond the level and a
close comes back inside within ``sweep_close_candles`` candles of it (the pass candle counts as the
first); otherwise the liquidity was run, or only touched. Targets are the untaken levels beyond an
entry. Only the latest occurrence of each calendar stream is tracked by the detectors, so yesterday's
levels drop out once today completes.

Kind strengths (the ``sweep`` quality component starts from them, docs/user-guide.md): internal
swing 0.6, swing-scope swing and session levels 0.7, previous day and Asia 0.75, previous week and
month 0.8, equal highs 0.8 plus 0.2 per member beyond two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from smc_agent.smc.calendar import DAY, MONTH, WEEK
from smc_agent.smc.detector import SmcResult
from smc_agent.smc.tables import ObjectTable

__all__ = [
    "PERIOD_STRENGTH",
    "RECENT_ROWS",
    "UNTAKEN",
    "Level",
    "Sweep",
    "find_sweep",
    "levels",
    "pool_strength",
    "recent",
    "session_strength",
    "untaken_beyond",
]

# Only the most recent rows of each detector table are scanned, so the cost of a new break does not
# grow with the length of the history; the detectors track at most 32 live pools a side.
RECENT_ROWS = 4096
SWING_SCOPE = 1
PERIOD_STRENGTH = {"previous_day": 0.75, "previous_week": 0.8, "previous_month": 0.8}
_PERIODS = {DAY: ("pdh", "pdl", PERIOD_STRENGTH["previous_day"]), WEEK: ("pwh", "pwl", PERIOD_STRENGTH[
    "previous_week"]), MONTH: ("pmh", "pml", PERIOD_STRENGTH["previous_month"])}  # fmt: skip
_FIRST_SESSION = 3  # calendar stream of the first configured session (smc.calendar)
UNTAKEN = (-1, -1)


def pool_strength(members: int, *, swing: bool) -> float:
    """A pool's strength: equal highs or lows 0.8 plus 0.2 per member beyond two, else one swing point's."""
    if members > 1:
        return 0.8 + 0.2 * (members - 2)
    return 0.7 if swing else 0.6


def session_strength(session: str) -> float:
    return 0.75 if session == "asia" else 0.7


@dataclass(frozen=True, slots=True)
class Level:
    """One resting level: ``side`` +1 buy-side (above highs), -1 sell-side (below lows)."""

    kind: str
    side: int
    price: float
    strength: float
    known: int  # the candle at whose close it became known
    taken: int  # the first candle that traded beyond it, -1 while untaken
    table: str
    row: int


@dataclass(frozen=True, slots=True)
class Sweep:
    level: Level
    closed_back: int  # the candle that closed back inside
    extreme: float  # the farthest price beyond the level up to that close
    depth_atr: float


def levels(view: SmcResult, side: int, taken: tuple[int, int] = UNTAKEN) -> list[Level]:
    """The levels of ``side`` in the view's most recent rows (see ``RECENT_ROWS``) first taken within
    ``taken`` (inclusive candle bounds; the default, :data:`UNTAKEN`, asks for the untaken ones)."""
    return _pool_levels(view, side, taken) + _calendar_levels(view, side, taken)


def untaken_beyond(view: SmcResult, d: int, price: float) -> list[float]:
    """Untaken levels on side ``d`` strictly beyond ``price``, nearest first, each price once."""
    prices = {lv.price for lv in levels(view, d) if d * (lv.price - price) > 0}
    return sorted(prices, key=lambda x: d * (x - price))


def find_sweep(view: SmcResult, side: int, start: int, end: int, depth_atr: float, close_candles: int) -> Sweep | None:
    """The strongest sweep of a ``side`` level whose first pass falls in ``[start, end]`` and whose close
    back inside comes by ``end``; among equals, the farthest level (the deepest hunt)."""
    candles = view.candles
    beyond, close = (candles.high, candles.close) if side == 1 else (candles.low, candles.close)
    best: Sweep | None = None
    for level in levels(view, side, (start, end)):
        j = level.taken
        atr = float(view.atr[j])
        if not atr > 0:
            continue  # ATR still warming up: depth has no scale yet
        last = min(j + close_candles - 1, end)
        inside = np.flatnonzero(side * (close[j : last + 1] - level.price) < 0)
        if inside.size == 0:
            continue
        k = j + int(inside[0])
        window = beyond[j : k + 1]
        extreme = float(window.max() if side == 1 else window.min())
        depth = side * (extreme - level.price) / atr
        if depth < depth_atr:
            continue
        sweep = Sweep(level, k, extreme, depth)
        if best is None or (level.strength, side * level.price) > (best.level.strength, side * best.level.price):
            best = sweep
    return best


def recent(table: ObjectTable) -> tuple[int, Callable[[str], npt.NDArray[Any]]]:
    """The first row worth scanning (see ``RECENT_ROWS``) and a column reader from it on."""
    start = max(0, len(table) - RECENT_ROWS)
    return start, lambda name: table.col(name)[start:]


def _within(taken: npt.NDArray[np.int64], bounds: tuple[int, int]) -> npt.NDArray[np.bool_]:
    return (taken >= bounds[0]) & (taken <= bounds[1])


def _pool_levels(view: SmcResult, side: int, bounds: tuple[int, int]) -> list[Level]:
    start, col = recent(view.pools)
    first = np.where(col("swept_index") >= 0, col("swept_index"), col("run_index"))
    live = (col("superseded_index") < 0) & (col("expired_index") < 0)
    rows = np.flatnonzero((col("side") == side) & live & _within(first, bounds))
    if rows.size == 0:
        return []
    members, last = col("members")[rows], col("last_member_index")[rows]
    _, sw = recent(view.swings)
    of_scope = sw("formed_index")[(sw("scope") == SWING_SCOPE) & (sw("kind") == side)]
    swing = np.isin(last, of_scope)
    prices, known, taken = col("top" if side == 1 else "bottom")[rows], col("confirmed_index")[rows], first[rows]
    name = "high" if side == 1 else "low"
    found = []
    for k, r in enumerate(rows.tolist()):
        m = int(members[k])
        kind = f"equal_{name}s" if m > 1 else f"swing_{name}" if swing[k] else f"internal_{name}"
        strength = pool_strength(m, swing=bool(swing[k]))
        found.append(Level(kind, side, float(prices[k]), strength, int(known[k]), int(taken[k]), "pools", start + r))
    return found


def _calendar_levels(view: SmcResult, side: int, bounds: tuple[int, int]) -> list[Level]:
    start, col = recent(view.calendar)
    price_col, taken_col = ("high", "high_taken_index") if side == 1 else ("low", "low_taken_index")
    streams = col("stream")
    rows = _within(col(taken_col), bounds)
    if bounds == UNTAKEN:
        # The detectors watch only the latest occurrence of each stream; an older untaken one may
        # have been taken since without anyone noting it, so it is no target.
        latest = np.zeros(len(streams), dtype=bool)
        for stream in np.unique(streams).tolist():
            latest[np.flatnonzero(streams == stream)[-1]] = True
        rows &= latest
    sessions = view.config.sessions
    found = []
    for r in np.flatnonzero(rows).tolist():
        stream = int(col("stream")[r])
        if stream in _PERIODS:
            high_kind, low_kind, strength = _PERIODS[stream]
            kind = high_kind if side == 1 else low_kind
        else:
            session = sessions[stream - _FIRST_SESSION].name
            kind = f"{session}_{'high' if side == 1 else 'low'}"
            strength = session_strength(session)
        level = Level(
            kind, side, float(col(price_col)[r]), strength, int(col("confirmed_index")[r]),
            int(col(taken_col)[r]), "calendar", start + r,
        )  # fmt: skip
        found.append(level)
    return found
