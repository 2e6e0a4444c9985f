"""``smc-agent bench detect`` and ``bench backtest`` measure the work they claim (speed is never asserted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.data.loaders import load_candles
from smc_agent.data.tiling import mirror_tile
from smc_agent.smc.config import DETECTORS
from smc_agent.smc.detector import analyze


def test_detect_benchmark_times_the_analysis_of_the_requested_candles(shared_data_path: Callable[[str], Path]) -> None:
    """Each run analyses exactly the candles it names: what it found is what analyze() finds on them.

    ``--no-startup`` skips the two cold numba compiles in fresh processes (``make bench`` keeps them).
    """
    source = shared_data_path("forex/EURUSD_15m_mt5.csv")
    args = ["--candles", "2000,4000", "--repeats", "1", "--data", str(source), "--no-startup", "--json"]
    result = CliRunner().invoke(app, ["bench", "detect", *args])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [run["candles"] for run in report["runs"]] == [2000, 4000]
    assert report["candles"] == 4000  # the largest run is also top-level
    real = load_candles(source)
    for run in report["runs"]:
        found = analyze(mirror_tile(real, run["candles"])).tables
        assert run["objects"] == {name: len(table) for name, table in found.items()}
    assert min(report["objects"].values()) > 0  # every detector found something: real work was timed
    for key in ("seconds_batch", "us_per_candle_stream", "peak_rss_mb"):
        assert report[key] > 0
    assert set(report["detectors"]) == set(DETECTORS)
    assert "first_run_seconds" not in report


def test_bad_sizes_are_refused() -> None:
    result = CliRunner().invoke(app, ["bench", "detect", "--candles", "10k"])
    assert result.exit_code == 2
    assert "--candles" in result.stderr


def test_backtest_benchmark_compares_the_same_trades(shared_data_path: Callable[[str], Path]) -> None:
    """Both engines must trade (almost) every SMA cross, or the ratio compares different work."""
    source = shared_data_path("crypto/BTC-PERP_1m_2022-01.csv")
    result = CliRunner().invoke(
        app, ["bench", "backtest", "--candles", "20000", "--repeats", "2", "--data", str(source), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["candles"] == 20_000
    assert len(report["sma_seconds_runs"]) == len(report["backtesting_py_seconds_runs"]) == 2
    assert min(report["sma_seconds"], report["backtesting_py_seconds"]) > 0
    assert report["ratio_vs_backtesting_py"] == report["sma_seconds"] / report["backtesting_py_seconds"]
    # A 10/30 cross on 1m BTC flips several hundred times in 20,000 candles; the counts may differ
    # only by the crosses where the averages tie.
    assert report["backtesting_py_trades"] > 500
    assert abs(report["sma_trades"] - report["backtesting_py_trades"]) <= 0.02 * report["backtesting_py_trades"]
    assert min(report["peak_rss_mb"], report["smc_seconds"]) > 0


def test_backtest_benchmark_needs_a_repeat() -> None:
    result = CliRunner().invoke(app, ["bench", "backtest", "--repeats", "0"])
    assert result.exit_code == 2
    assert "--repeats" in result.stderr


def test_feed_benchmark_streams_from_its_loopback_exchange_and_catches_up(
    shared_data_path: Callable[[str], Path],
) -> None:
    """One symbol for two seconds: candles streamed, and after the jump the restart traded every candle of the
    gap. Figures only: no time is asserted, and on a loaded machine the few candles of so short a window may
    all come by REST, with no socket-to-commit sample (``p50_ms`` null)."""
    shared_data_path("crypto/BTC_USDT-5m_2023.json")  # the bench's source: fails here, not deep inside, if absent
    result = CliRunner().invoke(app, ["bench", "feed", "--symbols", "1", "--seconds", "2", "--speed", "4", "--gap",
                                      "20", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["runs"]
    assert run["symbols"] == 1
    assert run["stream_candles"] >= 4  # 2 s at 4 candles a second, give or take the edges
    assert set(run["latency"]) == {"p50_ms", "p99_ms"}
    assert run["catch_up_candles"] >= 20  # the gap, and what closed while it restarted
