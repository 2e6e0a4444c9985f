"""No look-ahead across timeframes, proven on real data; and signals that are fully reproducible.

The streaming multi-timeframe engine builds each higher-timeframe bar as its entry candles close.
The independent reference is the batch path: resample the *whole* file, run the detectors over it,
and keep what was known after the higher-timeframe bars whose close time had passed by entry
candle k (``as_of``), and the entry timeframe's own batch result after k candles for the previous
day's levels. The bias from both must be identical; a bar used before it closed, or one missed,
would change it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from smc_agent.analysis.bias import combine
from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.mtf import MultiTimeframeEngine
from smc_agent.analysis.signals import replay
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.resample import resample
from smc_agent.smc.detector import SmcResult, analyze

CASES = [
    ("forex/EURUSD_15m_mt5.csv", None, "15m", ["1h", "4h", "1d"]),
    ("india/NIFTY-FUT_15m_2024.csv", "Asia/Kolkata", "15m", ["1h", "1d"]),
    ("crypto/BTC-PERP_1m_2022-01.csv", None, "15m", ["1h", "4h"]),
]


def _entry(shared_data_path: Callable[[str], Path], relpath: str, tz: str | None, tf: str) -> Candles:
    candles = load_candles(shared_data_path(relpath), tz=tz)
    return candles if candles.timeframe == tf else resample(candles, tf, tz=tz)


def _batch_views(candles: Candles, htfs: list[str], tz: str | None, config: AnalysisConfig) -> dict[str, tuple]:
    """Each higher timeframe analysed in one batch run, with the close time of every bar.

    A bar closes one timeframe after it opens (the zones used here have no daylight saving).
    """
    views = {}
    for tf in htfs:
        bars = resample(candles, tf, tz=tz)
        views[tf] = (analyze(bars, config.htf_smc), bars.time + bars.timeframe_ms)
    return views


@pytest.mark.parametrize(("relpath", "tz", "tf", "htfs"), CASES)
def test_bias_uses_only_closed_higher_timeframe_bars(
    shared_data_path: Callable[[str], Path], relpath: str, tz: str | None, tf: str, htfs: list[str]
) -> None:
    config = AnalysisConfig(timeframe_weights={frame: 1.0 for frame in htfs}, min_candles=5)
    candles = _entry(shared_data_path, relpath, tz, tf)
    batch = _batch_views(candles, htfs, tz, config)
    entry = analyze(candles, replace(config.entry_smc, calendar_tz=tz or "UTC"))
    engine = MultiTimeframeEngine(tf, htfs, config, symbol=candles.symbol, tz=tz)
    samples = set(np.random.default_rng(11).integers(50, len(candles), 25).tolist()) | {len(candles)}
    checked = levels = 0
    for k, row in enumerate(zip(*(c.tolist() for c in (candles.time, *candles.columns)), strict=True), start=1):
        engine.update(*row)
        if k not in samples:
            continue
        close = int(candles.time[k - 1]) + candles.timeframe_ms
        views: dict[str, SmcResult | None] = {}
        for frame, (result, ends) in batch.items():
            views[frame] = result.as_of(int(np.searchsorted(ends, close, side="right")))
        expected = combine(views, config, levels=entry.as_of(k))
        assert engine.bias().to_dict() == expected.to_dict(), f"{relpath} at entry candle {k}"
        levels += any(e.type == "daily_levels" for e in expected.signals)
        checked += 1
    assert checked == len(samples)
    assert levels > len(samples) // 2  # the previous day's levels were part of most comparisons


def test_signals_of_a_prefix_are_the_history_of_the_full_run(shared_data_path: Callable[[str], Path]) -> None:
    candles = load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))
    full = replay(candles, ["1h", "4h", "1d"])
    assert len(full.signals) > 0  # otherwise the comparison below proves nothing
    for k in (4000, 9001, 16000, len(candles) - 3):
        prefix = replay(candles[:k], ["1h", "4h", "1d"])
        assert prefix.history == [(i, s) for i, s in full.history if i < k], f"history differs at k={k}"


def test_signals_json_is_byte_identical(shared_data_path: Callable[[str], Path]) -> None:
    candles = load_candles(shared_data_path("india/NIFTY-FUT_15m_2024.csv"), tz="Asia/Kolkata")

    def document() -> str:
        engine = replay(candles, ["1h", "1d"], tz="Asia/Kolkata")
        return json.dumps([s.to_dict() for s in engine.signals], sort_keys=True)

    assert document() == document()
