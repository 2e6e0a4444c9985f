"""The maths of ``research edge`` on numbers known by hand: Holm's correction, move shares, the bias's hit rate."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from smc_agent.analysis.mtf import MultiTimeframeEngine
from smc_agent.backtest.edge import bias_hit_rate, holm, move_shares, sample_bias
from smc_agent.core.errors import ConfigError
from smc_agent.data.loaders import load_candles


def _upper_tail(hits: int, n: int, p: float) -> float:
    """P(X >= hits) for X ~ Binomial(n, p), summed term by term."""
    return math.fsum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(hits, n + 1))


def test_holm_multiplies_by_the_rank_and_steps_down() -> None:
    # Sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04, raised to the 0.06 before it).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_missing_tests() -> None:
    assert holm([0.6, None, 0.5]) == pytest.approx([1.0, None, 1.0])
    assert holm([0.2]) == [0.2]
    assert holm([None, None]) == [None, None]
    assert holm([]) == []


def test_move_shares_count_ups_and_downs_over_the_horizon() -> None:
    close = np.array([10.0, 11, 12, 11, 11, 13])
    # Horizon 2: 10 -> 12 up, 11 -> 11 flat, 12 -> 11 down, 11 -> 13 up.
    assert move_shares(close, 2) == (0.5, 0.25, 4)
    # Within [1, 5): 11 -> 11 flat, 12 -> 11 down.
    assert move_shares(close, 2, 1, 5) == (0.0, 0.5, 2)
    up, down, count = move_shares(close, 6)
    assert (math.isnan(up), math.isnan(down), count) == (True, True, 0)
    with pytest.raises(ConfigError, match="at least 1"):
        move_shares(close, 0)


def test_hit_rate_against_the_chance_of_the_same_mix() -> None:
    # Closes 0, 1, ..., 19 except a dip to 5 at candle 10. Over two candles every move is up but one,
    # 8 -> 5 (candle 8 to 10): of the 18 moves, 17 are up and 1 is down.
    close = np.arange(20, dtype=np.float64)
    close[10] = 5.0
    horizon = 2
    up, down = 17 / 18, 1 / 18
    assert move_shares(close, horizon)[:2] == pytest.approx((up, down))
    indices = np.array([0, 2, 4, 6, 8, 12, 14, 16, 18])
    signs = np.array([1, 1, 1, 1, 1, -1, 1, 0, 1])
    h = bias_hit_rate(close, indices, signs, horizon, every=2)
    # Sample 8 (bullish, 8 -> close[10] = 5) misses, sample 12 (bearish) misses, 16 is neutral, and 18
    # has no close two candles later inside the data: 6 bullish and 1 bearish counted, 5 hits.
    assert (h.sampled, h.bullish, h.bearish, h.hits) == (8, 6, 1, 5)
    assert h.hit_rate == pytest.approx(5 / 7)
    assert h.chance_rate == pytest.approx((6 * up + 1 * down) / 7)
    assert h.p_value == pytest.approx(_upper_tail(5, 7, (6 * up + down) / 7))
    document = h.to_dict()
    assert document["hit_rate"] == pytest.approx(5 / 7)
    assert document["every"] == 2


def test_hit_rate_inside_a_span_and_without_samples() -> None:
    close = np.array([1.0, 2, 3, 4, 3, 2, 1, 0])
    h = bias_hit_rate(close, np.array([0, 3, 5]), np.array([1, -1, -1]), 2, every=3, start=2, stop=7)
    # Only sample 3 lies in [2, 7) with its close two later inside it: 4 -> 2, a bearish hit. Chance over
    # [2, 7): 3 -> 3 flat, 4 -> 2 down, 3 -> 1 down: down share 2/3.
    assert (h.bullish, h.bearish, h.hits) == (0, 1, 1)
    assert h.chance_rate == pytest.approx(2 / 3)
    assert h.p_value == pytest.approx(2 / 3)
    empty = bias_hit_rate(close, np.array([1]), np.array([0]), 2, every=1)
    assert (empty.samples, empty.hit_rate, empty.chance_rate, empty.p_value) == (0, None, None, None)


def test_sampled_bias_is_what_the_engine_says_on_the_prefix(shared_data_path: Callable[[str], Path]) -> None:
    """The bias read at candle i during one pass equals the bias of a fresh engine fed candles 0..i only."""
    candles = load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))[:2500]
    htfs = ["1h", "4h"]
    indices, signs = sample_bias(candles, htfs, every=400, start=300)
    assert indices.tolist() == [300, 700, 1100, 1500, 1900, 2300]
    assert set(signs.tolist()) <= {-1, 0, 1}
    assert np.any(signs != 0), "after warm-up the bias leans somewhere"
    for i, sign in zip(indices[-3:], signs[-3:], strict=True):
        engine = MultiTimeframeEngine(candles.timeframe, htfs, symbol=candles.symbol)
        for row in zip(*(c[: i + 1].tolist() for c in (candles.time, *candles.columns)), strict=True):
            engine.update(*row)
        direction = engine.bias().direction.value
        assert {"bullish": 1, "bearish": -1, "neutral": 0}[direction] == sign
    with pytest.raises(ConfigError, match="at least 1"):
        sample_bias(candles, htfs, every=0)
