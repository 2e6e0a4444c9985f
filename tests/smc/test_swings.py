"""Swing highs and lows on hand-built candles: every expected row is worked out from the definition
in :mod:`smc_agent.smc.swings` (fractal pivots, alternating runs, labels against the previous run).

Most scenarios give only highs and lows (``bars``); lows that rise strictly every candle can never
be a low pivot, which keeps a run of highs free of lows in between.
"""

from __future__ import annotations

import pytest
from scenario import bars, pick, prefixes_agree

from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import analyze
from smc_agent.smc.swings import HH, HL, LH, LL

ROW = ("formed_index", "confirmed_index", "kind", "level", "label", "superseded_index")


def internal(left: int, right: int) -> SmcConfig:
    """Only the internal scope at this length; the swing scope (50/50) sees nothing this short."""
    return SmcConfig(internal=SwingLength(left, right))


def swings(highs: list[float], lows: list[float], config: SmcConfig, scope: int = 0) -> list[tuple[object, ...]]:
    result = analyze(bars(highs, lows), config, detectors=["swings"])
    table = result.swings.where(result.swings.col("scope") == scope)
    return pick(table, *ROW)


RISING_LOWS = [float(k) for k in range(11)]  # never a low pivot


def test_clean_fractal_high_is_confirmed_right_candles_later() -> None:
    """A peak at candle 2 with two lower highs either side, left = right = 2."""
    highs = [10, 20, 50, 30, 20]
    assert swings(highs, RISING_LOWS[:5], internal(2, 2)) == [(2, 4, 1, 50.0, 0, -1)]


def test_clean_fractal_low_mirrors_the_high() -> None:
    """A trough at candle 2 with two higher lows either side; highs keep falling so none is a pivot."""
    highs = [100, 99, 98, 97, 96]
    lows = [50, 40, 10, 30, 45]
    assert swings(highs, lows, internal(2, 2)) == [(2, 4, -1, 10.0, 0, -1)]


def test_nothing_is_confirmed_before_left_plus_right_candles() -> None:
    """The fractal above needs all five candles: four are not enough."""
    highs = [10, 20, 50, 30, 20]
    assert swings(highs[:4], RISING_LOWS[:4], internal(2, 2)) == []
    assert swings(highs, RISING_LOWS[:5], internal(2, 2)) == [(2, 4, 1, 50.0, 0, -1)]


def test_pivot_without_a_full_left_window_is_never_a_swing() -> None:
    """The highest high sits at candle 1, with only one candle to its left (left = 2)."""
    highs = [10, 90, 50, 40, 30, 20]
    assert swings(highs, RISING_LOWS[:6], internal(2, 2)) == []


def test_asymmetric_lengths_use_left_before_and_right_after() -> None:
    """Candle 1 (14.5) has a higher high 3 candles later; candle 4 (15) beats 3 candles before it."""
    highs = [14, 14.5, 13, 12, 15, 11, 10.5, 10.2]
    lows = [k / 10 for k in range(8)]
    # left 1, right 3: candle 1 fails on candle 4 to its right; candle 4 is confirmed at 4 + 3.
    assert swings(highs, lows, internal(1, 3)) == [(4, 7, 1, 15.0, 0, -1)]
    # left 3, right 1: candle 4 beats 14.5, 13, 12 and 11, confirmed at 4 + 1.
    assert swings(highs, lows, internal(3, 1)) == [(4, 5, 1, 15.0, 0, -1)]


def test_equal_highs_in_the_window_keep_the_first() -> None:
    """Candles 2 and 3 both reach 50: both are candidates, only the first one is a swing."""
    highs = [10, 20, 50, 50, 30, 20, 10]
    lows = RISING_LOWS[:7]
    assert swings(highs, lows, internal(2, 2)) == [(2, 4, 1, 50.0, 0, -1)]


def test_run_of_highs_keeps_the_most_extreme() -> None:
    """Highs at 2 (50), 5 (70) and 8 (60) with no low between: 70 supersedes 50, 60 is no swing."""
    highs = [10, 20, 50, 30, 40, 70, 55, 50, 60, 50, 40]
    assert swings(highs, RISING_LOWS, internal(2, 2)) == [
        (2, 4, 1, 50.0, 0, 7),  # superseded at the close that confirmed candle 5
        (5, 7, 1, 70.0, 0, -1),
    ]


def test_both_high_and_low_candidate_counts_as_high() -> None:
    """An outside bar at candle 1 has the highest high and the lowest low of its window."""
    assert swings([2, 5, 3], [1, 0, 1.5], internal(1, 1)) == [(1, 2, 1, 5.0, 0, -1)]


# left = right = 1. Highs at 1, 5, 7, 11; lows at 3, 9, 13; nothing else is a pivot.
#   idx    0    1    2    3    4    5    6    7    8    9   10   11   12   13   14
ZIGZAG_HIGHS = [5, 10, 7, 4, 6, 8, 7, 9, 7, 5, 7, 9.5, 6, 3, 4]
ZIGZAG_LOWS = [4, 6, 4, 2, 4, 5, 5.5, 6, 5, 3, 5, 7, 4, 1, 2]


def test_alternation_labels_and_superseding_within_a_run() -> None:
    """A zigzag with a run of two highs (8 then 9) between lows, labelled against previous runs."""
    assert swings(ZIGZAG_HIGHS, ZIGZAG_LOWS, internal(1, 1)) == [
        (1, 2, 1, 10.0, 0, -1),  # first high: nothing to compare with
        (3, 4, -1, 2.0, 0, -1),  # first low
        (5, 6, 1, 8.0, LH, 8),  # 8 < 10; superseded when 9 is confirmed
        (7, 8, 1, 9.0, LH, -1),  # compared with 10 (previous run), not with 8 (same run)
        (9, 10, -1, 3.0, HL, -1),  # 3 > 2
        (11, 12, 1, 9.5, HH, -1),  # compared with 9, the best of the previous run of highs
        (13, 14, -1, 1.0, LL, -1),  # 1 < 3
    ]


def test_equal_high_is_labelled_lower_high() -> None:
    """A double top (10, then 10 again after a low) is LH: HH needs a strictly higher high."""
    highs = [5, 10, 7, 4, 6, 10, 7]
    lows = [4, 6, 4, 2, 4, 5, 5]
    assert swings(highs, lows, internal(1, 1)) == [
        (1, 2, 1, 10.0, 0, -1),
        (3, 4, -1, 2.0, 0, -1),
        (5, 6, 1, 10.0, LH, -1),
    ]


# x path; each candle spans x - 1 .. x + 1, so pivots are the local extremes of x.
#      idx  0   1  2  3  4   5  6  7   8  9  10 11
ZIGZAG_X = [5, 10, 6, 3, 8, 12, 9, 7, 11, 8, 2, 5]


def test_two_scopes_at_once() -> None:
    """Internal (1/1) sees every turn of the zigzag; swing (2/2) sees only the wider ones."""
    highs = [x + 1 for x in ZIGZAG_X]
    lows = [x - 1 for x in ZIGZAG_X]
    config = SmcConfig(internal=SwingLength(1, 1), swing=SwingLength(2, 2))
    assert swings(highs, lows, config, scope=0) == [
        (1, 2, 1, 11.0, 0, -1),
        (3, 4, -1, 2.0, 0, -1),
        (5, 6, 1, 13.0, HH, -1),
        (7, 8, -1, 6.0, HL, -1),
        (8, 9, 1, 12.0, LH, -1),
        (10, 11, -1, 1.0, LL, -1),
    ]
    assert swings(highs, lows, config, scope=1) == [
        (3, 5, -1, 2.0, 0, -1),  # candle 1 (11) has one candle to its left only
        (5, 7, 1, 13.0, 0, -1),
        (7, 9, -1, 6.0, HL, -1),
        (8, 10, 1, 12.0, LH, -1),
    ]


def test_rows_are_in_confirmation_order_with_broken_unset() -> None:
    """Rows appear in the order they were confirmed; without structure nothing is ever broken."""
    config = SmcConfig(internal=SwingLength(1, 1), swing=SwingLength(2, 2))
    table = analyze(bars([x + 1 for x in ZIGZAG_X], [x - 1 for x in ZIGZAG_X]), config, detectors=["swings"]).swings
    assert pick(table, "confirmed_index", "scope") == [
        (2, 0), (4, 0), (5, 1), (6, 0), (7, 1), (8, 0), (9, 0), (9, 1), (10, 1), (11, 0)
    ]  # fmt: skip
    assert set(table.col("broken_index").tolist()) == {-1}


SCENARIOS = {
    "run": ([10, 20, 50, 30, 40, 70, 55, 50, 60, 50, 40], RISING_LOWS, SwingLength(2, 2)),
    "zigzag": (ZIGZAG_HIGHS, ZIGZAG_LOWS, SwingLength(1, 1)),
    "two_scopes": ([x + 1 for x in ZIGZAG_X], [x - 1 for x in ZIGZAG_X], SwingLength(1, 1)),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_streaming_and_prefixes_match_batch(name: str) -> None:
    """Candle-by-candle updates and every prefix agree with the batch run on these scenarios."""
    highs, lows, length = SCENARIOS[name]
    config = SmcConfig(internal=length, swing=SwingLength(2, 2))
    assert prefixes_agree(bars(highs, lows), config, ["swings"]) == []
    assert prefixes_agree(bars(highs, lows), config) == []
