"""Higher-timeframe bias: which way the market leans, how strongly, and the evidence for it.

For each timeframe the detectors' state after its last *closed* candle yields pieces of evidence,
each bullish or bearish with a strength from 0 to 1:

* ``swing_structure`` / ``internal_structure``: the trend of that scope (strength 1);
* ``premium_discount``: the close's place in the dealing range; below the equilibrium is bullish
  (buy in discount), strength = distance from the equilibrium as a fraction of half the range;
* ``order_blocks`` / ``fvgs``: the nearest live bullish zone below price (support) and the nearest
  live bearish zone above (resistance), strength ``1 / (1 + distance in ATR)``;
* ``liquidity_draw``: the nearer untaken pool, in ATR: buy-side above is bullish, sell-side below
  bearish, strength ``1 / (1 + distance in ATR)``.

One more piece is about the market, not a timeframe: ``daily_levels``, where today trades against
the previous day's high and low (:func:`daily_levels` gives the rule), read from the entry
timeframe's calendar table as known after its last candle.

Every timeframe has a weight (``AnalysisConfig.timeframe_weight``: the user's, else heavier with
the log of the duration). The timeframes that have ``min_candles`` closed candles vote, their
weights renormalised to sum to 1; the others are left out, and the bias is NEUTRAL for lack of
data only when none votes. A piece of evidence adds ``100 x timeframe weight x evidence weight x
strength`` points to its side (:func:`evidence_points`), giving 0..100 bullish and bearish scores;
their difference must reach ``neutral_band`` to give a direction, and it is the confidence. The
bias's ``reason`` names the timeframes used with their weights, and those left out with why.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.model import ConfidenceLevel, Direction
from smc_agent.model.signal import Bias, Evidence
from smc_agent.smc.calendar import DAY
from smc_agent.smc.detector import SmcResult
from smc_agent.smc.tables import ObjectTable
from smc_agent.smc.tz_offsets import ZoneOffsets

__all__ = ["DAILY_LEVELS", "Bias", "Evidence", "combine", "daily_levels", "evidence_points", "timeframe_evidence"]

_TREND = {1: Direction.BULLISH, -1: Direction.BEARISH}
DAILY_LEVELS = "daily_levels"
_DAY_MS = 86_400_000


def timeframe_evidence(result: SmcResult, timeframe: str) -> list[Evidence]:
    """The evidence in one timeframe's detector state after its last candle."""
    n = len(result.candles)
    if n == 0:
        return []
    close = float(result.candles.close[-1])
    atr = float(result.atr[-1])
    found: list[Evidence] = []
    for scope, name in ((1, "swing_structure"), (0, "internal_structure")):
        trend = int(result.trend[-1, scope])
        if trend:
            found.append(Evidence(name, timeframe, _TREND[trend], 1.0, f"{_TREND[trend].value} trend"))

    top, bottom = float(result.pd_top[-1]), float(result.pd_bottom[-1])
    if top > bottom:
        position = (close - bottom) / (top - bottom)
        where = f"close {close:.6g} at {position:.0%} of the range {bottom:.6g}-{top:.6g}"
        if position != 0.5:
            direction = Direction.BULLISH if position < 0.5 else Direction.BEARISH
            strength = min(1.0, abs(0.5 - position) / 0.5)
            zone = "discount" if position < 0.5 else "premium"
            found.append(Evidence("premium_discount", timeframe, direction, strength, f"{zone}: {where}"))

    if not np.isnan(atr) and atr > 0:
        found += _zones(result.order_blocks, "order_blocks", _live_blocks, timeframe, close, atr)
        found += _zones(result.fvgs, "fvgs", _open_gaps, timeframe, close, atr)
        draw = _liquidity_draw(result.pools, timeframe, close, atr)
        if draw:
            found.append(draw)
    return found


def combine(
    results: Mapping[str, SmcResult | None],
    config: AnalysisConfig,
    evidence: Callable[[str, SmcResult], list[Evidence]] | None = None,
    *,
    levels: SmcResult | None = None,
) -> Bias:
    """Weigh every timeframe given that has a weight and ``min_candles`` closed candles.

    A timeframe of weight 0, or given as None or with fewer than ``min_candles`` candles, is left out
    and the others renormalised; the bias is NEUTRAL only when none is left, and its reason names the
    timeframes used and those left out, with why. Neutral evidence counts for neither side.
    ``levels`` is the intraday result the previous day's levels are read from (:func:`daily_levels`);
    without it, or before a previous day is known, ``daily_levels`` is left out of the evidence weights.

    ``evidence`` may supply each timeframe's evidence (e.g. from a cache); by default it is computed.
    """
    evidence_of = evidence or (lambda tf, result: timeframe_evidence(result, tf))
    candles = {tf: (len(r.candles) if r is not None else 0) for tf, r in results.items()}
    # Highest timeframe first, whatever order they were given in, so the evidence lists read the same.
    order = sorted(results, key=parse_timeframe, reverse=True)
    weight = {tf: config.timeframe_weight(tf) for tf in order}
    used = {tf: weight[tf] for tf in order if weight[tf] > 0 and candles[tf] >= config.min_candles}
    left_out = [
        f"{tf}: weight 0" if weight[tf] <= 0 else f"{tf}: {candles[tf]} of {config.min_candles} closed candles"
        for tf in order
        if tf not in used
    ]
    if not used:
        if all(weight[tf] <= 0 for tf in order):
            return _neutral(f"none of the timeframes {sorted(results)} has a weight above 0", candles)
        return _neutral(f"no timeframe has {config.min_candles} closed candles yet ({'; '.join(left_out)})", candles)
    total = sum(used.values())
    weights = {tf: w / total for tf, w in used.items()}
    signals: list[Evidence] = []
    for tf in used:
        result = results[tf]
        assert result is not None  # it has candles
        signals += evidence_of(tf, result)
    day = daily_levels(levels) if levels is not None else None
    if day is not None:
        signals.append(day)
    points = evidence_points(signals, weights, config)
    bullish = sum(p for p, e in zip(points, signals, strict=True) if e.direction is Direction.BULLISH)
    bearish = sum(p for p, e in zip(points, signals, strict=True) if e.direction is Direction.BEARISH)
    net = bullish - bearish
    if abs(net) < config.neutral_band:
        direction = Direction.NEUTRAL
    else:
        direction = Direction.BULLISH if net > 0 else Direction.BEARISH
    confidence = abs(net)
    level = ConfidenceLevel.LOW
    if confidence >= config.high_confidence:
        level = ConfidenceLevel.HIGH
    elif confidence >= config.medium_confidence:
        level = ConfidenceLevel.MEDIUM
    reason = "used " + ", ".join(f"{tf} ({w:.2f})" for tf, w in weights.items())
    if left_out:
        reason += "; left out " + "; ".join(left_out)
    return Bias(direction, confidence, level, bullish, bearish, tuple(signals), reason, candles, weights)


def evidence_points(
    signals: Sequence[Evidence], weights: Mapping[str, float], config: AnalysisConfig
) -> tuple[float, ...]:
    """The points each piece of evidence adds to its side's 0..100 score (0 for neutral evidence).

    A timeframe's piece earns ``100 x timeframe weight x evidence weight x strength``, with the
    timeframe ``weights`` normalised to sum to 1 and the evidence weights normalised over the types
    that can take part. ``daily_levels`` is one fact about the market rather than one timeframe's
    view, so it counts once, as if every timeframe saw it (timeframe weight 1); it takes part in the
    normalisation only when it is among ``signals``.
    """
    has_levels = any(e.type == DAILY_LEVELS for e in signals)
    total = sum(w for kind, w in config.evidence_weights.items() if kind != DAILY_LEVELS or has_levels)
    if total <= 0:
        return tuple(0.0 for _ in signals)
    return tuple(
        0.0 if e.direction is Direction.NEUTRAL
        else 100.0 * (1.0 if e.type == DAILY_LEVELS else weights.get(e.timeframe, 0.0))
        * config.evidence_weights.get(e.type, 0.0) / total * e.strength
        for e in signals
    )  # fmt: skip


def daily_levels(result: SmcResult) -> Evidence | None:
    """Where today trades against the previous day's high and low (PDH/PDL), after ``result``'s last candle.

    Today is the calendar day (``calendar_tz``) of the last candle; the previous day is the last
    day before it in the calendar table (the last trading day: Friday on a Monday), read as known
    then. The rule, for a long lean (shorts mirror):

    * today opened above PDH: bullish (it opened outside and above yesterday's range);
    * opened inside, PDL taken today (PDH not) and the last close back inside: a sweep of sell-side
      liquidity, bullish (reversal towards PDH); the last close above PDH: bullish (the break holds);
    * opened inside and nothing taken yet, or both taken and price back inside: neutral.

    Strength is 1 for a direction. None on a timeframe of a day or more (a day is one candle, so its
    open and the order of its takes are not seen), before the previous day is known, and when that
    day is the first of the data and did not start at midnight (a partial day has no true levels).
    """
    candles = result.candles
    n = len(candles)
    cal = result.calendar
    if n == 0 or candles.timeframe_ms >= _DAY_MS or len(cal) == 0:
        return None
    offsets = _zone(result.config.calendar_tz)
    time = candles.time
    today = _local_day(int(time[-1]), offsets)
    rows = np.flatnonzero((cal.col("stream") == DAY) & (cal.col("key") < today))
    if rows.size == 0:
        return None
    row = int(rows[-1])
    key, confirmed = int(cal.col("key")[row]), int(cal.col("confirmed_index")[row])
    if int(cal.col("formed_index")[row]) == 0 and (int(time[0]) + offsets.at(int(time[0]))) % _DAY_MS:
        return None
    # The day is confirmed at the close of its last candle, or (data missing at its end) at the first
    # candle of the next day present, which is then today's first candle.
    first = confirmed + 1 if _local_day(int(time[confirmed]), offsets) == key else confirmed
    pdh, pdl = float(cal.col("high")[row]), float(cal.col("low")[row])
    opened, close = float(candles.open[first]), float(candles.close[-1])
    levels = f"PDH {pdh:.6g}, PDL {pdl:.6g}"
    tf = candles.timeframe
    if opened > pdh:
        return Evidence(DAILY_LEVELS, tf, Direction.BULLISH, 1.0, f"opened {opened:.6g} above {levels}")
    if opened < pdl:
        return Evidence(DAILY_LEVELS, tf, Direction.BEARISH, 1.0, f"opened {opened:.6g} below {levels}")
    high_taken = bool((candles.high[first:] > pdh).any())
    low_taken = bool((candles.low[first:] < pdl).any())
    where = f"opened inside {levels}"
    if close > pdh:
        return Evidence(DAILY_LEVELS, tf, Direction.BULLISH, 1.0, f"{where}; took PDH and closed {close:.6g} above it")
    if close < pdl:
        return Evidence(DAILY_LEVELS, tf, Direction.BEARISH, 1.0, f"{where}; took PDL and closed {close:.6g} below it")
    if high_taken and not low_taken:
        return Evidence(DAILY_LEVELS, tf, Direction.BEARISH, 1.0, f"{where}; swept PDH and closed back inside")
    if low_taken and not high_taken:
        return Evidence(DAILY_LEVELS, tf, Direction.BULLISH, 1.0, f"{where}; swept PDL and closed back inside")
    taken = "took both and closed back inside" if high_taken else "neither taken yet"
    return Evidence(DAILY_LEVELS, tf, Direction.NEUTRAL, 0.0, f"{where}; {taken}")


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneOffsets:
    return ZoneOffsets(name)


def _local_day(ms: int, offsets: ZoneOffsets) -> int:
    """The calendar's day key of an instant: days since 1970-01-01 in local time."""
    return (ms + offsets.at(ms)) // _DAY_MS


def _neutral(reason: str, candles: Mapping[str, int]) -> Bias:
    return Bias(Direction.NEUTRAL, 0.0, ConfidenceLevel.LOW, 0.0, 0.0, (), reason, candles, {})


def _live_blocks(table: ObjectTable) -> np.ndarray:
    return (table.col("invalidated_index") < 0) & (table.col("expired_index") < 0)


def _open_gaps(table: ObjectTable) -> np.ndarray:
    return (table.col("filled_index") < 0) & (table.col("superseded_index") < 0) & (table.col("expired_index") < 0)


def _zones(table: ObjectTable, kind: str, live: Any, timeframe: str, close: float, atr: float) -> list[Evidence]:
    """Nearest live bullish zone at or below price, nearest bearish zone at or above."""
    if len(table) == 0:
        return []
    mask = live(table)
    direction, top, bottom = table.col("direction"), table.col("top"), table.col("bottom")
    found = []
    for sign, side, distance in (
        (1, Direction.BULLISH, close - top),
        (-1, Direction.BEARISH, bottom - close),
    ):
        # A zone price is inside counts as distance 0.
        inside = (bottom <= close) & (close <= top)
        candidates = mask & (direction == sign) & ((distance >= 0) | inside)
        if candidates.any():
            gaps = np.where(inside, 0.0, distance)[candidates]
            k = int(np.argmin(gaps))
            d = float(gaps[k]) / atr
            low, high = float(bottom[candidates][k]), float(top[candidates][k])
            label = "support" if sign == 1 else "resistance"
            where = "price inside" if bool(inside[candidates][k]) else f"{d:.2f} ATR away"
            found.append(Evidence(kind, timeframe, side, 1.0 / (1.0 + d), f"{label} {low:.6g}-{high:.6g}, {where}"))
    return found


def _liquidity_draw(pools: ObjectTable, timeframe: str, close: float, atr: float) -> Evidence | None:
    if len(pools) == 0:
        return None
    live = (pools.col("swept_index") < 0) & (pools.col("run_index") < 0)
    live &= (pools.col("superseded_index") < 0) & (pools.col("expired_index") < 0)
    side, top, bottom = pools.col("side"), pools.col("top"), pools.col("bottom")
    above = live & (side == 1) & (top > close)
    below = live & (side == -1) & (bottom < close)
    up = float(np.min(top[above] - close)) / atr if above.any() else np.inf
    down = float(np.min(close - bottom[below])) / atr if below.any() else np.inf
    if np.isinf(up) and np.isinf(down):
        return None
    if up <= down:
        return Evidence(
            "liquidity_draw", timeframe, Direction.BULLISH, 1 / (1 + up), f"buy-side pool {up:.2f} ATR above"
        )
    return Evidence(
        "liquidity_draw", timeframe, Direction.BEARISH, 1 / (1 + down), f"sell-side pool {down:.2f} ATR below"
    )
