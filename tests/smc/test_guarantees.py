"""The two promises, proven on real market data: nothing looks ahead, and streaming equals batch.

No look-ahead: for sampled prefix lengths k, running on ``candles[:k]`` gives exactly the objects
of the full run whose ``confirmed_index < k``, with every state change at or after k undone
(:meth:`SmcResult.as_of`), and the same per-candle series. Any difference fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.detector import SmcEngine, SmcResult, analyze
from smc_agent.smc.tables import ObjectTable

# (file, naive-time zone, calendar zone): forex, crypto and Indian futures, in their own formats.
REAL_FILES = [
    ("forex/EURUSD_15m_mt5.csv", None, "UTC"),
    ("crypto/BTC-PERP_1m_2022-01.csv", None, "UTC"),
    ("india/NIFTY-FUT_15m_2024.csv", "Asia/Kolkata", "Asia/Kolkata"),
    ("forex/GBPUSD_1m_bid_2012-02.csv", None, "America/New_York"),
    ("crypto/BTC_USDT-5m_2023.json", None, "UTC"),
    ("crypto/XRP_ETH-1m.feather", None, "UTC"),  # thin market: hundreds of missing minutes
]
CONFIGS = {
    "default": {},
    # Short swings, wick breaks, other mitigation and FVG modes: every code path gets exercised.
    "variant": {
        "internal": SwingLength(2, 3),
        "swing": SwingLength(8, 8),
        "structure_break": "wick",
        "ob_mitigation": "half",
        "fvg_min_size": "auto",
        "fvg_join_consecutive": True,
        "liquidity_tolerance_atr": 0.3,
        "liquidity_min_members": 3,
        "range_scope": "internal",
    },
}


def _load(shared_data_path: Callable[[str], Path], relpath: str, tz: str | None) -> Candles:
    return load_candles(shared_data_path(relpath), tz=tz)


def _prefixes(n: int) -> list[int]:
    rng = np.random.default_rng(20261121)
    fixed = [1, 2, 3, 10, 61, 500, n // 3, n // 2 + 1, n - 1, n]
    return sorted({k for k in [*fixed, *rng.integers(1, n, 6).tolist()] if 1 <= k <= n})


def _undo_nothing(table: ObjectTable, k: int) -> ObjectTable:
    """A deliberately wrong 'as of k': keeps later state changes. Used to show the test can fail."""
    return table.where(table.col("confirmed_index") < k)


@pytest.mark.parametrize("config_name", CONFIGS)
@pytest.mark.parametrize(("relpath", "tz", "calendar_tz"), REAL_FILES)
def test_no_lookahead_on_real_data(
    shared_data_path: Callable[[str], Path], relpath: str, tz: str | None, calendar_tz: str, config_name: str
) -> None:
    candles = _load(shared_data_path, relpath, tz)
    config = SmcConfig(calendar_tz=calendar_tz, **CONFIGS[config_name])
    full = analyze(candles, config)
    later_changes = 0
    for k in _prefixes(len(candles)):
        prefix = analyze(candles[:k], config)
        expected = full.as_of(k)
        assert prefix.differences(expected) == [], f"{relpath} differs from the full run as of k={k}"
        for name, table in full.tables.items():
            if not _undo_nothing(table, k).equals(expected.tables[name]):
                later_changes += 1
    # The full run knows state changes that the prefixes must not; otherwise the test proves nothing.
    assert later_changes > 0


@pytest.mark.parametrize(("relpath", "tz", "calendar_tz"), REAL_FILES)
def test_streaming_equals_batch_on_real_data(
    shared_data_path: Callable[[str], Path], relpath: str, tz: str | None, calendar_tz: str
) -> None:
    candles = _load(shared_data_path, relpath, tz)
    config = SmcConfig(calendar_tz=calendar_tz)
    batch = analyze(candles, config)
    engine = SmcEngine(candles.timeframe, config, symbol=candles.symbol)
    for row in zip(*(column.tolist() for column in (candles.time, *candles.columns)), strict=True):
        engine.update(*row)
    assert engine.result().differences(batch) == []
    _assert_every_detector_found_something(batch)


def test_blocks_of_any_size_equal_batch(shared_data_path: Callable[[str], Path]) -> None:
    candles = _load(shared_data_path, "forex/EURUSD_15m_mt5.csv", None)
    batch = analyze(candles)
    engine = SmcEngine(candles.timeframe, capacity=16)  # tiny, so tables and buffers grow many times
    rng = np.random.default_rng(7)
    start = 0
    while start < len(candles):
        stop = min(len(candles), start + int(rng.integers(1, 3000)))
        engine.extend(candles[start:stop])
        start = stop
    assert engine.result().differences(batch) == []


def test_a_snapshot_is_not_changed_by_later_candles(shared_data_path: Callable[[str], Path]) -> None:
    candles = _load(shared_data_path, "india/NIFTY-FUT_15m_2024.csv", "Asia/Kolkata")
    engine = SmcEngine(candles.timeframe)
    engine.extend(candles[:600])
    early = engine.result()
    engine.extend(candles[600:])
    assert early.differences(analyze(candles[:600])) == []


def _assert_every_detector_found_something(result: SmcResult) -> None:
    empty = [name for name, table in result.tables.items() if name != "pools" and len(table) == 0]
    assert empty == [], f"no objects at all from {empty}: the comparison would be vacuous"
