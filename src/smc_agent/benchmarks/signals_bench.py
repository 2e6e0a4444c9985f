"""``smc-agent bench signals``: the full multi-timeframe analysis and its per-candle streaming cost.

Input: 90 days of 15m candles (8,640, i.e. 96 a day) mirror-tiled from the real EURUSD 15m file, with
three higher timeframes (1h, 4h, 1d) built from them. ``seconds_full`` is the median time to replay
them all through a fresh :class:`~smc_agent.analysis.signals.SignalEngine` (every detector on every
timeframe, the bias, the setup rules and the signal lifecycle); ``us_per_candle_stream`` is the median
time of one ``update`` in that replay. It runs in a fresh process, after a warm-up.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from smc_agent.benchmarks.measure import call_in_subprocess, median_seconds, peak_rss_mb
from smc_agent.core.errors import DataError
from smc_agent.data.loaders import load_candles
from smc_agent.data.npz import load_saved, save_candles
from smc_agent.data.shared import shared_data_dir
from smc_agent.data.tiling import mirror_tile

__all__ = ["SIGNALS_SOURCE", "signals_benchmark"]

SIGNALS_SOURCE = "forex/EURUSD_15m_mt5.csv"
DAYS = 90
HTFS = ("1h", "4h", "1d")


def signals_benchmark(*, source: Path | None = None, repeats: int = 5) -> dict[str, Any]:
    path = source or shared_data_dir() / SIGNALS_SOURCE
    if not path.exists():
        raise DataError("benchmark source data not found; pass --data FILE or set SMC_SHARED_DATA", path=str(path))
    real = load_candles(path)
    if real.timeframe != "15m":
        raise DataError(f"the signals benchmark needs 15m candles, got {real.timeframe}", path=str(path))
    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / "candles.npz"
        save_candles(mirror_tile(real, DAYS * 96), saved)
        report: dict[str, Any] = call_in_subprocess(_measure, str(saved), repeats)
    return {"source": str(path), "days": DAYS, "htfs": list(HTFS), **report}


def _measure(path: str, repeats: int) -> dict[str, Any]:
    """Runs in a fresh process."""
    from smc_agent.analysis.signals import SignalEngine, replay

    candles = load_saved(path)
    replay(candles[:2000], HTFS)  # load the compiled kernels before timing
    seconds = median_seconds(lambda: replay(candles, HTFS), repeats)
    engine = SignalEngine(candles.timeframe, HTFS, symbol=candles.symbol)
    latencies = []
    clock = time.perf_counter
    for row in zip(*(column.tolist() for column in (candles.time, *candles.columns)), strict=True):
        started = clock()
        engine.update(*row)
        latencies.append(clock() - started)
    return {
        "candles": len(candles),
        "seconds_full": seconds,
        "us_per_candle_stream": statistics.median(latencies) * 1e6,
        "signals": len(engine.signals),
        "peak_rss_mb": peak_rss_mb(),
    }
