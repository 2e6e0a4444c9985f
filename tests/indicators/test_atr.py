"""Wilder's ATR on hand-computed series: warm-up NaNs, first value = mean TR, then smoothing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scenario import OHLC, candles, stream

from smc_agent.indicators.atr import atr
from smc_agent.smc.config import SmcConfig
from smc_agent.smc.detector import analyze

F64 = npt.NDArray[np.float64]


# True ranges, each using the previous close:
#   0: 10 - 8 = 2 (no previous close)
#   1: prev 9:    max(11 - 9.5, |11 - 9|, |9.5 - 9|)      = 2
#   2: prev 10.5: max(10.8 - 10, |10.8 - 10.5|, |10 - 10.5|) = 0.8
#   3: prev 10.2 (gap down): max(9 - 8, |9 - 10.2|, |8 - 10.2|) = 2.2
#   4: prev 8.5 (gap up):    max(12 - 11, |12 - 8.5|, |11 - 8.5|) = 3.5
#   5: prev 11.5 (inside):   max(11.8 - 11.2, 0.3, 0.3)    = 0.6
GAPPY: list[OHLC] = [
    (9.0, 10.0, 8.0, 9.0),
    (9.5, 11.0, 9.5, 10.5),
    (10.5, 10.8, 10.0, 10.2),
    (9.0, 9.0, 8.0, 8.5),
    (11.0, 12.0, 11.0, 11.5),
    (11.5, 11.8, 11.2, 11.5),
]
TRUE_RANGES = [2.0, 2.0, 0.8, 2.2, 3.5, 0.6]
# period 3: atr[2] = (2 + 2 + 0.8) / 3 = 1.6; atr[3] = (1.6 * 2 + 2.2) / 3 = 1.8;
# atr[4] = (1.8 * 2 + 3.5) / 3 = 7.1 / 3; atr[5] = (7.1 / 3 * 2 + 0.6) / 3 = 16 / 9
WILDER_3 = [1.6, 1.8, 7.1 / 3, 16 / 9]


def _hlc(ohlc: list[OHLC]) -> tuple[F64, F64, F64]:
    c = candles(ohlc)
    return c.high, c.low, c.close


def test_wilder_period_3_on_gappy_series() -> None:
    """Gaps up and down: TR takes the previous close, then the mean, then Wilder's smoothing."""
    values = atr(*_hlc(GAPPY), 3)
    assert np.isnan(values[:2]).all()
    assert values[2:].tolist() == pytest.approx(WILDER_3, rel=1e-12)


def test_period_1_is_the_true_range() -> None:
    """With period 1 there is no warm-up and each ATR value is that candle's true range."""
    assert atr(*_hlc(GAPPY), 1).tolist() == pytest.approx(TRUE_RANGES, rel=1e-12)


def test_first_value_is_the_plain_mean_not_a_smoothed_one() -> None:
    """Period 6 on six candles: one value, the mean of all six true ranges."""
    values = atr(*_hlc(GAPPY), 6)
    assert np.isnan(values[:5]).all()
    assert values[5] == pytest.approx(sum(TRUE_RANGES) / 6, rel=1e-12)


def test_period_longer_than_history_is_all_nan() -> None:
    """Fewer candles than the period: every value is still warming up."""
    assert np.isnan(atr(*_hlc(GAPPY), 7)).all()


def test_docstring_example() -> None:
    """The module's own example: period 2, 1.25 then 1.375."""
    h, lo, c = np.array([2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5])
    values = atr(h, lo, c, 2)
    assert np.isnan(values[0])
    assert values[1:].tolist() == [1.25, 1.375]


def test_engine_series_is_the_same_arithmetic() -> None:
    """analyze() and streaming both expose the ATR series that atr() computes."""
    config = SmcConfig(atr_period=3)
    batch = analyze(candles(GAPPY), config, detectors=["fvg"])
    np.testing.assert_array_equal(batch.atr, atr(*_hlc(GAPPY), 3))
    streamed = stream(candles(GAPPY), config, ["fvg"])
    np.testing.assert_array_equal(streamed.atr, batch.atr)
    assert np.isnan(batch.atr[:2]).all()
    assert batch.atr[2:].tolist() == pytest.approx(WILDER_3, rel=1e-12)
