"""The npz hand-over keeps candles exactly: the optimiser's workers backtest what the parent loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from smc_agent.data.loaders import load_candles
from smc_agent.data.npz import load_saved, save_candles
from smc_agent.data.resample import resample


def test_a_real_file_round_trips_bit_for_bit(shared_data_path: Callable[[str], Path], tmp_path: Path) -> None:
    """Every column, the labels and an unfinished last candle (a resampled partial day) survive."""
    candles = resample(load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))[:1000], "1d")
    assert not candles.last_complete  # 1,000 quarter hours end mid-day
    save_candles(candles, tmp_path / "candles.npz")
    back = load_saved(tmp_path / "candles.npz")
    for name in ("time", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(back, name), getattr(candles, name))
        assert getattr(back, name).dtype == getattr(candles, name).dtype
    assert (back.symbol, back.timeframe, back.last_complete) == (candles.symbol, candles.timeframe, False)
