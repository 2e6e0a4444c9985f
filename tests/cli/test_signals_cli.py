"""``smc-agent signals`` and ``smc-agent bias``: documented JSON, readable output, clear errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.analysis.signals import replay
from smc_agent.data.loaders import load_candles

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SIGNAL_FIELDS = {
    "id", "symbol", "timeframe", "side", "setup", "entry", "stop", "targets", "rr", "quality",
    "quality_breakdown", "bias", "evidence", "created_time", "expires_time", "status", "status_time", "version",
}  # fmt: skip
EURUSD = "forex/EURUSD_15m_mt5.csv"


def _run(*args: str) -> tuple[int, str, str]:
    from smc_agent.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_signals_json_lists_what_the_engine_found(shared_data_path: Callable[[str], Path]) -> None:
    path = shared_data_path(EURUSD)
    code, out, _ = _run("signals", "--data", str(path), "--tf", "15m", "--htf", "1h,4h,1d", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"signals"}
    engine = replay(load_candles(path), ["1h", "4h", "1d"])
    assert [s["id"] for s in doc["signals"]] == [s.id for s in engine.signals]
    assert doc["signals"], "the real file has A+ signals; an empty list would test nothing"
    for signal in doc["signals"]:
        assert set(signal) >= SIGNAL_FIELDS
        assert signal["side"] in ("buy", "sell")
        assert signal["status"] in ("pending", "triggered", "expired", "invalidated", "filled", "closed")
        assert ISO.match(signal["created_time"])
        assert ISO.match(signal["expires_time"])
        assert signal["rr"] >= 2.0
        assert signal["quality"] >= 0.8
        roles = [link["role"] for link in signal["evidence"]]
        assert roles[-1] == "zone"
        assert ("sweep" in roles) == signal["setup"].startswith("sweep")
        # Stop and targets sit on the right sides of the entry.
        sign = 1 if signal["side"] == "buy" else -1
        assert sign * (signal["entry"] - signal["stop"]) > 0
        assert all(sign * (t - signal["entry"]) > 0 for t in signal["targets"])


def test_signals_text_shows_evidence_and_rejections(shared_data_path: Callable[[str], Path]) -> None:
    code, out, _ = _run("signals", "--data", str(shared_data_path(EURUSD)), "--htf", "1h,4h,1d")
    assert code == 0
    assert "signals" in out
    assert "Setups rejected, by reason" in out
    assert "no_sweep" in out


def test_bias_json_at_a_time_uses_only_what_had_closed(shared_data_path: Callable[[str], Path]) -> None:
    path = str(shared_data_path(EURUSD))
    code, out, _ = _run("bias", "--data", path, "--tf", "1h", "--htf", "4h,1d", "--at", "2023-03-01T00:00Z", "--json")
    assert code == 0
    early = json.loads(out)
    assert early["direction"] in ("bullish", "bearish", "neutral")
    assert 0 <= early["confidence"] <= 100
    _, out, _ = _run("bias", "--data", path, "--tf", "1h", "--htf", "4h,1d", "--json")
    late = json.loads(out)
    # 2022-10-10 to 2023-03-01 holds fewer closed daily candles than the whole file.
    assert early["candles"]["1d"] < late["candles"]["1d"]
    assert all(item["timeframe"] in ("1h", "4h", "1d") for item in late["signals"])


def test_a_short_timeframe_is_left_out_and_the_reason_says_so(shared_data_path: Callable[[str], Path]) -> None:
    """Eight trading days: 1d (8 closed candles) is left out, 4h votes alone; two days: none votes, NEUTRAL."""
    path = str(shared_data_path(EURUSD))
    code, out, _ = _run("bias", "--data", path, "--tf", "1h", "--htf", "4h,1d", "--at", "2022-10-20T00:00Z", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["reason"] == "used 4h (1.00); left out 1d: 8 of 30 closed candles"
    assert doc["weights"] == {"4h": 1.0}
    assert doc["signals"]
    assert {item["timeframe"] for item in doc["signals"]} <= {"4h", "1h"}
    code, out, _ = _run("bias", "--data", path, "--tf", "1h", "--htf", "4h,1d", "--at", "2022-10-12T00:00Z", "--json")
    doc = json.loads(out)
    assert (doc["direction"], doc["weights"], doc["signals"]) == ("neutral", {}, [])
    assert doc["reason"] == (
        "no timeframe has 30 closed candles yet (1d: 2 of 30 closed candles; 4h: 12 of 30 closed candles)"
    )


def test_bad_options_are_explained(shared_data_path: Callable[[str], Path]) -> None:
    path = str(shared_data_path(EURUSD))
    code, _, err = _run("bias", "--data", path, "--tf", "1h", "--htf", "15m")
    assert code == 2
    assert "15m is not above the entry timeframe 1h" in err
    code, _, err = _run("bias", "--data", path, "--at", "yesterday-ish")
    assert code == 2
    assert "option --at: not a time" in err
    code, _, err = _run("signals", "--data", path, "--htf", "1x")
    assert code == 2
    assert "invalid timeframe '1x'" in err


def test_signals_benchmark_reports_its_figures(shared_data_path: Callable[[str], Path]) -> None:
    code, out, err = _run("bench", "signals", "--data", str(shared_data_path(EURUSD)), "--repeats", "1", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["candles"] == 90 * 96
    assert report["htfs"] == ["1h", "4h", "1d"]
    for key in ("seconds_full", "us_per_candle_stream", "peak_rss_mb"):
        assert report[key] > 0
