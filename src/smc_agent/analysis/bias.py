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

A timeframe's bullish score is the weighted sum of its bullish strengths over the total evidence
weight (0..1); likewise bearish. The bias combines timeframes by their weights into 0..100 scores;
their difference must reach ``neutral_band`` to give a direction, and it is the confidence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.model import ConfidenceLevel, Direction
from smc_agent.model.signal import Bias, Evidence
from smc_agent.smc.detector import SmcResult
from smc_agent.smc.tables import ObjectTable

__all__ = ["Bias", "Evidence", "combine", "timeframe_evidence"]

_TREND = {1: Direction.BULLISH, -1: Direction.BEARISH}


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
) -> Bias:
    """Weigh every analysed timeframe that has a weight; NEUTRAL with a reason when one is short.

    A weighted timeframe given as None or with fewer than ``min_candles`` candles makes the bias
    NEUTRAL and says so; weighted timeframes that were not analysed at all (not in ``results``)
    are left out and the others reweighted. Neutral evidence counts for neither side.

    ``evidence`` may supply each timeframe's evidence (e.g. from a cache); by default it is computed.
    """
    evidence_of = evidence or (lambda tf, result: timeframe_evidence(result, tf))
    weighted = {tf: w for tf, w in config.timeframe_weights.items() if tf in results and w > 0}
    candles = {tf: (len(r.candles) if r is not None else 0) for tf, r in results.items()}
    if not weighted:
        return _neutral(f"none of the timeframes {sorted(results)} has a weight in timeframe_weights", candles)
    for tf in weighted:
        if candles[tf] < config.min_candles:
            return _neutral(f"{tf} has {candles[tf]} closed candles; {config.min_candles} are needed", candles)
    total_evidence = sum(config.evidence_weights.values())
    total_tf = sum(weighted.values())
    bull = bear = 0.0
    signals: list[Evidence] = []
    for tf, tf_weight in weighted.items():
        result = results[tf]
        assert result is not None  # checked above: it has candles
        for item in evidence_of(tf, result):
            share = tf_weight / total_tf * config.evidence_weights.get(item.type, 0.0) / total_evidence
            if item.direction is Direction.BULLISH:
                bull += share * item.strength
            elif item.direction is Direction.BEARISH:
                bear += share * item.strength
            signals.append(item)
    bullish, bearish = 100.0 * bull, 100.0 * bear
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
    return Bias(direction, confidence, level, bullish, bearish, tuple(signals), None, candles)


def _neutral(reason: str, candles: Mapping[str, int]) -> Bias:
    return Bias(Direction.NEUTRAL, 0.0, ConfidenceLevel.LOW, 0.0, 0.0, (), reason, candles)


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
