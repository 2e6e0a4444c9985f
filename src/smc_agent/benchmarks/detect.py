"""``smc-agent bench detect``: how fast every detector runs, batch and streaming, and its memory.

Input is real candles (BTC-PERP 1m from the shared data by default) mirror-tiled to the requested
length (:func:`smc_agent.data.tiling.mirror_tile`), so prices stay realistic at any size. Each
size runs in its own fresh process, so its peak RSS is its own. Timings are medians after a
warm-up call, i.e. with numba's compiled code already loaded from its disk cache; the one-off
compile time is measured separately in a process with an empty cache (skipped with
``startup=False``: it compiles every kernel twice over, which is most of a small run's time).
Each run also reports how many objects the detectors found, so a reader (and a test) can see
that the timed work was the real analysis of the requested candles.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from smc_agent.benchmarks.detect_run import run_size
from smc_agent.benchmarks.measure import call_in_subprocess
from smc_agent.core.errors import DataError
from smc_agent.data.loaders import load_candles
from smc_agent.data.npz import save_candles
from smc_agent.data.shared import shared_data_dir
from smc_agent.data.tiling import mirror_tile

__all__ = ["DEFAULT_SOURCE", "detect_benchmark", "startup_seconds"]

DEFAULT_SOURCE = "crypto/BTC-PERP_1m_2022-01.csv"


def detect_benchmark(
    sizes: list[int],
    *,
    source: Path | None = None,
    repeats: int = 5,
    stream_candles: int = 50_000,
    compare_smc: bool = False,
    startup: bool = True,
) -> dict[str, Any]:
    """Benchmark every size in a fresh process; the largest size's figures are also top-level.

    ``startup`` adds the fresh-process figures of :func:`startup_seconds` (a cold and a warm start).
    """
    path = source or shared_data_dir() / DEFAULT_SOURCE
    if not path.exists():
        raise DataError("benchmark source data not found; pass --data FILE or set SMC_SHARED_DATA", path=str(path))
    source_candles = load_candles(path)
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for n in sizes:
            # A file, not a pickle: the child maps it straight into arrays instead of holding both.
            tiled = Path(scratch) / f"candles_{n}.npz"
            save_candles(mirror_tile(source_candles, n), tiled)
            runs.append(call_in_subprocess(run_size, str(tiled), repeats, stream_candles, compare_smc))
    report: dict[str, Any] = {"source": str(path), **runs[-1], "runs": runs}
    if startup:
        report.update(startup_seconds(str(path)))
    return report


def startup_seconds(path: str) -> dict[str, float]:
    """Wall time of a fresh process analysing 2,000 candles: with an empty numba cache (the
    one-off compile) and with a warm one (what a user waits for on every later run)."""
    script = (
        "from smc_agent.data.loaders import load_candles; from smc_agent.smc.detector import analyze; "
        f"analyze(load_candles({path!r})[:2000])"
    )
    with tempfile.TemporaryDirectory() as cache:
        cold = _python(script, {"NUMBA_CACHE_DIR": cache})
        warm = _python(script, {"NUMBA_CACHE_DIR": cache})
    return {"compile_seconds": cold - warm, "first_run_seconds": cold, "warm_start_seconds": warm}


def _python(script: str, env: dict[str, str]) -> float:
    """Wall time of a fresh interpreter running ``script``: interpreter start counts, as a user waits for it."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, check=True)
    return time.perf_counter() - started
