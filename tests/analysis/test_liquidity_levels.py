"""Liquidity of every kind and the sweep rule, on hand-built candles (rules in smc_agent.analysis.liquidity).

Two scenarios:

* ``LONG`` from test_setups (1m candles, one day): the internal swing low 99 (candle 8) is traded through by
  candle 13 (low 98) which closes back above it at once: depth 1.0 / ATR of candle 13.
* ``TWO_DAYS`` (1h candles from Monday 2024-03-04 00:00 UTC): day one rises to a high of 110 at 05:00, falls
  to its low 95 at 10:00 and rises again; no other swing low forms. On day two, 01:00 trades down to 94 and
  closes at 95.5, back above both the previous day's low (PDL 95, confirmed at the close of 23:00) and the
  internal swing low 95 of 10:00. PDL is the stronger kind (0.75 against 0.6), so it is the sweep. The
  previous day's high 110 is untaken: a target for a long.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from scenario import OHLC, candles
from test_setups import CHOCH_N, CONFIG, FVG, LONG, SMC, atr_at, variant, view, with_bias

from smc_agent.analysis.liquidity import find_sweep, levels, untaken_beyond
from smc_agent.analysis.setups import Candidate, Rejection, evaluate
from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import analyze

MONDAY = 1_709_510_400_000  # 2024-03-04 00:00 UTC


def _day_one() -> list[OHLC]:
    rows: list[OHLC] = []
    lows = [100, 101, 102, 103, 104, 105, 103, 101, 99, 97, 95, *range(96, 109)]
    for hour, low in enumerate(lows):
        high = 110.0 if hour == 5 else low + 2.0
        rows.append((low + 1.0, high, float(low), low + 1.0))
    return rows


TWO_DAYS: list[OHLC] = [
    *_day_one(),  # candles 0..23; the day's low 95 at 10, high 110 at 5
    (109.0, 109.5, 100.0, 100.5),  # 24: day two 00:00
    (100.5, 101.0, 94.0, 95.5),  # 25: trades 1.0 below PDL 95, closes back above it
    (95.5, 98.0, 95.2, 97.5),  # 26
]
HOURLY = SmcConfig(atr_period=3, internal=SwingLength(1, 1), liquidity_min_members=1, sessions=(), killzones=())


def test_previous_day_low_is_the_strongest_sweep() -> None:
    result = analyze(candles(TWO_DAYS, "1h", MONDAY), HOURLY)
    sell_side = {(lv.kind, lv.price, lv.taken) for lv in levels(result, -1, (0, 26))}
    assert {("pdl", 95.0, 25), ("internal_low", 95.0, 25)} <= sell_side
    sweep = find_sweep(result, -1, 11, 26, 0.1, 3)
    assert sweep is not None
    assert (sweep.level.kind, sweep.level.price, sweep.level.known, sweep.closed_back, sweep.extreme) == (
        "pdl",
        95.0,
        23,
        25,
        94.0,
    )
    assert untaken_beyond(result, 1, 100.0)[-1] == 110.0  # PDH, the farthest buy-side level
    assert 110.0 in {lv.price for lv in levels(result, 1) if lv.kind == "pdh"}


def test_sweep_needs_the_minimum_depth() -> None:
    """Candle 13 reaches 1.0 below the pool at 99; a minimum depth just above that in ATR finds no sweep."""
    depth = 1.0 / atr_at(LONG, 13)
    result = view(LONG, CHOCH_N)
    deep_enough = replace(CONFIG, sweep_depth_atr=depth - 1e-6)
    too_shallow = replace(CONFIG, sweep_depth_atr=depth + 1e-6)
    assert isinstance(evaluate(result, 1, lambda: with_bias(1), deep_enough)[0], Candidate)
    assert evaluate(result, 1, lambda: with_bias(1), too_shallow)[0] == Rejection("sweep_choch_ob", "no_sweep")


# Candle 13 closes at 98.5, below the pool at 99 (the detectors call that a run); candle 14 closes back above.
CLOSE_LATER = variant(LONG, {13: (101.8, 101.9, 98.0, 98.5), 14: (98.5, 100.5, 98.4, 100.2)})


@pytest.mark.parametrize(("window", "swept"), [(1, False), (2, True), (3, True)])
def test_close_back_inside_within_the_window(window: int, swept: bool) -> None:
    result = view(CLOSE_LATER, CHOCH_N, SMC)
    assert result.pools.col("run_index")[3] == 13
    sweep = find_sweep(result, -1, 10, 15, 0.1, window)
    assert (sweep is not None) is swept
    if sweep is not None:
        assert (sweep.level.price, sweep.closed_back, sweep.extreme) == (99.0, 14, 98.0)


def test_a_close_back_after_the_break_does_not_count() -> None:
    """The close back inside must come by the break: with the break at 13 the later close is not seen."""
    result = view(CLOSE_LATER, CHOCH_N, SMC)
    assert find_sweep(result, -1, 10, 13, 0.1, 3) is None


@pytest.mark.parametrize(("entry", "price"), [("proximal", 101.9), ("mean", (101.9 + 98.0) / 2)])
def test_entry_rules(entry: str, price: float) -> None:
    """The block 98 .. 101.9 entered at its proximal edge or its mean threshold."""
    [ob, _] = evaluate(view(LONG, CHOCH_N), 1, lambda: with_bias(1), replace(CONFIG, entry=entry))
    assert isinstance(ob, Candidate)
    assert ob.entry == pytest.approx(price, abs=1e-12)


def test_ote_entry_is_the_overlap_with_the_band() -> None:
    """Dealing range 98 .. 107 at the CHoCH: OTE is 107 - 0.79 x 9 = 99.89 to 107 - 0.62 x 9 = 101.42; the
    block 98 .. 101.9 overlaps it from 99.89 to 101.42, entered at the overlap's top."""
    [ob, _] = evaluate(view(LONG, CHOCH_N), 1, lambda: with_bias(1), replace(CONFIG, entry="ote"))
    assert isinstance(ob, Candidate)
    assert ob.entry == pytest.approx(107.0 - 0.62 * 9.0, abs=1e-12)


def test_ote_band_missing_the_zone() -> None:
    """The gap 101.9 .. 102.2 of FVG lies above the CHoCH range's OTE band 99.89 .. 101.42: no_ote_overlap."""
    _, fvg = evaluate(view(FVG, CHOCH_N), 1, lambda: with_bias(1), replace(CONFIG, entry="ote"))
    assert fvg == Rejection("sweep_choch_fvg", "no_ote_overlap")


# The textbook order: the bearish BOS at 7, then candle 10 sweeps the pool at 99 (low 98, close 100.5), a
# minor swing high 104.5 forms at 12, and candle 14 closes above it: a bullish CHoCH of a high formed after
# the sweep. The pool at 99 was first passed at 10, before that high formed.
SWEEP_FIRST = [
    *LONG[:10],
    (100.0, 101.0, 98.0, 100.5),  # 10: the sweep
    (100.5, 104.0, 100.2, 103.5),  # 11
    (103.5, 104.5, 102.0, 102.5),  # 12: swing high 104.5 (confirmed 13)
    (102.5, 103.0, 101.5, 102.8),  # 13
    (102.8, 105.5, 102.6, 105.2),  # 14: close 105.2 > 104.5, the CHoCH (break row 1)
]


def test_the_sweep_may_come_before_the_broken_high_within_the_bearish_phase() -> None:
    result = view(SWEEP_FIRST, 15)
    assert find_sweep(result, -1, 12, 14, 0.1, 3) is None  # nothing taken after the broken high formed
    ob, fvg = evaluate(result, 1, lambda: with_bias(1), CONFIG)
    assert ob == Rejection("sweep_choch_ob", "not_in_discount")  # past the sweep rule: 104.5 is at 75%
    assert isinstance(fvg, Candidate)
    sweep = fvg.evidence[0]
    assert (sweep["kind"], sweep["level"], sweep["index"], sweep["extreme"]) == ("internal_low", 99.0, 10, 98.0)
