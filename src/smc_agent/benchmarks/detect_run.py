"""The measuring half of ``bench detect``, run inside a fresh process per size.

It imports only what the detectors need (no pandas), so the peak memory it reports is the
detector engine's: interpreter, numpy, numba, the compiled kernels, the candles and the results.
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from typing import Any

import numpy as np

from smc_agent.benchmarks.measure import median_seconds, peak_rss_mb
from smc_agent.data.candles import Candles
from smc_agent.data.npz import load_saved
from smc_agent.smc.config import DETECTORS
from smc_agent.smc.detector import SmcEngine, analyze

__all__ = ["run_size"]


def run_size(path: str, repeats: int, stream_candles: int, compare_smc: bool) -> dict[str, Any]:
    """Runs in a fresh process: one size, every measurement, and this process's peak memory."""
    candles = load_saved(path)
    n = len(candles)
    analyze(candles[:2_000])  # load the compiled kernels before timing
    result: dict[str, Any] = {
        "candles": n,
        "objects": {name: len(table) for name, table in analyze(candles).tables.items()},
        "seconds_batch": median_seconds(lambda: analyze(candles), repeats),
        "us_per_candle_stream": _stream_median_us(candles, stream_candles, None),
        "detectors": {
            name: {
                "seconds_batch": median_seconds(partial(analyze, candles, detectors=[name]), repeats),
                "us_per_candle_stream": _stream_median_us(candles, min(stream_candles, 20_000), [name]),
            }
            for name in DETECTORS
        },
    }
    result["peak_rss_mb"] = peak_rss_mb()
    if compare_smc:
        from smc_agent.benchmarks.reference_smc import time_reference_smc

        reference = time_reference_smc(candles)
        result["reference_smc"] = dict(reference)
        result["reference_smc_skipped"] = reference.skipped
        result["ratio_vs_reference"] = reference["total"] / result["seconds_batch"]
    return result


def _stream_median_us(candles: Candles, count: int, detectors: list[str] | None) -> float:
    """Median microseconds of one :meth:`SmcEngine.update`, over the first ``count`` candles."""
    engine = SmcEngine(candles.timeframe, detectors=detectors)
    rows = zip(*(a[:count].tolist() for a in (candles.time, *candles.columns)), strict=True)
    latencies = []
    clock = time.perf_counter
    for row in rows:
        started = clock()
        engine.update(*row)
        latencies.append(clock() - started)
    return statistics.median(latencies) * 1e6 if latencies else float(np.nan)
