"""Fair value gaps on hand-built candles: formation, filling, minimum size, joining and the cap."""

from __future__ import annotations

from typing import Any

import pytest
from scenario import OHLC, candles, mirror, prefixes_agree

from smc_agent.smc import layout
from smc_agent.smc.config import SmcConfig
from smc_agent.smc.detector import SmcResult, analyze


def _gaps(ohlc: list[OHLC], **config: Any) -> list[dict[str, Any]]:
    return list(_run(ohlc, **config).fvgs.rows())


def _run(ohlc: list[OHLC], **config: Any) -> SmcResult:
    return analyze(candles(ohlc), SmcConfig(**config), detectors=["fvg"])


def _row(formed: int, direction: int, top: float, bottom: float, **events: int) -> dict[str, Any]:
    """An expected row: confirmed at formed + 1, starting at formed, events default to -1."""
    row: dict[str, Any] = {
        "formed_index": formed,
        "confirmed_index": formed + 1,
        "direction": direction,
        "start_index": formed,
        "touched_index": -1,
        "half_index": -1,
        "filled_index": -1,
        "superseded_index": -1,
        "expired_index": -1,
        "top": top,
        "bottom": bottom,
    }
    for name, value in events.items():
        row[name if name.endswith("_index") else f"{name}_index"] = value
    return row


# One bullish gap 10 .. 12 (high[0] = 10 < low[2] = 12 around the bullish candle 1), then price
# comes back in steps: candle 3 wicks to 11.5 (touched), 4 stays at the top, 5 reaches the
# midpoint 11 (half), 6 stops at 10.5, 7 goes through the bottom to 9.5 (filled), 8 is after the end.
# No other triple is a gap: e.g. low[4] = 12 is not above high[6] = 12 around the bearish candle 5.
TWO_STEP_FILL = [
    (9.0, 10.0, 8.0, 9.5),
    (10.5, 14.0, 10.0, 13.5),
    (13.5, 15.0, 12.0, 14.0),
    (14.0, 14.5, 11.5, 12.5),
    (12.5, 13.0, 12.0, 13.0),
    (13.0, 13.5, 11.0, 11.5),
    (11.5, 12.0, 10.5, 11.0),
    (11.0, 11.0, 9.5, 10.0),
    (10.0, 10.5, 9.0, 9.5),
]


def test_bullish_gap_filled_in_two_steps() -> None:
    """An FVG filled in two steps: touched at 3, half at 5, filled at 7."""
    assert _gaps(TWO_STEP_FILL) == [_row(1, 1, 12.0, 10.0, touched=3, half=5, filled=7)]


def test_bearish_gap_filled_in_two_steps() -> None:
    """The mirror image: a bearish gap 18 .. 20 (low[0] = 20 > high[2] = 18), same fill indices."""
    assert _gaps(mirror(TWO_STEP_FILL, 15.0)) == [_row(1, -1, 20.0, 18.0, touched=3, half=5, filled=7)]


def test_state_as_known_between_the_steps() -> None:
    """After 6 candles the gap is half filled but not filled; after 4 it is only touched."""
    result = _run(TWO_STEP_FILL)
    assert list(result.as_of(6).fvgs.rows()) == [_row(1, 1, 12.0, 10.0, touched=3, half=5)]
    assert list(result.as_of(4).fvgs.rows()) == [_row(1, 1, 12.0, 10.0, touched=3)]
    assert len(result.as_of(2).fvgs) == 0


@pytest.mark.parametrize(
    "middle",
    [(13.5, 14.0, 10.0, 10.5), (12.0, 14.0, 10.0, 12.0)],
    ids=["bearish-middle", "doji-middle"],
)
def test_no_gap_without_a_bullish_middle_candle(middle: OHLC) -> None:
    """Non-overlapping neighbours around a bearish or doji middle candle are not a bullish gap."""
    ohlc = [TWO_STEP_FILL[0], middle, TWO_STEP_FILL[2]]
    assert _gaps(ohlc) == []
    assert _gaps(mirror(ohlc, 15.0)) == []


def test_confirming_candle_does_not_touch_its_own_gap() -> None:
    """Candle m + 1's low is the gap's top; touch checks only start at m + 2."""
    first = TWO_STEP_FILL[:3]
    assert _gaps(first) == [_row(1, 1, 12.0, 10.0)]
    above = (14.0, 15.5, 12.5, 15.0)  # stays above the top 12
    assert _gaps([*first, above]) == [_row(1, 1, 12.0, 10.0)]
    dip = (15.0, 15.0, 11.8, 12.0)
    assert _gaps([*first, above, dip]) == [_row(1, 1, 12.0, 10.0, touched=4)]


def test_one_candle_fills_the_whole_gap() -> None:
    """A candle through the whole gap sets touched, half and filled at once."""
    crash = (14.0, 14.0, 9.0, 9.5)
    assert _gaps([*TWO_STEP_FILL[:3], crash]) == [_row(1, 1, 12.0, 10.0, touched=3, half=3, filled=3)]


# Minimum size against ATR at the confirming candle m + 1 = 2. Candle 2 is (13.5, 16, 12, 14).
# True ranges: 10 - 8 = 2; max(14 - 10, |14 - 9.5|, |10 - 9.5|) = 4.5; max(16 - 12, 2.5, 1.5) = 4.
# Period 3: ATR[2] = (2 + 4.5 + 4) / 3 = 3.5 (ATR[1] is still NaN). Period 1: ATR[2] = 4.
ATR_GAP = [TWO_STEP_FILL[0], TWO_STEP_FILL[1], (13.5, 16.0, 12.0, 14.0)]


@pytest.mark.parametrize(
    ("period", "multiple", "kept"),
    [
        (3, 0.57, True),  # 2 >= 0.57 * 3.5 = 1.995
        (3, 0.58, False),  # 2 < 0.58 * 3.5 = 2.03
        (1, 0.5, True),  # 2 >= 0.5 * 4 = 2 exactly (the rule is >=)
        (1, 0.51, False),  # 2 < 0.51 * 4 = 2.04
        (1, 0.47, True),  # 2 >= 0.47 * 4 = 1.88 (ATR[m] = 4.5 would have dropped it)
    ],
)
def test_min_size_atr(period: int, multiple: float, kept: bool) -> None:
    """A gap of size 2 just above / below fvg_min_atr * ATR[m + 1]."""
    gaps = _gaps(ATR_GAP, atr_period=period, fvg_min_size="atr", fvg_min_atr=multiple)
    assert gaps == ([_row(1, 1, 12.0, 10.0)] if kept else [])


def test_min_size_atr_drops_gaps_while_atr_warms_up() -> None:
    """ATR[2] is NaN with period 4, so no gap passes the ATR size test yet."""
    assert _gaps(ATR_GAP, atr_period=4, fvg_min_size="atr", fvg_min_atr=0.5) == []
    assert _gaps(ATR_GAP, atr_period=4, fvg_min_size="none") == [_row(1, 1, 12.0, 10.0)]


def _auto_gap(body: float, quiet_prefix: int = 0) -> list[OHLC]:
    """Body fractions (|close - open| / open): prefix 0, candle A 0.02, middle body / 100, last 0.

    The gap is high[A] = 100.5 .. low[last] = 101.
    """
    doji = (100.0, 100.5, 99.5, 100.0)
    return [
        *[doji] * quiet_prefix,
        (100.0, 100.5, 98.0, 98.0),
        (100.0, 100.0 + body, 100.0, 100.0 + body),
        (100.0 + body, 100.5 + body, 101.0, 100.0 + body),
    ]


@pytest.mark.parametrize(
    ("body", "quiet_prefix", "kept"),
    [
        (4.5, 0, True),  # 0.045 > 2 * (0.02 + 0.045 + 0) / 3 = 0.0433
        (3.5, 0, False),  # 0.035 <= 2 * (0.02 + 0.035 + 0) / 3 = 0.0367
        (3.5, 4, True),  # four dojis lower the running mean: 2 * 0.055 / 7 = 0.0157
    ],
)
def test_min_size_auto(body: float, quiet_prefix: int, kept: bool) -> None:
    """auto: the middle body fraction must beat twice the running mean (candles 0 .. m + 1)."""
    m = quiet_prefix + 1
    expected = [_row(m, 1, 101.0, 100.5)] if kept else []
    assert _gaps(_auto_gap(body, quiet_prefix), fvg_min_size="auto") == expected
    assert _gaps(_auto_gap(body, quiet_prefix), fvg_min_size="none") == [_row(m, 1, 101.0, 100.5)]


def _step(k: int) -> OHLC:
    """Staircase candle k: bullish, low 10k, high 10k + 5, so every triple is a bullish gap."""
    return (10.0 * k + 1, 10.0 * k + 5, 10.0 * k, 10.0 * k + 4)


# Gaps around middles 1, 2, 3: 5 .. 20, 15 .. 30, 25 .. 40; candle 5 falls to 3, through them all.
STAIRS = [*(_step(k) for k in range(5)), (45.0, 46.0, 3.0, 4.0)]


def test_consecutive_gaps_stay_separate_by_default() -> None:
    """Three overlapping bullish gaps from a staircase, all filled by the fall at candle 5."""
    assert _gaps(STAIRS) == [
        _row(1, 1, 20.0, 5.0, touched=5, half=5, filled=5),
        _row(2, 1, 30.0, 15.0, touched=5, half=5, filled=5),
        _row(3, 1, 40.0, 25.0, touched=5, half=5, filled=5),
    ]


def test_join_consecutive_gaps() -> None:
    """fvg_join_consecutive: one surviving row 5 .. 40 from middle 1 to 3; only it gets filled."""
    assert _gaps(STAIRS, fvg_join_consecutive=True) == [
        _row(1, 1, 20.0, 5.0, superseded=3),
        {**_row(2, 1, 30.0, 5.0, superseded=4), "start_index": 1},
        {**_row(3, 1, 40.0, 5.0, touched=5, half=5, filled=5), "start_index": 1},
    ]


def test_join_consecutive_bearish_gaps() -> None:
    """The mirrored staircase joins the same way into one bearish row."""
    assert _gaps(mirror(STAIRS, 50.0), fvg_join_consecutive=True) == [
        _row(1, -1, 95.0, 80.0, superseded=3),
        {**_row(2, -1, 95.0, 70.0, superseded=4), "start_index": 1},
        {**_row(3, -1, 95.0, 60.0, touched=5, half=5, filled=5), "start_index": 1},
    ]


def test_join_needs_adjacent_middles() -> None:
    """Gaps around middles 1 and 3 (candle 2 is bearish, no gap at 2) are not joined."""
    ohlc = [_step(0), _step(1), (24.0, 25.0, 20.0, 21.0), _step(3), _step(4)]
    assert _gaps(ohlc, fvg_join_consecutive=True) == [_row(1, 1, 20.0, 5.0), _row(3, 1, 40.0, 25.0)]


def test_join_ignores_the_opposite_direction() -> None:
    """A bullish gap at middle 1 then a bearish one at middle 2 stay two rows."""
    ohlc = [(1.0, 5.0, 0.0, 4.0), (11.0, 15.0, 10.0, 14.0), (19.0, 20.0, 6.0, 7.0), (4.0, 4.0, 1.0, 2.0)]
    # Bullish 5 .. 6 (high[0] < low[2]), filled by candle 3's low 1; bearish 4 .. 10 (low[1] > high[3]).
    assert _gaps(ohlc, fvg_join_consecutive=True) == [
        _row(1, 1, 6.0, 5.0, touched=3, half=3, filled=3),
        _row(2, -1, 10.0, 4.0),
    ]


@pytest.mark.parametrize("direction", [1, -1])
def test_cap_evicts_the_oldest_unfilled_gap(direction: int) -> None:
    """FVG_CAP + 2 unfilled gaps on a staircase: the two oldest expire, the rest fill at the end."""
    n_gaps = layout.FVG_CAP + 2
    last = n_gaps + 2  # staircase candles 0 .. n_gaps + 1, then a fall through every gap
    ohlc = [*(_step(k) for k in range(last)), (10.0 * last, 10.0 * last, 0.0, 1.0)]
    axis = 20.0 * last
    if direction == -1:
        ohlc = mirror(ohlc, axis / 2)
    gaps = _gaps(ohlc)
    assert len(gaps) == n_gaps
    expected = []
    for r in range(n_gaps):  # gap r sits around middle r + 1: high[r] .. low[r + 2]
        bottom, top = 10.0 * r + 5, 10.0 * r + 20
        if direction == -1:
            bottom, top = axis - top, axis - bottom
        if r < 2:
            row = _row(r + 1, direction, top, bottom, expired=layout.FVG_CAP + 2 + r)
        else:
            row = _row(r + 1, direction, top, bottom, touched=last, half=last, filled=last)
        expected.append(row)
    assert gaps == expected


SCENARIOS = {
    "two-step-fill": (TWO_STEP_FILL, {}),
    "atr-size": (ATR_GAP, {"atr_period": 3, "fvg_min_size": "atr", "fvg_min_atr": 0.57}),
    "auto-size": (_auto_gap(3.5, 4), {"fvg_min_size": "auto"}),
    "join": (STAIRS, {"fvg_join_consecutive": True}),
    "cap": ([*(_step(k) for k in range(layout.FVG_CAP + 4)), (2000.0, 2000.0, 0.0, 1.0)], {}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_streaming_and_prefixes_equal_batch(name: str) -> None:
    """Candle-by-candle updates and every prefix agree with one batch run."""
    ohlc, config = SCENARIOS[name]
    assert prefixes_agree(candles(ohlc), SmcConfig(**config), ["fvg"]) == []
