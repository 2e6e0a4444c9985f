"""A+ setup rules on hand-built entry-timeframe candles, worked out from :mod:`smc_agent.analysis.setups`.

The rules are tested in isolation from the higher timeframes: the detectors run on a hand-built
sequence and :func:`evaluate` gets a hand-made :class:`Bias`. Settings: internal swings 1/1, ATR
period 3, every swing is a pool (``liquidity_min_members=1``), the dealing range on the internal
scope, and one all-day killzone so that the session score is fixed.

The long scenario ``LONG`` (derivations in the comments, from docs/smc.md):

* swing highs 126 (candle 2) and 122 (6) become buy-side pools that nothing takes later: TP2 and TP1;
* candle 7 closes below the swing low 102 (4): bearish BOS, the internal trend turns bearish;
* the swing low 99 (8) is a sell-side pool; candle 13 wicks to 98 and closes back above 99: the sweep,
  after the swing high 106 (10) formed;
* candle 15 closes above 106: a bullish CHoCH (break row 1). Its order block is candle 13 alone (the
  last down-close candle at the leg's low; candle 12 closed up): 98 .. 101.9;
* candles 16-20 pull back to a higher low 103.5 and candle 20 closes above the swing high 108 (16):
  a bullish BOS (break row 2) whose block is the down-close run 17-18: 103.5 .. 107.8.

Every short is the same sequence mirrored about 100 (``p -> 200 - p``), which mirrors every price and
keeps every ATR, so its expectations are the long ones mirrored.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from scenario import OHLC, candles, mirror, pick

from smc_agent.analysis.bias import Bias
from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.setups import Candidate, Rejection, evaluate, targets_beyond
from smc_agent.core.errors import ConfigError
from smc_agent.indicators.atr import atr
from smc_agent.model import ConfidenceLevel, Direction, Side
from smc_agent.smc.config import SessionWindow, SmcConfig, SwingLength
from smc_agent.smc.detector import SmcResult, analyze
from smc_agent.smc.structure import BOS, CHOCH

START = 1_709_251_200_000  # 2024-03-01 00:00 UTC; 1m candles, so candle k closes at 00:(k+1)
AXIS = 100.0
ALL_DAY = SessionWindow("all_day", "UTC", "00:00", "00:00")  # end == start: the whole day
SMC = SmcConfig(
    atr_period=3,
    internal=SwingLength(1, 1),
    liquidity_min_members=1,
    range_scope="internal",
    sessions=(),
    killzones=(ALL_DAY,),
)
CONFIG = AnalysisConfig(a_plus=0.6, entry_smc=SMC)

LONG: list[OHLC] = [
    (108.0, 109.0, 107.0, 108.0),  # 0
    (108.0, 110.0, 107.5, 109.0),  # 1
    (109.0, 126.0, 108.0, 115.0),  # 2  swing high 126 (confirmed 3): buy-side pool, TP2
    (115.0, 115.5, 106.0, 107.0),  # 3
    (107.0, 108.0, 102.0, 103.0),  # 4  swing low 102 (confirmed 5)
    (103.0, 111.0, 102.5, 110.5),  # 5
    (110.5, 122.0, 110.0, 111.0),  # 6  swing high 122 (confirmed 7): buy-side pool, TP1
    (111.0, 111.0, 100.0, 101.0),  # 7  close 101 < 102: bearish BOS (break row 0), trend bearish
    (101.0, 103.0, 99.0, 100.0),  # 8  swing low 99 (confirmed 9): sell-side pool (pools row 3)
    (100.0, 105.0, 99.5, 104.5),  # 9
    (104.5, 106.0, 103.0, 105.0),  # 10 swing high 106 (confirmed 11): s, the level the CHoCH breaks
    (105.0, 105.5, 101.0, 101.5),  # 11 down-close
    (101.5, 102.0, 100.5, 101.8),  # 12 up-close: ends the block's run of down-closes
    (101.8, 101.9, 98.0, 99.2),  # 13 low 98 < 99, close 99.2 >= 99: SWEEP; the down-close block 98 .. 101.9
    (99.2, 100.5, 98.4, 100.2),  # 14 confirms the swing low 98 at 13
    (100.2, 107.0, 100.0, 106.5),  # 15 close 106.5 > 106: bullish CHoCH (break row 1); runs the pool at 106
    (106.5, 108.0, 106.0, 107.5),  # 16 swing high 108 (confirmed 17)
    (107.5, 107.8, 104.5, 105.0),  # 17 down-close } the BOS block 103.5 .. 107.8
    (105.0, 105.5, 103.5, 104.0),  # 18 down-close } (swing low 103.5, confirmed 19)
    (104.0, 106.0, 103.8, 105.8),  # 19
    (105.8, 109.5, 105.5, 109.0),  # 20 close 109 > 108: bullish BOS (break row 2); runs the pool at 108
]
CHOCH_N = 16  # the CHoCH is evaluated as known at its close: candles 0..15
BOS_N = 21


def variant(rows: list[OHLC], changes: dict[int, OHLC]) -> list[OHLC]:
    return [changes.get(k, row) for k, row in enumerate(rows)]


# Candle 15 opens with a gap above candle 13's high: candle 14 (up-close) is the middle of a bullish FVG
# 101.9 .. 102.2, formed after the sweep and confirmed by the CHoCH candle (fvgs row 3).
FVG = variant(LONG, {15: (102.5, 107.0, 102.2, 106.5)})
# The pullback stops at 99.6, above the pool at 99: nothing on the sell side is taken before the CHoCH.
NO_SWEEP = variant(LONG, {13: (101.8, 101.9, 99.6, 99.9), 14: (99.9, 100.5, 99.8, 100.2)})
# Candle 12 closes down too, so the block is the run 11..13 and its top is 105.5: in premium.
PREMIUM = variant(LONG, {12: (102.0, 102.2, 100.5, 101.8)})
# Candle 11 dips to 99.05 (swing low, confirmed 12): within 0.1 ATR of the pool at 99, which grows to two
# members, 99 .. 99.05 (pools row 5); candle 13 sweeps that pool of equal lows.
EQUAL_LOWS = variant(LONG, {11: (105.0, 105.5, 99.05, 101.5)})


# Candle 12 reaches 103 so that candle 13 is no swing high; candle 13's high (the block top, the entry)
# is then set to 102.5, exactly the equilibrium of 98 .. 107, or to 102.4, just below it.
def block_top(top: float) -> list[OHLC]:
    return variant(LONG, {12: (101.5, 103.0, 100.5, 101.8), 13: (101.8, top, 98.0, 99.2)})


# TP1 only 111.2: (111.2 - 101.9) / (3.9 + 0.25 ATR) < 2.
CLOSE_TARGET = variant(LONG, {6: (110.5, 111.2, 110.0, 111.0)})
# Candles 0..9 with strictly falling highs: no swing high before 10, so the only buy-side pool is the
# one at 106 that the CHoCH runs. Swing lows 102 (4, broken by the close 101.8 at 6) and 99 (8).
NO_TARGET = [
    (112.0, 113.0, 110.0, 111.0),
    (111.0, 112.0, 108.0, 109.0),
    (109.0, 110.0, 105.0, 106.0),
    (106.0, 107.0, 103.0, 104.0),
    (104.0, 105.0, 102.0, 103.0),
    (103.0, 104.5, 102.5, 104.0),
    (104.0, 104.2, 101.5, 101.8),
    (101.8, 103.0, 100.0, 100.5),
    (100.5, 102.8, 99.0, 100.0),
    (100.0, 102.5, 99.5, 102.3),
    *LONG[10:CHOCH_N],
]


def view(rows: list[OHLC], n: int, smc: SmcConfig = SMC) -> SmcResult:
    return analyze(candles(rows[:n], "1m", START), smc)


def atr_at(rows: list[OHLC], i: int) -> float:
    """Wilder ATR (period 3) of candle ``i``; :func:`atr` is tested against hand values in tests/smc."""
    high, low, close = (np.array([row[k] for row in rows]) for k in (1, 2, 3))
    return float(atr(high, low, close, SMC.atr_period)[i])


def rows_for(d: int, rows: list[OHLC]) -> list[OHLC]:
    return rows if d == 1 else mirror(rows, AXIS)


def p(d: int, price: float) -> float:
    """A long scenario's price as it is in the scenario of direction ``d``."""
    return price if d == 1 else 2 * AXIS - price


def bias(direction: Direction, confidence: float = 56.0) -> Bias:
    level = ConfidenceLevel.MEDIUM if confidence >= 40 else ConfidenceLevel.LOW
    bull, bear = (50.0 + confidence / 2, 50.0 - confidence / 2)
    if direction is Direction.BEARISH:
        bull, bear = bear, bull
    return Bias(direction, confidence, level, bull, bear, ())


def with_bias(d: int) -> Bias:
    return bias(Direction.BULLISH if d == 1 else Direction.BEARISH)


def never_asked() -> Bias:
    pytest.fail("the bias was asked for, but an earlier rule should have rejected the setup")


def time_of(index: int) -> str:
    """Close time of 1m candle ``index`` from 2024-03-01 00:00 UTC."""
    minutes = index + 1
    return f"2024-03-01T00:{minutes:02d}:00Z"


def zone(d: int, top: float, bottom: float) -> dict[str, float]:
    """A long zone's edges in the scenario of direction ``d`` (mirroring swaps top and bottom)."""
    a, b = p(d, top), p(d, bottom)
    return {"top": max(a, b), "bottom": min(a, b)}


def assert_evidence(got: tuple[dict[str, Any], ...], want: list[dict[str, Any]]) -> None:
    assert [link["role"] for link in got] == [link["role"] for link in want]
    for link, expected in zip(got, want, strict=True):
        assert link.keys() == expected.keys()
        assert link == pytest.approx(expected)


def sweep_link(d: int, rows: list[OHLC], row: int, level: float, kind: str = "internal_low") -> dict[str, Any]:
    """The evidence of the sweep at candle 13 of a long scenario: first pass, low 98, closed back at once."""
    return {
        "role": "sweep", "id": f"pools:{row}", "index": 13, "time": time_of(13), "kind": kind.replace(
            "low", "low" if d == 1 else "high"), "level": p(d, level), "extreme": p(d, 98.0),
        "depth_atr": (level - 98.0) / atr_at(rows, 13), "closed_back_index": 13,
    }  # fmt: skip


def weighted(breakdown: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights[k] * v for k, v in breakdown.items()) / sum(weights.values())


# --- sweep_choch_ob -----------------------------------------------------------------------------------


def test_choch_scenario_preconditions() -> None:
    """Pattern check: the detectors see the hand-derived breaks, block, sweep and pools of LONG."""
    result = view(LONG, CHOCH_N)
    assert pick(result.breaks, "formed_index", "confirmed_index", "direction", "kind", "scope", "level") == [
        (4, 7, -1, BOS, 0, 102.0),
        (10, 15, 1, CHOCH, 0, 106.0),
    ]
    block = pick(result.order_blocks, "formed_index", "end_index", "break_row", "top", "bottom", "mitigated_index")
    assert block[1] == (13, 13, 1, 101.9, 98.0, -1)
    sides = pick(result.pools, "formed_index", "side", "top", "swept_index", "run_index")
    assert sides == [
        (2, 1, 126.0, -1, -1),
        (4, -1, 102.0, -1, 7),
        (6, 1, 122.0, -1, -1),
        (8, -1, 99.0, 13, -1),
        (10, 1, 106.0, -1, 15),
        (13, -1, 98.0, -1, -1),
    ]
    # Dealing range at 15: swing high 106 (10) trailed up by candle 15's 107; swing low 98 (13).
    assert (result.pd_top[15], result.pd_bottom[15]) == (107.0, 98.0)
    assert result.trend[14, 0] == -1
    assert result.trend[15, 0] == 1


@pytest.mark.parametrize(("d", "side"), [(1, Side.BUY), (-1, Side.SELL)], ids=["long", "short"])
def test_sweep_choch_ob_signal(d: int, side: Side) -> None:
    """sweep_choch_ob: sweep of 99, CHoCH of 106, entry at the block top, stop under the sweep low less ATR/4."""
    rows = rows_for(d, LONG)
    result = view(rows, CHOCH_N)
    a = atr_at(rows, 15)
    entry = p(d, 101.9)  # the block's top (bottom for the short)
    stop = p(d, 98.0) - d * 0.25 * a  # the lower of the sweep low 98 and the block bottom 98, less 0.25 ATR
    targets = (p(d, 122.0), p(d, 126.0))  # untaken buy-side pools above the entry, nearest first
    rr = (122.0 - 101.9) / (101.9 - (98.0 - 0.25 * a))

    outcomes = evaluate(result, 1, lambda: with_bias(d), CONFIG)

    assert outcomes[1] == Rejection("sweep_choch_fvg", "no_zone")  # no bullish gap between 13 and 15
    ob = outcomes[0]
    assert isinstance(ob, Candidate)
    assert (ob.setup, ob.side, ob.zone) == ("sweep_choch_ob", side, ("order_blocks", 1))
    assert ob.entry == pytest.approx(entry, abs=1e-9)
    assert ob.stop == pytest.approx(stop, abs=1e-9)
    assert ob.targets == pytest.approx(targets, abs=1e-9)
    assert ob.rr == pytest.approx(rr, rel=1e-9)
    assert rr == pytest.approx(3.98509, abs=1e-5)  # 20.1 / (3.9 + 0.25 * 4.575214)
    assert_evidence(
        ob.evidence,
        [
            sweep_link(d, rows, 3, 99.0),
            {"role": "choch", "id": "breaks:1", "index": 15, "time": time_of(15), "level": p(d, 106)},
            # refined to the last down-close candle, 13 itself here
            {
                "role": "zone",
                "id": "order_blocks:1",
                "index": 15,
                "time": time_of(15),
                **zone(d, 101.9, 98),
                "first_index": 13,
                "last_index": 13,
            },
        ],
    )


def test_sweep_choch_ob_quality_breakdown() -> None:
    """sweep_choch_ob: every quality component recomputed by hand from the documented formulas."""
    result = view(LONG, CHOCH_N)
    a = atr_at(LONG, 15)
    rr = (122.0 - 101.9) / (101.9 - (98.0 - 0.25 * a))
    expected = {
        "bias": 56.0 / 70.0,  # confidence / high_confidence
        # an internal swing low (strength 0.6), swept 1.0 below, in ATR of the sweep candle 13
        "sweep": 0.6 + 0.2 * min(1.0, (99.0 - 98.0) / atr_at(LONG, 13)),
        "displacement": min(1.0, (106.5 - 98.0) / a / 3.0),  # (CHoCH close - block bottom) / ATR, over 3
        "freshness": 1.0,  # the block was not touched by candle 15 (state changes start at 16)
        "premium_discount": (0.5 - (101.9 - 98.0) / (107.0 - 98.0)) / 0.5,  # entry at 43.3% of 98 .. 107
        "session": 1.0,  # candle 15 is in the all-day killzone
        "rr": min(1.0, rr / (2 * 2.0)),
    }

    [ob, _] = evaluate(result, 1, lambda: bias(Direction.BULLISH), CONFIG)

    assert isinstance(ob, Candidate)
    assert ob.breakdown.keys() == expected.keys()
    assert ob.breakdown == pytest.approx(expected, abs=1e-12)
    quality = weighted(expected, CONFIG.quality_weights)
    assert ob.quality == pytest.approx(quality, abs=1e-12)
    assert quality == pytest.approx(0.719843, abs=1e-6)  # depth in ATR of the sweep candle (was at the break)


@pytest.mark.parametrize(
    ("sessions", "killzones", "score"),
    [((), (ALL_DAY,), 1.0), ((ALL_DAY,), (), 0.6), ((), (), 0.2)],
    ids=["killzone", "session", "outside"],
)
def test_session_component(
    sessions: tuple[SessionWindow, ...], killzones: tuple[SessionWindow, ...], score: float
) -> None:
    """Quality 'session': 1 in a killzone, 0.6 in a session only, 0.2 outside both."""
    smc = SmcConfig(
        atr_period=3,
        internal=SwingLength(1, 1),
        liquidity_min_members=1,
        range_scope="internal",
        sessions=sessions,
        killzones=killzones,
    )
    config = AnalysisConfig(a_plus=0.0, entry_smc=smc)
    [ob, _] = evaluate(view(LONG, CHOCH_N, smc), 1, lambda: bias(Direction.BULLISH), config)
    assert isinstance(ob, Candidate)
    assert ob.breakdown["session"] == score


def test_sweep_of_equal_lows() -> None:
    """sweep_choch_ob after a sweep of two equal lows: the sweep links the grown pool, strength 0.8, not 0.6."""
    result = view(EQUAL_LOWS, CHOCH_N)
    grown = pick(result.pools, "side", "members", "bottom", "top", "superseded_index", "swept_index")
    assert grown[3] == (-1, 1, 99.0, 99.0, 12, -1)  # the lone low, grown into row 5 at 12
    assert grown[5] == (-1, 2, 99.0, 99.05, -1, 13)
    a = atr_at(EQUAL_LOWS, 15)
    [ob, _] = evaluate(result, 1, lambda: bias(Direction.BULLISH), CONFIG)
    assert isinstance(ob, Candidate)
    depth = (99.0 - 98.0) / atr_at(EQUAL_LOWS, 13)
    assert ob.breakdown["sweep"] == pytest.approx(min(1.0, 0.8 + 0.2 * min(1.0, depth)), abs=1e-12)
    assert ob.evidence[0] == pytest.approx(sweep_link(1, EQUAL_LOWS, 5, 99.0, "equal_lows"))
    assert ob.stop == pytest.approx(98.0 - 0.25 * a, abs=1e-12)


# --- sweep_choch_fvg ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "side"), [(1, Side.BUY), (-1, Side.SELL)], ids=["long", "short"])
def test_sweep_choch_fvg_signal(d: int, side: Side) -> None:
    """sweep_choch_fvg: entry at the top of the unfilled gap 101.9 .. 102.2 formed between sweep and CHoCH."""
    rows = rows_for(d, FVG)
    result = view(rows, CHOCH_N)
    gap = pick(result.fvgs, "formed_index", "confirmed_index", "direction", "touched_index", "top", "bottom")[3]
    assert gap[:4] == (14, 15, d, -1)
    assert gap[4:] == pytest.approx((zone(d, 102.2, 101.9)["top"], zone(d, 102.2, 101.9)["bottom"]))
    a = atr_at(rows, 15)
    entry = p(d, 102.2)
    stop = p(d, 98.0) - d * 0.25 * a  # the sweep low 98 is below the gap's bottom 101.9
    rr = (122.0 - 102.2) / (102.2 - (98.0 - 0.25 * a))
    expected_breakdown = {
        "bias": 0.8,
        "sweep": 0.6 + 0.2 * min(1.0, 1.0 / atr_at(rows, 13)),
        "displacement": min(1.0, (106.5 - 98.0) / a / 3.0),  # the break's order block (13) still scores it
        "freshness": 1.0,  # the gap is untouched
        "premium_discount": (0.5 - (102.2 - 98.0) / (107.0 - 98.0)) / 0.5,
        "session": 1.0,
        "rr": min(1.0, rr / 4.0),
    }

    ob, fvg = evaluate(result, 1, lambda: with_bias(d), CONFIG)

    assert isinstance(ob, Candidate)  # the block 98 .. 101.9 still qualifies on its own
    assert ob.setup == "sweep_choch_ob"
    assert isinstance(fvg, Candidate)
    assert (fvg.setup, fvg.side, fvg.zone) == ("sweep_choch_fvg", side, ("fvgs", 3))
    assert fvg.entry == pytest.approx(entry, abs=1e-9)
    assert fvg.stop == pytest.approx(stop, abs=1e-9)
    assert fvg.targets == pytest.approx((p(d, 122.0), p(d, 126.0)), abs=1e-9)
    assert fvg.rr == pytest.approx(rr, rel=1e-9)
    assert fvg.breakdown == pytest.approx(expected_breakdown, abs=1e-9)
    assert fvg.quality == pytest.approx(weighted(expected_breakdown, CONFIG.quality_weights), abs=1e-9)
    assert_evidence(
        fvg.evidence,
        [
            sweep_link(d, rows, 3, 99.0),
            {"role": "choch", "id": "breaks:1", "index": 15, "time": time_of(15), "level": p(d, 106)},
            {"role": "zone", "id": "fvgs:3", "index": 15, "time": time_of(15), **zone(d, 102.2, 101.9)},
        ],
    )


# --- bos_continuation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "side"), [(1, Side.BUY), (-1, Side.SELL)], ids=["long", "short"])
def test_bos_continuation_signal(d: int, side: Side) -> None:
    """bos_continuation: BOS of 108 in the bias direction; the block 17-18 refined to its last down-close
    candle 18 (103.5 .. 105.5): entry at 105.5, stop under 103.5."""
    rows = rows_for(d, LONG)
    result = view(rows, BOS_N)
    assert pick(result.breaks, "formed_index", "confirmed_index", "direction", "kind")[2] == (16, 20, d, BOS)
    assert pick(result.order_blocks, "break_row", "formed_index", "end_index")[2] == (2, 17, 18)
    assert result.trend[20, 1] == 0  # the swing scope (50/50) confirms no swing in 21 candles
    a = atr_at(rows, 20)
    entry = p(d, 105.5)
    stop = p(d, 103.5) - d * 0.25 * a  # no sweep: below the block only
    rr = (122.0 - 105.5) / (105.5 - (103.5 - 0.25 * a))
    expected_breakdown = {
        "bias": 0.8,
        "sweep": 0.5,  # stands in for the sweep: the swing scope (50/50) has no trend in 21 candles
        "displacement": min(1.0, (109.0 - 103.5) / a / 3.0),
        "freshness": 1.0,
        # range: swing high 108 (16) trailed to 109.5 by candle 20, swing low 103.5 (18); 105.5 is at 1/3
        "premium_discount": (0.5 - (105.5 - 103.5) / (109.5 - 103.5)) / 0.5,
        "session": 1.0,
        "rr": min(1.0, rr / 4.0),
    }

    [bos] = evaluate(result, 2, lambda: with_bias(d), CONFIG)

    assert isinstance(bos, Candidate)
    assert (bos.setup, bos.side, bos.zone) == ("bos_continuation", side, ("order_blocks", 2))
    assert bos.entry == pytest.approx(entry, abs=1e-9)
    assert bos.stop == pytest.approx(stop, abs=1e-9)
    assert bos.targets == pytest.approx((p(d, 122.0), p(d, 126.0)), abs=1e-9)  # 108 was run at 20
    assert bos.rr == pytest.approx(rr, rel=1e-9)
    assert rr == pytest.approx(16.5 / (2.0 + 0.25 * a), rel=1e-12)
    assert bos.breakdown == pytest.approx(expected_breakdown, abs=1e-9)
    assert bos.quality == pytest.approx(weighted(expected_breakdown, CONFIG.quality_weights), abs=1e-9)
    assert_evidence(
        bos.evidence,
        [
            {"role": "bos", "id": "breaks:2", "index": 20, "time": time_of(20), "level": p(d, 108)},
            {
                "role": "zone",
                "id": "order_blocks:2",
                "index": 20,
                "time": time_of(20),
                **zone(d, 105.5, 103.5),
                "first_index": 18,
                "last_index": 18,
            },
        ],
    )


def test_bos_continuation_bias_against() -> None:
    """bos_continuation: a bullish BOS with a bearish bias is rejected as bias_against."""
    result = view(LONG, BOS_N)
    assert evaluate(result, 2, lambda: bias(Direction.BEARISH), CONFIG) == [
        Rejection("bos_continuation", "bias_against")
    ]


def test_bearish_bos_with_bullish_bias() -> None:
    """bos_continuation, short side: the bearish BOS at 7 (block 102.5 .. 122) against a bullish bias."""
    result = view(LONG, 8)
    assert pick(result.breaks, "direction", "kind", "confirmed_index") == [(-1, BOS, 7)]
    assert evaluate(result, 0, lambda: bias(Direction.BULLISH), CONFIG) == [
        Rejection("bos_continuation", "bias_against")
    ]


# --- rejections ---------------------------------------------------------------------------------------


def test_no_sweep() -> None:
    """No sell-side pool taken between the swing high and the CHoCH: no_sweep, and the bias is never asked."""
    result = view(NO_SWEEP, CHOCH_N)
    assert pick(result.breaks, "direction", "kind", "confirmed_index")[1] == (1, CHOCH, 15)
    assert (result.pools.col("swept_index") < 0).all()
    assert evaluate(result, 1, never_asked, CONFIG) == [
        Rejection("sweep_choch_ob", "no_sweep"),
        Rejection("sweep_choch_fvg", "no_sweep"),
    ]


def test_no_zone_for_fvg_setup() -> None:
    """sweep_choch_fvg without a bullish gap between sweep and CHoCH: no_zone, before the bias is asked."""
    config = AnalysisConfig(a_plus=0.6, entry_smc=SMC, setups=("sweep_choch_fvg",))
    assert evaluate(view(LONG, CHOCH_N), 1, never_asked, config) == [Rejection("sweep_choch_fvg", "no_zone")]


@pytest.mark.parametrize(
    ("direction", "reason"), [(Direction.BEARISH, "bias_against"), (Direction.NEUTRAL, "bias_neutral")]
)
def test_bias_not_with_the_setup(direction: Direction, reason: str) -> None:
    """sweep_choch_ob with the bias against it or neutral; the FVG setup fails earlier, on its zone."""
    outcomes = evaluate(
        view(LONG, CHOCH_N), 1, lambda: bias(direction, 56.0 if reason == "bias_against" else 4.0), CONFIG
    )
    assert outcomes == [Rejection("sweep_choch_ob", reason), Rejection("sweep_choch_fvg", "no_zone")]


@pytest.mark.parametrize(("d", "reason"), [(1, "not_in_discount"), (-1, "not_in_premium")], ids=["long", "short"])
def test_entry_not_in_discount(d: int, reason: str) -> None:
    """sweep_choch_ob on the whole block 11..13 (``ob_candles`` 0 or 3): its top 105.5 sits at 83% of the
    range 98 .. 107, not in discount."""
    rows = rows_for(d, PREMIUM)
    result = view(rows, CHOCH_N)
    block = pick(result.order_blocks, "break_row", "formed_index", "end_index", "top", "bottom")[1]
    assert block[:3] == (1, 11, 13)
    assert (block[3], block[4]) == pytest.approx((zone(d, 105.5, 98.0)["top"], zone(d, 105.5, 98.0)["bottom"]))
    for count in (0, 3):
        config = replace(CONFIG, ob_candles=count)
        assert evaluate(result, 1, lambda: with_bias(d), config)[0] == Rejection("sweep_choch_ob", reason)


@pytest.mark.parametrize("d", [1, -1], ids=["long", "short"])
@pytest.mark.parametrize(("count", "top"), [(1, 101.9), (2, 102.2)])
def test_block_refined_to_its_last_opposite_candles(d: int, count: int, top: float) -> None:
    """The same block refined to its last down-close candle (13: 98 .. 101.9) or last two (12-13: 98 .. 102.2,
    candle 12's high): both tops sit in discount (at 43% and 47% of 98 .. 107), so the setup is taken."""
    rows = rows_for(d, PREMIUM)
    ob = evaluate(view(rows, CHOCH_N), 1, lambda: with_bias(d), replace(CONFIG, ob_candles=count))[0]
    assert isinstance(ob, Candidate)
    assert ob.entry == pytest.approx(p(d, top), abs=1e-9)
    link = ob.evidence[-1]
    assert (link["first_index"], link["last_index"]) == (14 - count, 13)
    assert (link["top"], link["bottom"]) == pytest.approx((zone(d, top, 98.0)["top"], zone(d, top, 98.0)["bottom"]))


@pytest.mark.parametrize(("d", "reason"), [(1, "not_in_discount"), (-1, "not_in_premium")], ids=["long", "short"])
def test_entry_at_equilibrium_is_not_discount(d: int, reason: str) -> None:
    """sweep_choch_ob entering exactly at the equilibrium (102.5 of 98 .. 107) is rejected; 102.4 is discount."""
    at_half = view(rows_for(d, block_top(102.5)), CHOCH_N)
    edges = zone(d, 107.0, 98.0)
    assert (at_half.pd_top[15], at_half.pd_bottom[15]) == pytest.approx((edges["top"], edges["bottom"]))
    assert pick(at_half.order_blocks, "break_row", "formed_index", "end_index")[1] == (1, 13, 13)
    assert evaluate(at_half, 1, lambda: with_bias(d), CONFIG)[0] == Rejection("sweep_choch_ob", reason)
    below = view(rows_for(d, block_top(102.4)), CHOCH_N)
    ob = evaluate(below, 1, lambda: with_bias(d), CONFIG)[0]
    assert isinstance(ob, Candidate)
    assert ob.entry == pytest.approx(p(d, 102.4), abs=1e-9)
    assert ob.breakdown["premium_discount"] == pytest.approx((0.5 - 4.4 / 9) / 0.5, abs=1e-9)


def test_bias_is_checked_before_discount() -> None:
    """Rule order: the premium block with a neutral bias is rejected for the bias, not for premium."""
    outcome = evaluate(view(PREMIUM, CHOCH_N), 1, lambda: bias(Direction.NEUTRAL, 0.0), CONFIG)[0]
    assert outcome == Rejection("sweep_choch_ob", "bias_neutral")


def test_no_target() -> None:
    """sweep_choch_ob with no untaken buy-side pool above the entry (106, the only one, was run): no_target."""
    result = view(NO_TARGET, CHOCH_N)
    assert pick(result.breaks, "direction", "kind", "confirmed_index") == [(-1, BOS, 6), (1, CHOCH, 15)]
    assert pick(result.pools, "side", "top", "swept_index", "run_index") == [
        (-1, 102.0, -1, 6),
        (-1, 99.0, 13, -1),
        (1, 106.0, -1, 15),
        (-1, 98.0, -1, -1),
    ]
    assert targets_beyond(result, 1, 101.9) == []
    assert evaluate(result, 1, lambda: bias(Direction.BULLISH), CONFIG)[0] == Rejection("sweep_choch_ob", "no_target")


def test_rr_below_min() -> None:
    """sweep_choch_ob whose TP1 (111.2) is too close: reward-to-risk below 2 is rr_below_min."""
    result = view(CLOSE_TARGET, CHOCH_N)
    a = atr_at(CLOSE_TARGET, 15)
    rr = (111.2 - 101.9) / (101.9 - (98.0 - 0.25 * a))
    assert rr == pytest.approx(1.85245, abs=1e-5)  # 9.3 / (3.9 + 0.25 * 4.481570)
    assert targets_beyond(result, 1, 101.9) == [111.2, 126.0]
    assert evaluate(result, 1, lambda: bias(Direction.BULLISH), CONFIG)[0] == Rejection(
        "sweep_choch_ob", "rr_below_min"
    )
    # The threshold is exactly min_rr: just below the setup's RR it passes, just above it fails.
    passing = AnalysisConfig(a_plus=0.0, entry_smc=SMC, min_rr=rr - 1e-9)
    failing = AnalysisConfig(a_plus=0.0, entry_smc=SMC, min_rr=rr + 1e-9)
    ob = evaluate(result, 1, lambda: bias(Direction.BULLISH), passing)[0]
    assert isinstance(ob, Candidate)
    assert ob.rr == pytest.approx(rr, rel=1e-12)
    at_min = AnalysisConfig(a_plus=0.0, entry_smc=SMC, min_rr=ob.rr)  # "at least min_rr"
    assert isinstance(evaluate(result, 1, lambda: bias(Direction.BULLISH), at_min)[0], Candidate)
    assert evaluate(result, 1, lambda: bias(Direction.BULLISH), failing)[0] == Rejection(
        "sweep_choch_ob", "rr_below_min"
    )


def test_below_a_plus() -> None:
    """sweep_choch_ob of quality 0.7189 against a_plus 0.99, and at the threshold either side."""
    result = view(LONG, CHOCH_N)
    strict = AnalysisConfig(a_plus=0.99, entry_smc=SMC)
    assert evaluate(result, 1, lambda: bias(Direction.BULLISH), strict)[0] == Rejection(
        "sweep_choch_ob", "below_a_plus"
    )
    [ob, _] = evaluate(result, 1, lambda: bias(Direction.BULLISH), CONFIG)
    assert isinstance(ob, Candidate)
    above = AnalysisConfig(a_plus=ob.quality + 1e-9, entry_smc=SMC)
    at = AnalysisConfig(a_plus=ob.quality, entry_smc=SMC)
    assert evaluate(result, 1, lambda: bias(Direction.BULLISH), above)[0] == Rejection("sweep_choch_ob", "below_a_plus")
    assert isinstance(evaluate(result, 1, lambda: bias(Direction.BULLISH), at)[0], Candidate)


def test_default_a_plus_rejects_this_setup() -> None:
    """With the default a_plus 0.8 the textbook long (quality 0.72, or 0.76 at full bias) is not A+."""
    config = AnalysisConfig(entry_smc=SMC)
    outcome = evaluate(view(LONG, CHOCH_N), 1, lambda: bias(Direction.BULLISH, 90.0), config)[0]
    assert outcome == Rejection("sweep_choch_ob", "below_a_plus")


def test_quality_weights_are_normalised() -> None:
    """Quality is sum(weight x component) / sum(weights): doubling every weight changes nothing."""
    result = view(LONG, CHOCH_N)
    doubled = AnalysisConfig(
        a_plus=0.6, entry_smc=SMC, quality_weights={k: 2 * w for k, w in CONFIG.quality_weights.items()}
    )
    [one, _] = evaluate(result, 1, lambda: bias(Direction.BULLISH), CONFIG)
    [two, _] = evaluate(result, 1, lambda: bias(Direction.BULLISH), doubled)
    assert isinstance(one, Candidate)
    assert isinstance(two, Candidate)
    assert two.quality == pytest.approx(one.quality, abs=1e-12)


def test_quality_weights_subset() -> None:
    """Quality with only some weights: the missing components weigh 0 (as evidence_weights do)."""
    config = AnalysisConfig(a_plus=0.0, entry_smc=SMC, quality_weights={"bias": 1.0, "freshness": 1.0})
    [ob, _] = evaluate(view(LONG, CHOCH_N), 1, lambda: bias(Direction.BULLISH), config)
    assert isinstance(ob, Candidate)
    assert ob.quality == pytest.approx((0.8 + 1.0) / 2)


def test_enabled_setups_only() -> None:
    """Only the setups in config.setups are evaluated; a CHoCH starts no bos_continuation."""
    result = view(LONG, CHOCH_N)
    only_bos = AnalysisConfig(a_plus=0.6, entry_smc=SMC, setups=("bos_continuation",))
    assert evaluate(result, 1, never_asked, only_bos) == []
    only_ob = AnalysisConfig(a_plus=0.6, entry_smc=SMC, setups=("sweep_choch_ob",))
    assert [o.setup for o in evaluate(result, 1, lambda: bias(Direction.BULLISH), only_ob)] == ["sweep_choch_ob"]


def test_swing_scope_breaks_start_no_setup() -> None:
    """Only internal breaks start setups: the same CHoCH in the swing scope (1/1 too) gives nothing."""
    smc = SmcConfig(
        atr_period=3,
        internal=SwingLength(1, 1),
        swing=SwingLength(1, 1),
        liquidity_min_members=1,
        range_scope="internal",
        sessions=(),
        killzones=(ALL_DAY,),
    )
    result = view(LONG, CHOCH_N, smc)
    swing_rows = [k for k, scope in enumerate(result.breaks.col("scope")) if scope == 1]
    assert len(swing_rows) == 2  # the bearish BOS and the bullish CHoCH, again in the swing scope
    config = AnalysisConfig(a_plus=0.6, entry_smc=smc)
    for row in swing_rows:
        assert evaluate(result, row, never_asked, config) == []


def test_targets_beyond_orders_and_filters() -> None:
    """targets_beyond: untaken same-side pools strictly beyond the entry, nearest first, for both sides."""
    result = view(LONG, CHOCH_N)
    assert targets_beyond(result, 1, 101.9) == [122.0, 126.0]
    assert targets_beyond(result, 1, 122.0) == [126.0]  # a pool at the entry is not beyond it
    assert targets_beyond(result, 1, 130.0) == []
    # Sell-side pools below a short entry: 102 was run, 99 swept; only 98 is untaken.
    assert targets_beyond(result, -1, 101.9) == [98.0]
    assert targets_beyond(result, -1, 98.0) == []


# --- configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"setups": ("sweep_choch_ob", "turtle_soup")}, "setups"),
        ({"evidence_weights": {"swing_structure": 1.0, "volume": 0.5}}, "evidence_weights.volume"),
        ({"quality_weights": {"bias": 1.0, "news": 0.5}}, "quality_weights.news"),
        ({"evidence_weights": {"swing_structure": 1.0, "fvgs": -0.1}}, "evidence_weights.fvgs"),
        ({"quality_weights": {"bias": 1.0, "rr": -1.0}}, "quality_weights.rr"),
        ({"evidence_weights": {"fvgs": 0.0}}, "evidence_weights"),
        ({"quality_weights": {"rr": 0.0}}, "quality_weights"),
        ({"timeframe_weights": {"1d": 0.5, "4h": -0.3}}, "timeframe_weights.4h"),
        ({"neutral_band": -1.0}, "neutral_band"),
        ({"stop_buffer_atr": -0.25}, "stop_buffer_atr"),
        ({"min_rr": -2.0}, "min_rr"),
        ({"min_rr": float("nan")}, "min_rr"),
        ({"a_plus": 1.5}, "a_plus"),
        ({"a_plus": -0.1}, "a_plus"),
        ({"medium_confidence": 80.0, "high_confidence": 70.0}, "medium_confidence"),
        ({"min_candles": 0}, "min_candles"),
        ({"expiry_candles": 0}, "expiry_candles"),
        ({"timeframe_weights": {"1d": 0.5, "4x": 0.5}}, "timeframe_weights.4x"),
    ],
)
def test_config_errors_name_the_key(kwargs: dict[str, Any], key: str) -> None:
    """AnalysisConfig validation: unknown names and out-of-range values raise ConfigError naming the key."""
    with pytest.raises(ConfigError) as caught:
        AnalysisConfig(**kwargs)
    assert caught.value.key == key
    assert f"key {key}" in str(caught.value)


def test_config_defaults_are_valid() -> None:
    """AnalysisConfig defaults: the documented weights, thresholds and setups."""
    config = AnalysisConfig()
    assert config.timeframe_weights == {}  # every timeframe gets the default rule's weight
    assert sum(config.evidence_weights.values()) == pytest.approx(1.15)  # daily_levels 0.15 joined the six
    assert sum(config.quality_weights.values()) == pytest.approx(1.0)
    assert (config.min_rr, config.a_plus, config.stop_buffer_atr, config.expiry_candles) == (2.0, 0.8, 0.25, 24)
    assert config.setups == ("sweep_choch_ob", "sweep_choch_fvg", "bos_continuation")
    assert config.entry_smc.liquidity_min_members == 1
