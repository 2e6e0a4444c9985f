"""The startup figures of ``bench detect``, without paying for the two cold compiles they time."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from smc_agent.benchmarks import detect


def test_startup_runs_one_script_cold_then_warm_in_one_fresh_cache(
    shared_data_path: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first process gets an empty cache, the second the same one; the compile is the difference.

    The script itself runs here for real (kernels already compiled), so a renamed module breaks this test.
    """
    calls: list[tuple[str, bool]] = []

    def fake_python(script: str, env: dict[str, str]) -> float:
        cache = env["NUMBA_CACHE_DIR"]
        calls.append((cache, not os.listdir(cache)))
        exec(script, {})
        return 13.0 if len(calls) == 1 else 0.8

    monkeypatch.setattr(detect, "_python", fake_python)
    figures = detect.startup_seconds(str(shared_data_path("forex/EURUSD_15m_mt5.csv")))
    assert figures == {"compile_seconds": pytest.approx(12.2), "first_run_seconds": 13.0, "warm_start_seconds": 0.8}
    (cold_dir, cold_empty), (warm_dir, _) = calls
    assert cold_dir == warm_dir
    assert cold_empty
    assert not os.path.exists(cold_dir)  # a scratch cache, removed afterwards
