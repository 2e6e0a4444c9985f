"""Market structure on hand-built candles: BOS, CHoCH, close vs wick breaks, trend per candle.

Every expected break is worked out from :mod:`smc_agent.smc.structure`: a scope's latest swing
high (low) breaks once, at the first candle that closes (or trades) beyond it, and the kernel
tests candle i against the levels before it adds the swings that candle i confirms.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from scenario import candles, mirror, pick, prefixes_agree

from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import SmcResult, analyze
from smc_agent.smc.structure import BOS, CHOCH
from smc_agent.smc.swings import HH, HL, LH, LL

Mode = Literal["close", "wick"]
BREAK = ("formed_index", "confirmed_index", "direction", "kind", "scope", "level")
ONE = SmcConfig(internal=SwingLength(1, 1))  # swing scope (50/50) stays empty on these sequences
TWO_SCOPES = SmcConfig(internal=SwingLength(1, 1), swing=SwingLength(2, 2))

# A downtrend of three bearish BOS, then a bullish CHoCH and a bullish BOS (left = right = 1).
# Internal swings: H1 11, L3 9, H4 10.2, L6 8, H8 8.8, L10 7.0, H11 7.8, L13 6.3, H15 8.2, L17 7.4.
DOWN_THEN_UP = [
    (10.0, 10.5, 9.8, 10.2),  # 0
    (10.2, 11.0, 10.0, 10.8),  # 1  swing high 11
    (10.8, 10.9, 9.6, 9.8),  # 2
    (9.8, 10.0, 9.0, 9.4),  # 3  swing low 9
    (9.4, 10.2, 9.3, 10.0),  # 4  swing high 10.2
    (10.0, 10.1, 8.5, 8.7),  # 5  closes below 9: bearish BOS (trend was neutral)
    (8.7, 8.9, 8.0, 8.2),  # 6  swing low 8
    (8.2, 8.6, 8.1, 8.5),  # 7
    (8.5, 8.8, 7.5, 7.6),  # 8  swing high 8.8; closes below 8: bearish BOS
    (7.6, 7.9, 7.2, 7.4),  # 9
    (7.4, 7.6, 7.0, 7.3),  # 10 swing low 7.0
    (7.3, 7.8, 7.1, 7.7),  # 11 swing high 7.8
    (7.7, 7.75, 6.5, 6.6),  # 12 closes below 7.0: bearish BOS
    (6.6, 7.0, 6.3, 6.9),  # 13 swing low 6.3
    (6.9, 7.2, 6.6, 7.1),  # 14
    (7.1, 8.2, 7.0, 8.0),  # 15 swing high 8.2; closes above 7.8: bullish CHoCH
    (8.0, 8.1, 7.6, 7.7),  # 16
    (7.7, 7.9, 7.4, 7.8),  # 17 swing low 7.4
    (7.8, 8.0, 7.6, 7.9),  # 18
    (7.9, 8.6, 7.8, 8.5),  # 19 closes above 8.2: bullish BOS
    (8.5, 8.7, 8.3, 8.6),  # 20 closes above 8.2 again: no second break of that level
]


def run(ohlc: list[tuple[float, float, float, float]], config: SmcConfig) -> SmcResult:
    return analyze(candles(ohlc), config, detectors=["structure"])


def test_downtrend_swings_are_as_drawn() -> None:
    """The scenario's internal swings (the premise of every test below), with their breaks."""
    result = run(DOWN_THEN_UP, ONE)
    assert pick(result.swings, "formed_index", "confirmed_index", "kind", "level", "label", "broken_index") == [
        (1, 2, 1, 11.0, 0, -1),
        (3, 4, -1, 9.0, 0, 5),
        (4, 5, 1, 10.2, LH, -1),  # replaced as the level by 8.8 without being broken
        (6, 7, -1, 8.0, LL, 8),
        (8, 9, 1, 8.8, LH, -1),
        (10, 11, -1, 7.0, LL, 12),
        (11, 12, 1, 7.8, LH, 15),
        (13, 14, -1, 6.3, LL, -1),
        (15, 16, 1, 8.2, HH, 19),
        (17, 18, -1, 7.4, HL, -1),
    ]


def test_choch_after_a_series_of_bos() -> None:
    """Three bearish BOS, then the first close above a lower high is a CHoCH, then a bullish BOS."""
    result = run(DOWN_THEN_UP, ONE)
    assert pick(result.breaks, *BREAK, "swing_row") == [
        (3, 5, -1, BOS, 0, 9.0, 1),  # trend was neutral: a BOS, not a CHoCH
        (6, 8, -1, BOS, 0, 8.0, 3),
        (10, 12, -1, BOS, 0, 7.0, 5),
        (11, 15, 1, CHOCH, 0, 7.8, 6),
        (15, 19, 1, BOS, 0, 8.2, 8),
    ]


def test_break_row_points_at_its_swing() -> None:
    """Each break's formed_index and level are its swing's, and the swing is broken at the break."""
    result = run(DOWN_THEN_UP, ONE)
    swings = list(result.swings.rows())
    for brk in result.breaks.rows():
        swing = swings[brk["swing_row"]]
        assert (swing["formed_index"], swing["level"], swing["broken_index"]) == (
            brk["formed_index"],
            brk["level"],
            brk["confirmed_index"],
        )


def test_trend_per_candle() -> None:
    """Neutral until the first break at 5, bearish until the CHoCH at 15, then bullish."""
    result = run(DOWN_THEN_UP, ONE)
    expected = [0] * 5 + [-1] * 10 + [1] * 6
    assert result.trend[:, 0].tolist() == expected
    assert result.trend[:, 1].tolist() == [0] * 21


def test_mirrored_scenario_mirrors_every_break() -> None:
    """Reflected prices: three bullish BOS, then a bearish CHoCH and a bearish BOS."""
    result = run(mirror(DOWN_THEN_UP, 10.0), ONE)
    assert pick(result.breaks, "formed_index", "confirmed_index", "direction", "kind") == [
        (3, 5, 1, BOS),
        (6, 8, 1, BOS),
        (10, 12, 1, BOS),
        (11, 15, -1, CHOCH),
        (15, 19, -1, BOS),
    ]
    assert result.breaks.col("level").tolist() == [20 - 9.0, 20 - 8.0, 20 - 7.0, 20 - 7.8, 20 - 8.2]
    assert result.trend[:, 0].tolist() == [0] * 5 + [1] * 10 + [-1] * 6


def test_two_scopes_break_independently() -> None:
    """The swing scope (2/2) sees only L13 and H15; it breaks H15 at 19 too, as a BOS from neutral."""
    result = run(DOWN_THEN_UP, TWO_SCOPES)
    scope1 = result.swings.where(result.swings.col("scope") == 1)
    assert pick(scope1, "formed_index", "confirmed_index", "kind", "level", "broken_index") == [
        (13, 15, -1, 6.3, -1),
        (15, 17, 1, 8.2, 19),
    ]
    assert pick(result.breaks, *BREAK) == [
        (3, 5, -1, BOS, 0, 9.0),
        (6, 8, -1, BOS, 0, 8.0),
        (10, 12, -1, BOS, 0, 7.0),
        (11, 15, 1, CHOCH, 0, 7.8),
        (15, 19, 1, BOS, 0, 8.2),
        (15, 19, 1, BOS, 1, 8.2),
    ]
    assert result.trend[:, 1].tolist() == [0] * 19 + [1] * 2


# Swing high 12 at candle 1 (left = right = 1); candle 3 trades above it but closes back below,
# candle 4 closes above it. Candle 3 (12.5) is also a higher high that supersedes candle 1.
WICK_THEN_CLOSE = [
    (10.0, 10.5, 9.5, 10.0),  # 0
    (10.0, 12.0, 9.8, 11.5),  # 1 swing high 12
    (11.5, 11.6, 10.5, 10.8),  # 2 confirms it
    (10.8, 12.5, 10.6, 11.8),  # 3 wick above 12, close below
    (11.8, 12.4, 11.5, 12.3),  # 4 close above 12
]


@pytest.mark.parametrize(
    ("mode", "at", "trend"),
    [("close", 4, [0, 0, 0, 0, 1]), ("wick", 3, [0, 0, 0, 1, 1])],
)
def test_close_break_versus_wick_break(mode: Mode, at: int, trend: list[int]) -> None:
    """A wick through the level breaks it only in wick mode; the later close breaks it in close mode."""
    config = SmcConfig(internal=SwingLength(1, 1), structure_break=mode)
    result = run(WICK_THEN_CLOSE, config)
    assert pick(result.breaks, *BREAK) == [(1, at, 1, BOS, 0, 12.0)]
    assert result.trend[:, 0].tolist() == trend
    # The level is candle 1's swing, broken once even though candle 4 is beyond it in both modes.
    assert pick(result.swings, "formed_index", "level", "superseded_index", "broken_index") == [
        (1, 12.0, 4, at),
        (3, 12.5, -1, -1),
    ]


@pytest.mark.parametrize("mode", ["close", "wick"])
def test_bearish_close_versus_wick_break(mode: Mode) -> None:
    """The mirror image: a wick under the swing low, then a close under it."""
    config = SmcConfig(internal=SwingLength(1, 1), structure_break=mode)
    result = run(mirror(WICK_THEN_CLOSE, 10.0), config)
    at = 4 if mode == "close" else 3
    assert pick(result.breaks, *BREAK) == [(1, at, -1, BOS, 0, 8.0)]


def test_close_equal_to_the_level_does_not_break() -> None:
    """Closing exactly at the swing high is not closing above it."""
    ohlc = [*WICK_THEN_CLOSE[:3], (10.8, 12.0, 10.6, 12.0), (12.0, 12.05, 11.9, 12.01)]
    result = run(ohlc, ONE)
    assert pick(result.breaks, "confirmed_index", "level") == [(4, 12.0)]


def test_wick_equal_to_the_level_does_not_break() -> None:
    """In wick mode a high exactly at the level has not traded above it."""
    ohlc = [*WICK_THEN_CLOSE[:3], (10.8, 12.0, 10.6, 11.0), (11.0, 11.2, 10.9, 11.1)]
    config = SmcConfig(internal=SwingLength(1, 1), structure_break="wick")
    assert len(run(ohlc, config).breaks) == 0


def test_swings_only_has_no_structure() -> None:
    """With only the swings detector, nothing breaks and the trend stays neutral."""
    result = analyze(candles(DOWN_THEN_UP), ONE, detectors=["swings"])
    assert len(result.breaks) == 0
    assert set(result.swings.col("broken_index").tolist()) == {-1}
    assert not np.any(result.trend)


SCENARIOS = {"down_then_up": DOWN_THEN_UP, "wick_then_close": WICK_THEN_CLOSE}


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("mode", ["close", "wick"])
def test_streaming_and_prefixes_match_batch(name: str, mode: Mode) -> None:
    """Candle-by-candle updates and every prefix agree with the batch run on these scenarios."""
    config = SmcConfig(internal=SwingLength(1, 1), swing=SwingLength(2, 2), structure_break=mode)
    assert prefixes_agree(candles(SCENARIOS[name]), config, ["structure"]) == []
    assert prefixes_agree(candles(SCENARIOS[name]), config) == []


def test_one_candle_breaking_both_levels_is_judged_against_the_prior_trend() -> None:
    """An outside candle wicks through the swing high and the swing low while the trend is neutral."""
    c = candles(
        [(10, 10.5, 9.8, 10.2), (10.2, 12, 10, 11), (11, 11.5, 9.5, 10), (10, 10.5, 9, 9.8), (9.8, 10.6, 9.5, 10.2),
         (10.2, 12.5, 8.5, 10)]
    )  # fmt: skip
    config = SmcConfig(internal=SwingLength(1, 1), swing=SwingLength(9, 9), structure_break="wick")
    result = analyze(c, config, detectors=["structure"])
    # Both breaks are BOS: the bearish one must not count as a CHoCH of the bullish break on the same candle.
    assert pick(result.breaks, "formed_index", "confirmed_index", "direction", "kind") == [
        (1, 5, 1, BOS),
        (3, 5, -1, BOS),
    ]
    assert result.trend[:, 0].tolist() == [0, 0, 0, 0, 0, -1]
