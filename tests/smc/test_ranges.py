"""Dealing ranges on hand-built swings: a row per new swing, direction, supersession and trailing edges."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scenario import bars, prefixes_agree

from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import SmcResult, analyze

NAN = float("nan")
INTERNAL = SmcConfig(internal=SwingLength(1, 1), range_scope="internal")

# left = right = 1: swing high 13 at 1 (confirmed 2), low 8 at 2 (3), high 14 at 3 (4), low 10 at 4 (5),
# high 17 at 6 (7). Candle 5 trades to 16 and candle 6 to 17 before the high at 6 is confirmed;
# candle 7 trades to 9.5 and candle 8 to 9, below the range's low 10.
ZIGZAG_HIGHS = [11.0, 13.0, 12.0, 14.0, 12.5, 16.0, 17.0, 16.5, 16.0]
ZIGZAG_LOWS = [9.0, 10.0, 8.0, 11.0, 10.0, 12.0, 13.0, 9.5, 9.0]


def _run(highs: list[float], lows: list[float], config: SmcConfig = INTERNAL) -> SmcResult:
    return analyze(bars(highs, lows), config, detectors=["ranges"])


def _range(
    confirmed: int, direction: int, high: int, low: int, top: float, bottom: float, superseded: int = -1
) -> dict[str, Any]:
    return {
        "formed_index": min(high, low),
        "confirmed_index": confirmed,
        "direction": direction,
        "high_index": high,
        "low_index": low,
        "superseded_index": superseded,
        "top": top,
        "bottom": bottom,
    }


def test_a_range_row_on_each_new_swing() -> None:
    """Zigzag: rows at 3, 4, 5 and 7, direction = kind of the newest swing, each superseded by the next."""
    assert list(_run(ZIGZAG_HIGHS, ZIGZAG_LOWS).ranges.rows()) == [
        _range(3, -1, 1, 2, 13.0, 8.0, superseded=4),
        _range(4, 1, 3, 2, 14.0, 8.0, superseded=5),
        _range(5, -1, 3, 4, 14.0, 10.0, superseded=7),
        _range(7, 1, 6, 4, 17.0, 10.0),
    ]


def test_premium_discount_edges_trail_beyond_the_range() -> None:
    """pd_top/pd_bottom: NaN before the first range, then widened by price beyond the known ends.

    At 3 the confirming candle already traded to 14 above the range top 13; at 5 the new range
    14 .. 10 starts at 16 (candle 5's high); candle 6 pushes to 17 before the swing at 6 is known;
    candles 7 and 8 push the bottom to 9.5 and 9.
    """
    result = _run(ZIGZAG_HIGHS, ZIGZAG_LOWS)
    np.testing.assert_array_equal(result.pd_top, [NAN, NAN, NAN, 14, 14, 16, 17, 17, 17])
    np.testing.assert_array_equal(result.pd_bottom, [NAN, NAN, NAN, 8, 8, 10, 10, 9.5, 9])


def test_higher_high_in_the_same_run_starts_a_new_range() -> None:
    """Low 7 at 1, high 13 at 2, then high 14 at 4 supersedes it: a new row, top trailing at 4."""
    highs = [11.0, 10.0, 13.0, 12.0, 14.0, 13.0]
    lows = [9.0, 7.0, 9.0, 10.0, 11.0, 12.0]
    result = _run(highs, lows)
    assert list(result.ranges.rows()) == [
        _range(3, 1, 2, 1, 13.0, 7.0, superseded=5),
        _range(5, 1, 4, 1, 14.0, 7.0),
    ]
    np.testing.assert_array_equal(result.pd_top, [NAN, NAN, NAN, 13, 14, 14])
    np.testing.assert_array_equal(result.pd_bottom, [NAN, NAN, NAN, 7, 7, 7])


# left = 1, right = 2: high 13 at 1 (confirmed 3); candle 4 (14) and candle 5 (14.2) trade above it
# without being confirmed highs yet; low 9.5 at 4 is confirmed at 6, high 14.2 at 5 at 7.
WIDENED_HIGHS = [11.0, 13.0, 12.0, 12.5, 14.0, 14.2, 13.0, 13.5]
WIDENED_LOWS = [9.0, 10.0, 9.6, 10.0, 9.5, 10.5, 10.0, 11.0]


def test_new_range_starts_at_the_extremes_since_its_older_end() -> None:
    """The first range (13 .. 9.5, at 6) starts with pd_top 14.2 from candle 5, before its confirmation."""
    config = SmcConfig(internal=SwingLength(1, 2), range_scope="internal")
    result = _run(WIDENED_HIGHS, WIDENED_LOWS, config)
    assert list(result.ranges.rows()) == [
        _range(6, -1, 1, 4, 13.0, 9.5, superseded=7),
        _range(7, 1, 5, 4, 14.2, 9.5),
    ]
    np.testing.assert_array_equal(result.pd_top, [NAN] * 6 + [14.2, 14.2])
    np.testing.assert_array_equal(result.pd_bottom, [NAN] * 6 + [9.5, 9.5])


def test_only_swings_of_the_range_scope_count() -> None:
    """range_scope="swing" with left = right = 2: only the low 8 (at 2) and high 17 (at 6) count."""
    config = SmcConfig(internal=SwingLength(1, 1), swing=SwingLength(2, 2), range_scope="swing")
    result = _run(ZIGZAG_HIGHS, ZIGZAG_LOWS, config)
    assert list(result.ranges.rows()) == [_range(8, 1, 6, 2, 17.0, 8.0)]
    np.testing.assert_array_equal(result.pd_top, [NAN] * 8 + [17])
    np.testing.assert_array_equal(result.pd_bottom, [NAN] * 8 + [8])


@pytest.mark.parametrize(
    ("highs", "lows", "config"),
    [
        (ZIGZAG_HIGHS, ZIGZAG_LOWS, INTERNAL),
        ([11.0, 10.0, 13.0, 12.0, 14.0, 13.0], [9.0, 7.0, 9.0, 10.0, 11.0, 12.0], INTERNAL),
        (ZIGZAG_HIGHS, ZIGZAG_LOWS, SmcConfig(swing=SwingLength(2, 2), range_scope="swing")),
        (WIDENED_HIGHS, WIDENED_LOWS, SmcConfig(internal=SwingLength(1, 2), range_scope="internal")),
    ],
    ids=["zigzag", "same-run", "swing-scope", "widened"],
)
def test_streaming_and_prefixes_equal_batch(highs: list[float], lows: list[float], config: SmcConfig) -> None:
    """Candle-by-candle updates and every prefix agree with one batch run."""
    assert prefixes_agree(bars(highs, lows), config, ["ranges"]) == []
