"""Order blocks and breakers on hand-built candles, worked out from :mod:`smc_agent.smc.order_blocks`.

The textbook scenario (internal swings 2/2, ATR period 3): a swing high at 2 (11.5), a pullback
of two down-close candles (4, 5) into the low at 6 (9.8), and a displacement that closes above 11.5
at candle 8. The block is candles 4-5, from their top (11.3) down to the leg's low (9.8).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from scenario import candles, mirror, pick, prefixes_agree, stream

from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import SmcResult, analyze

Mode = Literal["touch", "half", "close"]
BLOCK = ("formed_index", "end_index", "confirmed_index", "direction", "scope", "break_row", "top", "bottom")
EVENTS = (
    "mitigated_index",
    "invalidated_index",
    "breaker_touched_index",
    "breaker_invalidated_index",
    "expired_index",
)

BULLISH = [
    (10.0, 10.4, 9.8, 10.2),  # 0
    (10.2, 10.8, 10.1, 10.6),  # 1
    (10.6, 11.5, 10.5, 11.2),  # 2  swing high 11.5 (confirmed at 4)
    (11.2, 11.4, 11.0, 11.3),  # 3  up-close: not part of the block
    (11.3, 11.3, 10.4, 10.5),  # 4  down-close  } the block
    (10.5, 10.6, 10.0, 10.1),  # 5  down-close  } (the last one before the low, and the one before it)
    (10.1, 10.4, 9.8, 10.3),  # 6  up-close, the leg's low 9.8 (swing low, confirmed at 8)
    (10.3, 11.0, 10.2, 10.9),  # 7
    (10.9, 12.0, 10.8, 11.9),  # 8  closes above 11.5: bullish BOS, block confirmed (its low 10.8 is in the zone)
    (11.9, 12.2, 11.5, 12.0),  # 9  stays above the zone (swing high 12.2, confirmed at 11)
    (12.0, 12.1, 11.2, 11.4),  # 10 wick into the zone (11.2 <= 11.3): touch
    (11.4, 11.6, 10.5, 10.7),  # 11 wick below the midpoint 10.55: half
    (10.7, 10.9, 10.2, 10.6),  # 12 deeper, still closes inside
    (10.6, 10.7, 9.5, 9.6),  # 13 closes below 9.8: invalidated (close mode mitigates here); bearish CHoCH
    (9.6, 9.7, 9.2, 9.3),  # 14 below the breaker (its bottom is 9.8)
    (9.3, 9.9, 9.2, 9.85),  # 15 wick back up into it: breaker touched
    (9.85, 11.5, 9.8, 11.4),  # 16 closes above 11.3: breaker invalidated
]
# True ranges of BULLISH[:9] by hand (max of high - low and the gaps to the previous close).
TRUE_RANGES = [0.6, 0.7, 1.0, 0.4, 0.9, 0.6, 0.6, 0.8, 1.2]


def wilder(true_ranges: list[float], period: int) -> float:
    """Wilder's ATR at the last of ``true_ranges``: a plain mean first, then smoothing."""
    value = sum(true_ranges[:period]) / period
    for tr in true_ranges[period:]:
        value = (value * (period - 1) + tr) / period
    return value


def config(mode: Mode = "touch", left: int = 2) -> SmcConfig:
    return SmcConfig(atr_period=3, internal=SwingLength(left, left), ob_mitigation=mode)


def blocks(ohlc: list[tuple[float, float, float, float]], cfg: SmcConfig) -> SmcResult:
    return analyze(candles(ohlc), cfg, detectors=["order_blocks"])


def test_textbook_bullish_block() -> None:
    """The down-close candles before the displacement, reaching down to the leg's low."""
    result = blocks(BULLISH[:9], config())
    assert pick(result.breaks, "formed_index", "confirmed_index", "direction") == [(2, 8, 1)]
    assert pick(result.order_blocks, *BLOCK) == [(4, 5, 8, 1, 0, 0, 11.3, 9.8)]
    displacement = result.order_blocks.col("displacement_atr")[0]
    assert wilder(TRUE_RANGES, 3) == pytest.approx(0.87005, abs=1e-5)  # the hand arithmetic, written out
    assert displacement == pytest.approx((11.9 - 9.8) / wilder(TRUE_RANGES, 3), rel=1e-9)


@pytest.mark.parametrize(("mode", "mitigated"), [("touch", 10), ("half", 11), ("close", 13)])
def test_bullish_block_lifecycle(mode: Mode, mitigated: int) -> None:
    """Retest by the mode, failure at the close below 9.8, breaker retest and breaker failure."""
    result = blocks(BULLISH, config(mode))
    bullish = result.order_blocks.where(result.order_blocks.col("direction") == 1)
    assert pick(bullish, *BLOCK, *EVENTS) == [(4, 5, 8, 1, 0, 0, 11.3, 9.8, mitigated, 13, 15, 16, -1)]


def test_failure_creates_the_opposite_block() -> None:
    """The close below the swing low at 13 is a bearish CHoCH; its block is the up-close leg 6-9."""
    result = blocks(BULLISH, config("touch"))
    assert pick(result.breaks, "formed_index", "confirmed_index", "direction") == [(2, 8, 1), (6, 13, -1)]
    bearish = result.order_blocks.where(result.order_blocks.col("direction") == -1)
    # Candles 6-9 all close up and candle 9 has the leg's high 12.2; the zone spans their lows too.
    # It is touched from below at 15 (high 9.9 >= 9.8) and never closed above 12.2.
    assert pick(bearish, *BLOCK, *EVENTS) == [(6, 9, 13, -1, 0, 1, 12.2, 9.8, 15, -1, -1, -1, -1)]


@pytest.mark.parametrize(("mode", "mitigated"), [("touch", 10), ("half", 11), ("close", 13)])
def test_bearish_mirror(mode: Mode, mitigated: int) -> None:
    """Prices reflected about 11: up-close candles 4-5 under a swing low, broken down at 8."""
    ohlc = mirror(BULLISH, 11.0)
    result = blocks(ohlc, config(mode))
    bearish = result.order_blocks.where(result.order_blocks.col("direction") == -1)
    top, bottom = 22 - 9.8, 22 - 11.3
    assert pick(bearish, *BLOCK, *EVENTS) == [(4, 5, 8, -1, 0, 0, top, bottom, mitigated, 13, 15, 16, -1)]
    displacement = bearish.col("displacement_atr")[0]
    assert displacement == pytest.approx((top - (22 - 11.9)) / wilder(TRUE_RANGES, 3), rel=1e-9)


def test_displacement_is_nan_before_atr_warms_up() -> None:
    """With ATR period 14 there is no ATR at candle 8, so no displacement either."""
    cfg = SmcConfig(atr_period=14, internal=SwingLength(2, 2))
    result = blocks(BULLISH[:9], cfg)
    assert pick(result.order_blocks, *BLOCK) == [(4, 5, 8, 1, 0, 0, 11.3, 9.8)]
    assert np.isnan(result.order_blocks.col("displacement_atr")[0])


# Left = right = 1. Swing high 11 at 1; every candle from there to the low (9.7 at 3) closes up.
NO_DOWN_CLOSE = [
    (10.0, 10.5, 9.8, 10.2),  # 0
    (10.2, 11.0, 10.1, 10.8),  # 1 swing high 11, up-close
    (10.0, 10.6, 9.9, 10.5),  # 2 up-close (opened on a gap down)
    (10.3, 10.7, 9.7, 10.4),  # 3 up-close, the leg's low 9.7
    (10.4, 10.9, 10.2, 10.8),  # 4
    (10.8, 11.4, 10.7, 11.3),  # 5 closes above 11: bullish BOS
]


def test_no_down_close_candle_falls_back_to_the_lowest_candle() -> None:
    """Without a down-close candle in the leg, the block is the candle with the lowest low."""
    result = blocks(NO_DOWN_CLOSE, config(left=1))
    assert pick(result.order_blocks, *BLOCK) == [(3, 3, 5, 1, 0, 0, 10.7, 9.7)]


def test_bearish_fallback_mirrors() -> None:
    """The mirror: no up-close candle before the leg's high, so the highest candle is the block."""
    result = blocks(mirror(NO_DOWN_CLOSE, 10.0), config(left=1))
    assert pick(result.order_blocks, *BLOCK) == [(3, 3, 5, -1, 0, 0, 20 - 9.7, 20 - 10.7)]


# Left = right = 1. The swing candle itself closes down, and so does the candle before it.
SWING_CANDLE_DOWN = [
    (10.5, 10.6, 10.0, 10.1),  # 0 down-close, but before the swing: never part of the block
    (10.9, 11.0, 10.3, 10.4),  # 1 swing high 11, down-close
    (10.4, 10.5, 9.8, 9.9),  # 2 down-close, the leg's low
    (9.9, 10.6, 9.9, 10.5),  # 3
    (10.5, 11.3, 10.4, 11.2),  # 4 closes above 11: bullish BOS
]


def test_block_range_stops_at_the_swing_candle() -> None:
    """The run of down-close candles is followed back to the swing candle (1), not beyond it."""
    result = blocks(SWING_CANDLE_DOWN, config(left=1))
    assert pick(result.order_blocks, *BLOCK) == [(1, 2, 4, 1, 0, 0, 11.0, 9.8)]


# Left = right = 1. Candles 2 and 4 share the leg's low (9.7); both close down.
EQUAL_LOWS = [
    (10.0, 10.5, 9.8, 10.2),  # 0
    (10.2, 11.0, 10.1, 10.8),  # 1 swing high 11
    (10.8, 10.9, 9.7, 9.8),  # 2 down-close, low 9.7 (the swing low: ties keep the first)
    (9.8, 10.3, 9.75, 10.2),  # 3 up-close
    (10.2, 10.4, 9.7, 9.9),  # 4 down-close, low 9.7 again
    (9.9, 10.6, 9.8, 10.5),  # 5
    (10.5, 11.3, 10.4, 11.2),  # 6 closes above 11: bullish BOS
]


def test_leg_origin_is_the_latest_of_equal_lows() -> None:
    """A double bottom: the leg starts at the second low, so the block is candle 4, not candle 2."""
    result = blocks(EQUAL_LOWS, config(left=1))
    assert pick(result.swings, "formed_index", "kind", "level") == [(1, 1, 11.0), (2, -1, 9.7)]
    assert pick(result.order_blocks, *BLOCK) == [(4, 4, 6, 1, 0, 0, 10.4, 9.7)]


def test_no_blocks_without_the_order_blocks_detector() -> None:
    """Structure alone finds the break but records no block."""
    result = analyze(candles(BULLISH), config(), detectors=["structure"])
    assert len(result.breaks) == 2
    assert len(result.order_blocks) == 0


def staircase(n: int) -> list[tuple[float, float, float, float]]:
    """A rising zigzag of doji bars spanning x - 1 .. x + 1, x = 10 + k (+ 3 on odd k).

    With left = right = 1 every odd candle is a swing high (k + 14) and every even one a swing
    low (k + 9). Odd candle k >= 3 closes at k + 13, above the high at k - 2: a bullish BOS whose
    leg has no down-close candle, so its block is the even candle k - 1 (top k + 10, bottom k + 8),
    touched exactly at its top by the low of candle k + 1, never closed through.
    """
    xs = [10.0 + k + (3 if k % 2 else 0) for k in range(n)]
    return [(x, x + 1, x - 1, x) for x in xs]


def test_full_list_expires_the_oldest_block() -> None:
    """149 live bullish blocks: the 129th and later each push the oldest one out (capacity 128)."""
    n = 300
    result = blocks(staircase(n), config(left=1))
    breaks = range(3, n, 2)  # the breaking candles 3, 5, ..., 299
    assert pick(result.breaks, "formed_index", "confirmed_index", "direction", "level") == [
        (b - 2, b, 1, b + 12.0) for b in breaks
    ]
    expected = []
    for row, b in enumerate(breaks):
        mitigated = b + 1 if b + 1 < n else -1
        expired = breaks[row + 128] if row + 128 < len(breaks) else -1
        expected.append((b - 1, b - 1, b, 1, 0, row, b + 10.0, b + 8.0, mitigated, -1, -1, -1, expired))
    assert pick(result.order_blocks, *BLOCK, *EVENTS) == expected
    assert result.order_blocks.col("expired_index")[20] == 299  # the last one pushes out row 20
    assert result.order_blocks.col("expired_index")[21] == -1
    assert result.trend[:, 0].tolist() == [0, 0, 0] + [1] * (n - 3)
    assert stream(candles(staircase(n)), config(left=1), ["order_blocks"]).differences(result) == []


SCENARIOS = {
    "bullish": (BULLISH, 2),
    "bearish": (mirror(BULLISH, 11.0), 2),
    "no_down_close": (NO_DOWN_CLOSE, 1),
    "swing_candle_down": (SWING_CANDLE_DOWN, 1),
    "equal_lows": (EQUAL_LOWS, 1),
    "short_staircase": (staircase(150), 1),  # more swings than the engine's first table holds
}


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("mode", ["touch", "half", "close"])
def test_streaming_and_prefixes_match_batch(name: str, mode: Mode) -> None:
    """Candle-by-candle updates and every prefix agree with the batch run on these scenarios."""
    ohlc, left = SCENARIOS[name]
    assert prefixes_agree(candles(ohlc), config(mode, left), ["order_blocks"]) == []
    assert prefixes_agree(candles(ohlc), config(mode, left)) == []
