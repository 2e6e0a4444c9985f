"""Liquidity pools on hand-built candles: equal lows and highs, sweeps, runs, growth and candidates.

Every scenario uses internal swings with left = right = 1 (a pivot is confirmed by the next candle),
ATR period 1 (so ATR is the candle's true range) and a tolerance of 0.1 ATR, unless it says otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest
from scenario import OHLC, candles, mirror, prefixes_agree

from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import analyze

BASE_CONFIG: dict[str, Any] = {
    "atr_period": 1,
    "internal": SwingLength(1, 1),
    "liquidity_tolerance_atr": 0.1,
}

# Swing low 100 at candle 1 (confirmed at 2), swing high 105 at 2 (confirmed at 3), swing low
# 100.05 at 4 (confirmed at 5). True range of candle 5 is max(103 - 101, |103 - 101|, 0) = 2, so
# the tolerance at 5 is 0.2 >= |100.05 - 100|: a sell-side pool 100 .. 100.05 confirmed at 5.
EQUAL_LOWS: list[OHLC] = [
    (103.0, 104.0, 102.0, 103.0),
    (103.0, 103.5, 100.0, 101.0),
    (101.0, 105.0, 101.0, 104.5),
    (104.5, 104.8, 101.5, 102.0),
    (102.0, 102.5, 100.05, 101.0),
    (101.0, 103.0, 101.0, 102.5),
]
SWEEP = (102.5, 103.0, 99.5, 101.0)  # wicks to 99.5, closes back above 100
RUN = (101.0, 101.5, 99.0, 99.5)  # closes below 100
# A third low 100.08 at candle 7 (after a swing high 104 at 6), confirmed at 8 where the true range
# is max(102 - 100.5, |102 - 101|, |100.5 - 101|) = 1.5 and the tolerance 0.15 >= |100.08 - 100|.
# Candle 9 then wicks to 99.9 and closes at 100.5: a sweep.
GROWTH: list[OHLC] = [
    (102.5, 104.0, 102.0, 103.5),
    (103.5, 103.8, 100.08, 101.0),
    (101.0, 102.0, 100.5, 101.5),
    (101.5, 102.0, 99.9, 100.5),
]


def _pools(ohlc: list[OHLC], **overrides: Any) -> list[dict[str, Any]]:
    config = SmcConfig(**{**BASE_CONFIG, **overrides})
    return list(analyze(candles(ohlc), config, detectors=["liquidity"]).pools.rows())


def _pool(
    formed: int, confirmed: int, side: int, members: int, last: int, top: float, bottom: float, **events: int
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "formed_index": formed,
        "confirmed_index": confirmed,
        "side": side,
        "members": members,
        "last_member_index": last,
        "swept_index": -1,
        "run_index": -1,
        "superseded_index": -1,
        "expired_index": -1,
        "top": top,
        "bottom": bottom,
    }
    row.update({f"{name}_index": value for name, value in events.items()})
    return row


def test_equal_lows_form_a_sell_side_pool() -> None:
    """Two swing lows within tolerance: a pool confirmed when the second one is confirmed."""
    assert _pools(EQUAL_LOWS) == [_pool(1, 5, -1, 2, 4, 100.05, 100.0)]
    assert _pools(EQUAL_LOWS[:5]) == []  # the second low is not confirmed yet


def test_sweep_of_equal_lows() -> None:
    """A sweep of equal lows: a wick below 100 that closes back above sets swept_index."""
    assert _pools([*EQUAL_LOWS, SWEEP]) == [_pool(1, 5, -1, 2, 4, 100.05, 100.0, swept=6)]


def test_run_of_equal_lows() -> None:
    """A close below the pool bottom runs the liquidity: run_index, not swept_index."""
    assert _pools([*EQUAL_LOWS, RUN]) == [_pool(1, 5, -1, 2, 4, 100.05, 100.0, run=6)]


def test_close_exactly_at_the_level_is_a_sweep() -> None:
    """Closing back exactly at the pool bottom is not a close beyond it: a sweep, not a run."""
    assert _pools([*EQUAL_LOWS, (102.5, 103.0, 99.5, 100.0)]) == [_pool(1, 5, -1, 2, 4, 100.05, 100.0, swept=6)]


def test_sweep_of_equal_highs() -> None:
    """The mirror image: equal highs form a buy-side pool, a wick above that closes below sweeps it."""
    ohlc = mirror([*EQUAL_LOWS, SWEEP], 100.0)
    # Levels are the mirrored lows, computed the same way so the floats match exactly.
    assert _pools(ohlc) == [_pool(1, 5, 1, 2, 4, 200.0 - 100.0, 200.0 - 100.05, swept=6)]


def test_touching_the_level_does_not_take_it() -> None:
    """A low exactly at the pool bottom neither sweeps nor runs it; the next wick below does."""
    touch = (102.5, 103.0, 100.0, 101.0)
    below = (101.0, 102.0, 99.9, 101.5)
    assert _pools([*EQUAL_LOWS, touch]) == [_pool(1, 5, -1, 2, 4, 100.05, 100.0)]
    assert _pools([*EQUAL_LOWS, touch, below]) == [_pool(1, 5, -1, 2, 4, 100.05, 100.0, swept=7)]


def test_third_member_grows_the_pool() -> None:
    """A third equal low: a new three-member row; the old row is superseded and never swept."""
    assert _pools([*EQUAL_LOWS, *GROWTH]) == [
        _pool(1, 5, -1, 2, 4, 100.05, 100.0, superseded=8),
        _pool(1, 8, -1, 3, 7, 100.08, 100.0, swept=9),
    ]


def test_a_low_near_the_top_but_not_the_bottom_does_not_join() -> None:
    """Third low 100.17: within 0.15 of the top 100.05, not of the bottom 100, so it stays alone."""
    ohlc = [*EQUAL_LOWS, GROWTH[0], (103.5, 103.8, 100.17, 101.0), *GROWTH[2:]]
    assert _pools(ohlc) == [_pool(1, 5, -1, 2, 4, 100.05, 100.0, swept=9)]
    # Mirrored: buy-side pools compare a new high with their top (here 200 - 100 = 100).
    assert _pools(mirror(ohlc, 100.0)) == [_pool(1, 5, 1, 2, 4, 200.0 - 100.0, 200.0 - 100.05, swept=9)]


# A low 100 at candle 1 (confirmed at 2), a high 105 at 2 (confirmed at 3), then candle 4 trades to
# 99.95 and closes at 99.98 or 100.02; candle 4 is the next swing low (99.95, confirmed at 5).
def _killed_by_close(close: float) -> list[OHLC]:
    return [*EQUAL_LOWS[:4], (102.0, 102.5, 99.95, close), (100.0, 103.0, 100.0, 102.5)]


def test_candidate_killed_by_a_close_beyond_it() -> None:
    """A close below the lone low 100 ends it as a candidate: the later low 99.95 finds no partner."""
    assert _pools(_killed_by_close(99.98)) == []
    # Control: closing above 100 keeps it (99.95 is only 0.05 beyond, tolerance 0.255), so they pool.
    assert _pools(_killed_by_close(100.02)) == [_pool(1, 5, -1, 2, 4, 100.0, 99.95)]


def _killed_by_wick(wick_low: float) -> list[OHLC]:
    """Low 100 at 1 (confirmed at 2); outside bar 3 (a swing high 104) wicks to ``wick_low`` and
    closes at 103; low 100.05 at 5 (confirmed at 6, tolerance 0.1 * 2 = 0.2)."""
    return [
        (102.0, 103.0, 101.5, 102.0),
        (102.0, 102.2, 100.0, 100.5),
        (100.5, 102.0, 100.3, 101.8),
        (101.8, 104.0, wick_low, 103.0),
        (103.0, 103.5, 101.0, 101.5),
        (101.5, 102.0, 100.05, 100.5),
        (100.5, 102.5, 100.5, 102.0),
    ]


def test_candidate_killed_by_trading_beyond_the_tolerance() -> None:
    """A wick 0.5 below 100 when the tolerance is 0.1 * 4.5 = 0.45 ends the candidate."""
    assert _pools(_killed_by_wick(99.5)) == []
    # Control: a wick 0.3 below (tolerance 0.1 * 4.3 = 0.43) leaves it, and the lows pool at 6.
    assert _pools(_killed_by_wick(99.7)) == [_pool(1, 6, -1, 2, 5, 100.05, 100.0)]


def test_no_pooling_while_atr_warms_up() -> None:
    """ATR period 6: swings confirmed at 2 and 3 (ATR NaN) are ignored, so the pool starts at 4.

    ATR[5] = (2 + 3.5 + 4 + 3.3 + 2.45 + 2) / 6 = 2.875; the low 100.05 waits as a candidate and
    pools with 100.08 at 8 (tolerance about 0.27): two members, not three.
    """
    ohlc = [*EQUAL_LOWS, *GROWTH]
    assert _pools(ohlc, atr_period=6) == [_pool(4, 8, -1, 2, 7, 100.08, 100.05, swept=9)]
    assert _pools(EQUAL_LOWS, atr_period=20) == []


def test_min_members_one() -> None:
    """liquidity_min_members=1: every swing is a pool; the second low grows the first one."""
    assert _pools(EQUAL_LOWS, liquidity_min_members=1) == [
        _pool(1, 2, -1, 1, 1, 100.0, 100.0, superseded=5),
        _pool(2, 3, 1, 1, 2, 105.0, 105.0),
        _pool(1, 5, -1, 2, 4, 100.05, 100.0),
    ]


def test_min_members_three() -> None:
    """liquidity_min_members=3: two equal lows are not enough; the third founds one pool at 8."""
    assert _pools(EQUAL_LOWS, liquidity_min_members=3) == []
    assert _pools([*EQUAL_LOWS, *GROWTH], liquidity_min_members=3) == [_pool(1, 8, -1, 3, 7, 100.08, 100.0, swept=9)]


SCENARIOS: dict[str, tuple[list[OHLC], dict[str, Any]]] = {
    "sweep": ([*EQUAL_LOWS, SWEEP], {}),
    "run-mirrored": (mirror([*EQUAL_LOWS, RUN], 100.0), {}),
    "growth": ([*EQUAL_LOWS, *GROWTH], {}),
    "killed": (_killed_by_wick(99.5), {}),
    "warm-up": ([*EQUAL_LOWS, *GROWTH], {"atr_period": 6}),
    "min-1": ([*EQUAL_LOWS, *GROWTH], {"liquidity_min_members": 1}),
    "min-3": ([*EQUAL_LOWS, *GROWTH], {"liquidity_min_members": 3}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_streaming_and_prefixes_equal_batch(name: str) -> None:
    """Candle-by-candle updates and every prefix agree with one batch run."""
    ohlc, overrides = SCENARIOS[name]
    assert prefixes_agree(candles(ohlc), SmcConfig(**{**BASE_CONFIG, **overrides}), ["liquidity"]) == []
