"""The higher-timeframe bias, from the scoring rules in :mod:`smc_agent.analysis.bias`.

:func:`combine` is tested with hand-made evidence (its ``evidence`` argument) and stand-in results:
besides handing each result to ``evidence``, it only reads how many candles it has (``len(result.candles)``).
:func:`timeframe_evidence` is tested on a hand-built uptrend run through the detectors, and
:func:`daily_levels` on hand-built days of 6h candles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scenario import OHLC, candles, mirror, pick

from smc_agent.analysis.bias import Bias, Evidence, combine, daily_levels, evidence_points, timeframe_evidence
from smc_agent.analysis.config import AnalysisConfig, default_timeframe_weight
from smc_agent.data.candles import Candles
from smc_agent.indicators.atr import atr
from smc_agent.model import ConfidenceLevel, Direction
from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import analyze

BULL, BEAR, NEUTRAL = Direction.BULLISH, Direction.BEARISH, Direction.NEUTRAL
LOW, MEDIUM, HIGH = ConfidenceLevel.LOW, ConfidenceLevel.MEDIUM, ConfidenceLevel.HIGH


def result(n: int) -> Any:
    """A stand-in detector result with ``n`` closed candles (all that combine reads of it)."""
    return SimpleNamespace(candles=range(n))


def ev(kind: str, direction: Direction, strength: float, tf: str = "1d") -> Evidence:
    return Evidence(kind, tf, direction, strength, "hand-made")


def given(table: Mapping[str, list[Evidence]]) -> Callable[[str, Any], list[Evidence]]:
    return lambda tf, _result: table[tf]


def never_asked(tf: str, _result: Any) -> list[Evidence]:
    pytest.fail(f"evidence of {tf} was computed although the bias must be NEUTRAL for lack of data")


# The weights the tests' arithmetic is worked with, named as a user would (the default rule is tested below).
NAMED = AnalysisConfig(timeframe_weights={"1d": 0.5, "4h": 0.3, "1h": 0.2})


# --- combine: scores from the weights -----------------------------------------------------------------


def test_scores_from_named_weights() -> None:
    """Bias scores: 100 x sum over timeframes of tf_weight x evidence_weight x strength (named tf weights,
    default evidence weights; daily_levels has no levels to read, so the six others are normalised alone)."""
    table = {
        "1d": [
            ev("swing_structure", BULL, 1.0),
            ev("internal_structure", BULL, 1.0),
            ev("premium_discount", BEAR, 0.6),
            ev("order_blocks", BULL, 0.5),
        ],
        "4h": [
            ev("swing_structure", BULL, 1.0, "4h"),
            ev("liquidity_draw", BEAR, 0.25, "4h"),
            ev("fvgs", BEAR, 0.8, "4h"),
        ],
        "1h": [ev("internal_structure", BEAR, 1.0, "1h"), ev("premium_discount", BULL, 0.2, "1h")],
    }
    # bullish: 0.5 (0.30 + 0.15 + 0.15 x 0.5) + 0.3 x 0.30 + 0.2 x 0.15 x 0.2 = 0.2625 + 0.09 + 0.006 = 0.3585
    # bearish: 0.5 x 0.15 x 0.6 + 0.3 (0.15 x 0.25 + 0.10 x 0.8) + 0.2 x 0.15 = 0.045 + 0.03525 + 0.03 = 0.11025
    results = {"1h": result(480), "1d": result(30), "4h": result(120)}  # any order: highest first in the result
    bias = combine(results, NAMED, given(table))
    assert bias.bullish_score == pytest.approx(35.85, abs=1e-9)
    assert bias.bearish_score == pytest.approx(11.025, abs=1e-9)
    assert bias.confidence == pytest.approx(24.825, abs=1e-9)
    assert (bias.direction, bias.confidence_level) == (BULL, LOW)
    assert bias.reason == "used 1d (0.50), 4h (0.30), 1h (0.20)"
    assert bias.weights == pytest.approx({"1d": 0.5, "4h": 0.3, "1h": 0.2})
    assert bias.signals == (*table["1d"], *table["4h"], *table["1h"])
    assert bias.candles == {"1h": 480, "1d": 30, "4h": 120}


def test_scores_bearish_and_high() -> None:
    """Bias scores: every piece bearish at full strength on every timeframe is bearish 100, HIGH."""
    kinds = ("swing_structure", "internal_structure", "premium_discount", "order_blocks", "fvgs", "liquidity_draw")
    table = {tf: [ev(kind, BEAR, 1.0, tf) for kind in kinds] for tf in ("1d", "4h", "1h")}
    bias = combine({tf: result(40) for tf in table}, NAMED, given(table))
    assert (bias.bullish_score, bias.bearish_score) == (0.0, pytest.approx(100.0, abs=1e-9))
    assert (bias.direction, bias.confidence, bias.confidence_level) == (BEAR, pytest.approx(100.0), HIGH)


def test_weights_are_normalised() -> None:
    """Bias scores: timeframe and evidence weights need not sum to 1; doubling them changes nothing."""
    table = {"1d": [ev("swing_structure", BULL, 1.0)], "4h": [ev("fvgs", BEAR, 0.5, "4h")]}
    results = {"1d": result(30), "4h": result(30)}
    single = AnalysisConfig(
        timeframe_weights={"1d": 3.0, "4h": 1.0}, evidence_weights={"swing_structure": 3.0, "fvgs": 1.0}
    )
    double = AnalysisConfig(
        timeframe_weights={"1d": 6.0, "4h": 2.0}, evidence_weights={"swing_structure": 6.0, "fvgs": 2.0}
    )
    # bullish 3/4 x 3/4 x 1 = 0.5625; bearish 1/4 x 1/4 x 0.5 = 0.03125
    for config in (single, double):
        bias = combine(results, config, given(table))
        assert (bias.bullish_score, bias.bearish_score) == (56.25, 3.125)
        assert (bias.direction, bias.confidence, bias.confidence_level) == (BULL, 53.125, MEDIUM)


def test_unweighted_evidence_type_counts_nothing() -> None:
    """Bias scores: evidence whose type has no weight adds 0 to the scores but is still listed."""
    table = {"1d": [ev("swing_structure", BULL, 1.0), ev("fvgs", BEAR, 1.0)]}
    config = AnalysisConfig(timeframe_weights={"1d": 1.0}, evidence_weights={"swing_structure": 1.0})
    bias = combine({"1d": result(30)}, config, given(table))
    assert (bias.bullish_score, bias.bearish_score) == (100.0, 0.0)
    assert evidence_points(bias.signals, bias.weights or {}, config) == (100.0, 0.0)
    assert len(bias.signals) == 2


# --- combine: direction, neutral band, confidence levels ----------------------------------------------

# One timeframe and one evidence type, both of weight 1, so each score is 100 x strength; dyadic
# strengths make every score exact. Band 12.5, MEDIUM from 50, HIGH from 75.
BANDS = AnalysisConfig(
    timeframe_weights={"1d": 1.0},
    evidence_weights={"swing_structure": 1.0},
    neutral_band=12.5,
    medium_confidence=50.0,
    high_confidence=75.0,
)


@pytest.mark.parametrize(
    ("bull", "bear", "direction", "confidence", "level"),
    [
        (0.0, 0.0, NEUTRAL, 0.0, LOW),
        (0.25, 0.140625, NEUTRAL, 10.9375, LOW),  # inside the band: no direction, confidence still reported
        (0.125, 0.0, BULL, 12.5, LOW),  # exactly the band: a direction ("below the band is NEUTRAL")
        (0.0, 0.125, BEAR, 12.5, LOW),
        (0.5, 0.0078125, BULL, 49.21875, LOW),  # just under MEDIUM
        (0.5, 0.0, BULL, 50.0, MEDIUM),  # exactly MEDIUM
        (0.75, 0.0078125, BULL, 74.21875, MEDIUM),  # just under HIGH
        (0.75, 0.0, BULL, 75.0, HIGH),  # exactly HIGH
        (0.0, 0.75, BEAR, 75.0, HIGH),
        (0.25, 1.0, BEAR, 75.0, HIGH),  # net of both sides
    ],
)
def test_direction_and_confidence_level(
    bull: float, bear: float, direction: Direction, confidence: float, level: ConfidenceLevel
) -> None:
    """Bias direction from the net score against neutral_band; LOW/MEDIUM/HIGH from its boundaries up."""
    table = {"1d": [ev("swing_structure", BULL, bull), ev("swing_structure", BEAR, bear)]}
    bias = combine({"1d": result(30)}, BANDS, given(table))
    assert (bias.bullish_score, bias.bearish_score) == (100 * bull, 100 * bear)
    assert (bias.direction, bias.confidence, bias.confidence_level) == (direction, confidence, level)
    assert bias.reason == "used 1d (1.00)"


# --- combine: not enough data -------------------------------------------------------------------------


def test_none_result_is_left_out_and_the_rest_renormalised() -> None:
    """Bias: a timeframe without a result yet (None) has 0 of the 30 candles; it is left out, the others vote."""
    table = {"1d": [ev("swing_structure", BULL, 1.0)], "1h": [ev("swing_structure", BEAR, 1.0, "1h")]}
    bias = combine({"1d": result(90), "4h": None, "1h": result(500)}, NAMED, given(table))
    # bullish 0.5 / 0.7 x 0.30 = 0.2142857; bearish 0.2 / 0.7 x 0.30 = 0.0857143
    assert bias.bullish_score == pytest.approx(100 * 0.15 / 0.7, abs=1e-9)
    assert bias.bearish_score == pytest.approx(100 * 0.06 / 0.7, abs=1e-9)
    assert bias.direction is BULL  # 12.86 >= 10
    assert bias.weights == pytest.approx({"1d": 5 / 7, "1h": 2 / 7})
    assert bias.reason == "used 1d (0.71), 1h (0.29); left out 4h: 0 of 30 closed candles"
    assert bias.candles == {"1d": 90, "4h": 0, "1h": 500}


@pytest.mark.parametrize(("n", "votes"), [(0, False), (29, False), (30, True)])
def test_too_short_timeframe_is_left_out(n: int, votes: bool) -> None:
    """Bias: a timeframe with fewer than min_candles (30) closed candles is left out, not a reason for NEUTRAL."""
    table = {"1d": [ev("swing_structure", BULL, 1.0)], "4h": [ev("swing_structure", BEAR, 1.0, "4h")], "1h": []}
    bias = combine({"1d": result(n), "4h": result(100), "1h": result(100)}, NAMED, given(table))
    if votes:
        # bullish 0.5 x 0.30 = 15, bearish 0.3 x 0.30 = 9
        assert (bias.bullish_score, bias.bearish_score) == (pytest.approx(15.0), pytest.approx(9.0))
        assert bias.reason == "used 1d (0.50), 4h (0.30), 1h (0.20)"
    else:
        # 1d out: 4h 0.3 / 0.5 of the weight, bearish 0.6 x 0.30 = 18
        assert (bias.bullish_score, bias.bearish_score) == (0.0, pytest.approx(18.0))
        assert (bias.direction, bias.signals) == (BEAR, tuple(table["4h"]))
        assert bias.reason == f"used 4h (0.60), 1h (0.40); left out 1d: {n} of 30 closed candles"


def test_neutral_only_when_no_timeframe_has_enough_candles() -> None:
    """Bias NEUTRAL for lack of data only when every weighted timeframe is short; the reason lists them."""
    bias = combine({"1d": result(3), "4h": None, "1h": result(29)}, NAMED, never_asked)
    assert bias == Bias(
        NEUTRAL, 0.0, LOW, 0.0, 0.0, (),
        "no timeframe has 30 closed candles yet (1d: 3 of 30 closed candles; 4h: 0 of 30 closed candles; "
        "1h: 29 of 30 closed candles)",
        {"1d": 3, "4h": 0, "1h": 29}, {},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        ({}, "none of the timeframes [] has a weight above 0"),
        ({"15m": result(500), "1w": None}, "none of the timeframes ['15m', '1w'] has a weight above 0"),
    ],
    ids=["empty", "weight-0"],
)
def test_no_weighted_timeframe(results: dict[str, Any], reason: str) -> None:
    """Bias NEUTRAL, with a reason, when no timeframe is given or every one given has weight 0."""
    config = AnalysisConfig(timeframe_weights={"15m": 0.0, "1w": 0.0})
    bias = combine(results, config, never_asked)
    assert (bias.direction, bias.confidence, bias.confidence_level, bias.reason) == (NEUTRAL, 0.0, LOW, reason)
    assert bias.candles == {tf: (0 if r is None else len(r.candles)) for tf, r in results.items()}


def test_weight_0_timeframe_may_be_missing_or_short() -> None:
    """Bias ignores a timeframe of weight 0 even when it is None or short, and says so."""
    config = AnalysisConfig(timeframe_weights={"1d": 1.0, "4h": 0.0})
    bias = combine({"1d": result(30), "4h": None}, config, given({"1d": [ev("swing_structure", BULL, 1.0)]}))
    assert (bias.direction, bias.reason) == (BULL, "used 1d (1.00); left out 4h: weight 0")
    assert bias.bullish_score == pytest.approx(30.0)


def test_named_timeframe_not_given_is_left_out() -> None:
    """Bias over the timeframes given: a named one that is absent (1h) plays no part; the rest renormalised."""
    table = {"1d": [ev("swing_structure", BULL, 1.0)], "4h": [ev("swing_structure", BEAR, 1.0, "4h")]}
    bias = combine({"1d": result(30), "4h": result(30)}, NAMED, given(table))
    # bullish 0.5 / 0.8 x 0.30 = 0.1875; bearish 0.3 / 0.8 x 0.30 = 0.1125
    assert bias.bullish_score == pytest.approx(18.75)
    assert bias.bearish_score == pytest.approx(11.25)
    assert bias.direction is NEUTRAL  # 7.5 < 10
    assert bias.reason == "used 1d (0.62), 4h (0.37)"  # 0.625 and 0.375 as floats


@pytest.mark.parametrize(
    ("tf", "weight"),
    # ln(1 + minutes) / ln(1441), worked by hand: ln 16 = 2.772589, ln 61 = 4.110874, ln 241 = 5.484797,
    # ln 1441 = 7.273093, ln 10081 = 9.218407 (python: math.log1p)
    [("15m", 0.381212), ("1h", 0.565217), ("4h", 0.754122), ("1d", 1.0), ("1w", 1.267467)],
)
def test_default_timeframe_weight(tf: str, weight: float) -> None:
    """Every timeframe has a weight by default, heavier with the log of its duration, 1 for a day."""
    assert default_timeframe_weight(tf) == pytest.approx(weight, abs=1e-6)
    assert AnalysisConfig().timeframe_weight(tf) == pytest.approx(weight, abs=1e-6)


def test_timeframe_without_a_named_weight_votes() -> None:
    """Bias: ``--htf 1w`` votes with its default weight (it used to be ignored); a named weight still wins."""
    table = {"1w": [ev("swing_structure", BULL, 1.0, "1w")], "1d": [ev("swing_structure", BEAR, 1.0)]}
    results = {"1w": result(30), "1d": result(30)}
    by_default = combine(results, AnalysisConfig(), given(table))
    share = 1.267467 / (1.267467 + 1.0)  # 1w's default weight over the sum
    assert by_default.weights == pytest.approx({"1w": share, "1d": 1 - share}, abs=1e-6)
    assert by_default.bullish_score == pytest.approx(100 * share * 0.30 / 1.0, abs=1e-4)
    assert by_default.reason == "used 1w (0.56), 1d (0.44)"
    named = combine(results, AnalysisConfig(timeframe_weights={"1d": 3.0}), given(table))
    assert named.weights == pytest.approx({"1w": 1.267467 / 4.267465, "1d": 3 / 4.267465}, abs=1e-6)
    assert named.direction is BEAR


def test_real_empty_and_tiny_results_never_crash() -> None:
    """Bias from real detector results with 0 and 1 candles: NEUTRAL for lack of data, no exception."""
    empty = analyze(candles([], "1d"))
    one = analyze(candles([(10.0, 11.0, 9.0, 10.5)], "1d"))
    assert timeframe_evidence(empty, "1d") == []
    assert timeframe_evidence(one, "1d") == []  # no trend, no range, ATR still NaN
    assert daily_levels(empty) is None
    bias = combine({"1d": empty, "4h": one, "1h": None}, AnalysisConfig(), levels=empty)
    assert (bias.direction, bias.reason) == (
        NEUTRAL,
        "no timeframe has 30 closed candles yet (1d: 0 of 30 closed "
        "candles; 4h: 1 of 30 closed candles; 1h: 0 of 30 closed candles)",
    )
    config = AnalysisConfig(timeframe_weights={"1d": 1.0}, min_candles=1)
    assert combine({"1d": one}, config) == Bias(NEUTRAL, 0.0, LOW, 0.0, 0.0, (), "used 1d (1.00)", {"1d": 1},
                                                {"1d": 1.0})  # fmt: skip


# --- timeframe_evidence on a hand-built uptrend -------------------------------------------------------

# Internal swings 1/1, swing scope 2/2 (the dealing range's scope), ATR period 3, every swing a pool.
UP_SMC = SmcConfig(atr_period=3, internal=SwingLength(1, 1), swing=SwingLength(2, 2), liquidity_min_members=1)
UPTREND: list[OHLC] = [
    (10.0, 11.0, 9.5, 10.5),  # 0
    (10.5, 12.0, 10.0, 11.5),  # 1
    (11.5, 13.0, 11.0, 12.5),  # 2  swing high 13 (internal, confirmed 3; swing scope, confirmed 4)
    (12.5, 12.8, 10.5, 11.0),  # 3  down-close } block 9.8 .. 12.8 of the first BOS
    (11.0, 11.5, 9.8, 10.2),  # 4  down-close } swing low 9.8 (confirmed 5 / 6): sell-side pool
    (10.2, 12.0, 10.0, 11.8),  # 5
    (11.8, 13.6, 11.5, 13.4),  # 6  close 13.4 > 13: bullish BOS in both scopes; runs the pool at 13
    (13.4, 14.5, 13.2, 14.2),  # 7
    (14.2, 15.0, 13.8, 14.6),  # 8  swing high 15 (confirmed 9 / 10)
    (14.6, 14.7, 12.8, 13.0),  # 9  down-close } block 12 .. 14.7 of the second BOS
    (13.0, 13.5, 12.0, 12.4),  # 10 down-close } swing low 12 (confirmed 11 / 12): sell-side pool
    (12.4, 13.8, 12.3, 13.6),  # 11
    (13.6, 14.8, 13.5, 14.6),  # 12 middle of a bullish FVG 13.8 .. 14.4
    (14.6, 15.8, 14.4, 15.5),  # 13 close 15.5 > 15: bullish BOS in both scopes; middle of FVG 14.8 .. 14.9
    (15.5, 16.0, 14.9, 15.1),  # 14 last candle: close 15.1
]


def test_uptrend_detector_preconditions() -> None:
    """Pattern check: the uptrend has the hand-derived breaks, blocks, gaps, pools and dealing range."""
    r = analyze(candles(UPTREND, "4h"), UP_SMC)
    assert pick(r.breaks, "confirmed_index", "direction", "scope") == [(6, 1, 0), (6, 1, 1), (13, 1, 0), (13, 1, 1)]
    blocks = pick(r.order_blocks, "direction", "top", "bottom", "mitigated_index", "invalidated_index")
    assert blocks == [(1, 12.8, 9.8, 9, -1)] * 2 + [(1, 14.7, 12.0, -1, -1)] * 2
    live_gaps = [row for row in pick(r.fvgs, "direction", "top", "bottom", "filled_index") if row[3] < 0]
    assert live_gaps == [(1, 14.4, 13.8, -1), (1, 14.9, 14.8, -1)]
    live_pools = [row[:2] for row in pick(r.pools, "side", "bottom", "swept_index", "run_index") if row[2:] == (-1, -1)]
    assert live_pools == [(-1, 9.8), (-1, 12.0)]
    assert (r.pd_top[-1], r.pd_bottom[-1]) == (16.0, 12.0)  # swing high 15 trailed to 16, swing low 12


@pytest.mark.parametrize("d", [1, -1], ids=["uptrend", "mirrored-downtrend"])
def test_timeframe_evidence_uptrend(d: int) -> None:
    """timeframe_evidence on an uptrend closing at 15.1 in the range 12 .. 16 (77.5%: premium); and its mirror."""
    rows = UPTREND if d == 1 else mirror(UPTREND, 20.0)
    r = analyze(candles(rows, "4h"), UP_SMC)
    high, low, close = (np.array([row[k] for row in rows]) for k in (1, 2, 3))
    a = float(atr(high, low, close, 3)[-1])
    assert a == pytest.approx(1.338639, abs=1e-6)  # Wilder, period 3, worked by hand over the 15 candles
    up, down = (BULL, BEAR) if d == 1 else (BEAR, BULL)
    expected = [
        ("swing_structure", up, 1.0),
        ("internal_structure", up, 1.0),
        ("premium_discount", down, (0.775 - 0.5) / 0.5),  # (15.1 - 12) / (16 - 12) = 0.775
        ("order_blocks", up, 1 / (1 + (15.1 - 14.7) / a)),  # nearest live bullish block below: top 14.7
        ("fvgs", up, 1 / (1 + (15.1 - 14.9) / a)),  # nearest open bullish gap below: top 14.9
        ("liquidity_draw", down, 1 / (1 + (15.1 - 12.0) / a)),  # no buy-side pool above; sell-side at 12
    ]

    found = timeframe_evidence(r, "4h")

    assert [(e.type, e.direction, e.timeframe) for e in found] == [(k, direction, "4h") for k, direction, _ in expected]
    assert [e.strength for e in found] == pytest.approx([s for _, _, s in expected], abs=1e-9)
    assert found[2].detail.startswith("premium" if d == 1 else "discount")


def test_combine_on_the_uptrend() -> None:
    """Bias from the real uptrend evidence alone (4h weight 1, default evidence weights)."""
    r = analyze(candles(UPTREND, "4h"), UP_SMC)
    a = float(r.atr[-1])
    ob, fvg, draw = 1 / (1 + 0.4 / a), 1 / (1 + 0.2 / a), 1 / (1 + 3.1 / a)
    bull = 100 * (0.30 + 0.15 + 0.15 * ob + 0.10 * fvg)
    bear = 100 * (0.15 * 0.55 + 0.15 * draw)
    config = AnalysisConfig(timeframe_weights={"4h": 1.0}, min_candles=15)
    bias = combine({"4h": r}, config)
    assert bias.bullish_score == pytest.approx(bull, abs=1e-9)
    assert bias.bearish_score == pytest.approx(bear, abs=1e-9)
    assert (bias.direction, bias.confidence_level) == (BULL, MEDIUM)  # 65.25 - 12.77 = 52.5
    assert bias.confidence == pytest.approx(bull - bear, abs=1e-9)
    assert combine({"4h": r}, AnalysisConfig(timeframe_weights={"4h": 1.0}, min_candles=16)).reason == (
        "no timeframe has 16 closed candles yet (4h: 15 of 16 closed candles)"
    )


# --- daily_levels on hand-built days ------------------------------------------------------------------

# 6h candles from 1970-01-01 00:00 UTC: four a day. Day 0 makes PDH 12 and PDL 8 for day 1.
HOUR = 3_600_000
DAY0: list[OHLC] = [(10.0, 11.0, 9.0, 10.5), (10.5, 12.0, 10.0, 11.0), (11.0, 11.5, 8.0, 9.0), (9.0, 10.0, 8.5, 9.5)]
LEVELS = "PDH 12, PDL 8"


def day_levels(rows: list[OHLC], start_ms: int = 0, tz: str = "UTC") -> Evidence | None:
    return daily_levels(analyze(candles(rows, "6h", start_ms), SmcConfig(calendar_tz=tz)))


@pytest.mark.parametrize(
    ("today", "direction", "detail"),
    [
        ([(12.5, 13.0, 12.2, 12.8)], BULL, f"opened 12.5 above {LEVELS}"),
        ([(7.5, 7.8, 7.0, 7.2)], BEAR, f"opened 7.5 below {LEVELS}"),
        ([(10.0, 10.5, 9.5, 10.0)], NEUTRAL, f"opened inside {LEVELS}; neither taken yet"),
        ([(10.0, 12.5, 9.5, 11.0)], BEAR, f"opened inside {LEVELS}; swept PDH and closed back inside"),
        ([(10.0, 10.5, 7.5, 9.0)], BULL, f"opened inside {LEVELS}; swept PDL and closed back inside"),
        ([(10.0, 12.5, 9.5, 12.2)], BULL, f"opened inside {LEVELS}; took PDH and closed 12.2 above it"),
        ([(10.0, 10.5, 7.5, 7.9)], BEAR, f"opened inside {LEVELS}; took PDL and closed 7.9 below it"),
        # PDL swept first, then PDH: the later candles decide, not the first
        (
            [(10.0, 10.5, 7.5, 9.0), (9.0, 12.5, 9.0, 10.0)],
            NEUTRAL,
            f"opened inside {LEVELS}; took both and closed back inside",
        ),
        (
            [(10.0, 10.5, 7.5, 9.0), (9.0, 11.0, 9.0, 10.5)],
            BULL,
            f"opened inside {LEVELS}; swept PDL and closed back inside",
        ),
    ],
    ids=["open-above", "open-below", "inside", "sweep-pdh", "sweep-pdl", "break-pdh", "break-pdl", "both", "later"],
)
def test_daily_levels_rule(today: list[OHLC], direction: Direction, detail: str) -> None:
    """daily_levels: where day 1 opened against day 0's high 12 and low 8, and what it took (module rule)."""
    found = day_levels(DAY0 + today)
    assert found == Evidence("daily_levels", "6h", direction, 0.0 if direction is NEUTRAL else 1.0, detail)


def test_daily_levels_need_a_previous_day() -> None:
    """daily_levels: nothing during the first day, nor at its last close (today is still that day)."""
    assert [day_levels(DAY0[:k]) for k in range(1, 5)] == [None] * 4


def test_daily_levels_of_a_day_confirmed_late() -> None:
    """daily_levels: day 0 lacks its last candle, so it is confirmed by day 1's first, which is today's open."""
    rows = [*DAY0[:3], (12.5, 13.0, 12.2, 12.8)]
    c = candles(rows, "6h")
    c = Candles.from_arrays(np.array([0, 6, 12, 24]) * HOUR, c.open, c.high, c.low, c.close, c.volume, timeframe="6h")
    result = analyze(c, SmcConfig())
    assert (0, 3) in pick(result.calendar, "stream", "confirmed_index")  # the DAY stream confirmed at candle 3
    assert daily_levels(result) == Evidence("daily_levels", "6h", BULL, 1.0, f"opened 12.5 above {LEVELS}")


def test_daily_levels_skip_a_partial_first_day() -> None:
    """daily_levels: data that starts at noon has no true high and low for its first day."""
    assert day_levels([*DAY0[2:], (12.5, 13.0, 12.2, 12.8)], start_ms=12 * HOUR) is None


def test_daily_levels_follow_the_calendar_zone() -> None:
    """daily_levels: days are local days of calendar_tz (India, UTC+5:30 in 1970), not UTC days."""
    rows = [*DAY0, (12.5, 13.0, 12.2, 12.8)]
    ist_midnight = -5 * HOUR - HOUR // 2
    assert day_levels(rows, ist_midnight, "Asia/Kolkata") == Evidence(
        "daily_levels", "6h", BULL, 1.0, f"opened 12.5 above {LEVELS}"
    )
    assert day_levels(rows, ist_midnight) is None  # in UTC the data starts at 18:30: a partial first day


def test_daily_levels_not_on_daily_candles() -> None:
    """daily_levels: on 1d candles a day is one candle, so its open and the order of its takes are not seen."""
    assert daily_levels(analyze(candles(DAY0, "1d"))) is None


def test_daily_levels_count_once_with_their_evidence_weight() -> None:
    """Bias: daily_levels adds 100 x its evidence weight share x strength, as if every timeframe saw it."""
    config = AnalysisConfig(
        timeframe_weights={"1d": 1.0, "4h": 1.0}, evidence_weights={"swing_structure": 1.0, "daily_levels": 1.0}
    )
    table = {"1d": [ev("swing_structure", BEAR, 1.0)], "4h": []}
    levels = analyze(candles([*DAY0, (12.5, 13.0, 12.2, 12.8)], "6h"))
    with_levels = combine({"1d": result(30), "4h": result(30)}, config, given(table), levels=levels)
    # bullish: daily_levels 1 x 1/2 x 1 = 50; bearish: 1d weight 1/2 x 1/2 x 1 = 25
    assert (with_levels.bullish_score, with_levels.bearish_score) == (50.0, 25.0)
    assert with_levels.signals[-1].type == "daily_levels"
    assert evidence_points(with_levels.signals, with_levels.weights or {}, config) == (25.0, 50.0)
    # no levels to read: daily_levels is left out of the evidence weights, 1d's piece earns 1/2 x 1 x 1
    without = combine({"1d": result(30), "4h": result(30)}, config, given(table))
    assert (without.bullish_score, without.bearish_score) == (0.0, 50.0)
