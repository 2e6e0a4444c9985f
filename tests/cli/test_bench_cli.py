"""``smc-agent bench detect`` prints the figures it promises (a smoke test: speed is never asserted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.smc.config import DETECTORS


def test_detect_benchmark_reports_every_figure(shared_data_path: Callable[[str], Path]) -> None:
    source = shared_data_path("forex/EURUSD_15m_mt5.csv")
    result = CliRunner().invoke(
        app, ["bench", "detect", "--candles", "2000,4000", "--repeats", "1", "--data", str(source), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [run["candles"] for run in report["runs"]] == [2000, 4000]
    assert report["candles"] == 4000  # the largest run is also top-level
    for key in ("seconds_batch", "us_per_candle_stream", "peak_rss_mb"):
        assert report[key] > 0
    assert set(report["detectors"]) == set(DETECTORS)
    assert report["first_run_seconds"] > 0
    assert report["warm_start_seconds"] > 0


def test_bad_sizes_are_refused() -> None:
    result = CliRunner().invoke(app, ["bench", "detect", "--candles", "10k"])
    assert result.exit_code == 2
    assert "--candles" in result.stderr
