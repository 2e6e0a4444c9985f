"""``smc-agent analyze``: the readable summary, the stable JSON, and clear errors on bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.smc.detections import EVENT_TYPES

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
REQUIRED = {"type", "direction", "formed_time", "confirmed_time", "state", "state_time"}
NIFTY = ["--data", "india/NIFTY-FUT_15m_2024.csv", "--tz", "Asia/Kolkata", "--json"]

runner = CliRunner()


def _invoke(args: list[str], shared_data_path: Callable[[str], Path] | None = None) -> tuple[int, str, str]:
    if shared_data_path is not None and "--data" in args:
        at = args.index("--data") + 1
        args = [*args[:at], str(shared_data_path(args[at])), *args[at + 1 :]]
    result = runner.invoke(app, ["analyze", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_document_has_the_documented_shape(shared_data_path: Callable[[str], Path]) -> None:
    code, out, _ = _invoke(NIFTY, shared_data_path)
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"symbol", "timeframe", "candles", "events"}
    assert (doc["symbol"], doc["timeframe"], doc["candles"]) == ("NIFTY-FUT", "15m", 1261)
    types = {event["type"] for event in doc["events"]}
    assert {"swing_high", "swing_low", "bos", "choch", "order_block", "fvg", "previous_day"} <= types
    for event in doc["events"]:
        assert set(event) >= REQUIRED, event
        assert event["type"] in EVENT_TYPES
        assert ("top" in event and "bottom" in event) or "price" in event
        assert ISO.match(event["formed_time"])
        assert ISO.match(event["confirmed_time"])
        # Something becomes known only after the candle it sits on has opened.
        assert event["confirmed_time"] > event["formed_time"]
        assert event["state_time"] >= event["confirmed_time"]


def test_first_nifty_day_is_read_in_exchange_time(shared_data_path: Callable[[str], Path]) -> None:
    _, out, _ = _invoke(NIFTY, shared_data_path)
    days = [e for e in json.loads(out)["events"] if e["type"] == "previous_day"]
    # 2024-03-01 09:15 IST is 03:45 UTC; with calendar zone IST the day ends at 18:30 UTC.
    assert days[0]["formed_time"] == "2024-03-01T03:45:00Z"


def test_json_is_byte_identical_across_runs(shared_data_path: Callable[[str], Path]) -> None:
    assert _invoke(NIFTY, shared_data_path)[1] == _invoke(NIFTY, shared_data_path)[1]


def test_resamples_to_a_higher_timeframe(shared_data_path: Callable[[str], Path]) -> None:
    code, out, _ = _invoke(["--data", "forex/EURUSD_15m_mt5.csv", "--tf", "1h", "--json"], shared_data_path)
    assert code == 0
    doc = json.loads(out)
    assert doc["timeframe"] == "1h"
    assert 24424 // 4 - 50 < doc["candles"] <= 24424 // 4 + 50


def test_refuses_a_lower_timeframe(shared_data_path: Callable[[str], Path]) -> None:
    code, _, err = _invoke(["--data", "forex/EURUSD_15m_mt5.csv", "--tf", "5m"], shared_data_path)
    assert code == 2
    assert "lower timeframe 5m" in err


def test_readable_summary(shared_data_path: Callable[[str], Path]) -> None:
    code, out, _ = _invoke(["--data", "crypto/BTC_USDT-5m_2023.json"], shared_data_path)
    assert code == 0
    for section in ("BTC/USDT", "Structure", "Zones nearest to price", "Dealing range", "previous day"):
        assert section in out


def test_demo_runs_on_the_bundled_eurusd() -> None:
    code, out, _ = _invoke(["--demo", "--json"])
    assert code == 0
    doc = json.loads(out)
    assert (doc["symbol"], doc["timeframe"], doc["candles"]) == ("EURUSD", "1h", 5000)


@pytest.mark.parametrize(
    ("body", "options", "expected"),
    [
        ("time,open,high,low,close\n2024-01-01 00:00,1,2,0.5,1.5\n2024-01-01 00:01,1,0.9,0.5,0.8\n", [], "row 2"),
        ("time,open,high,low,close\n2024-01-01 00:00,1,2,0.5,1.5\n2024-01-01 00:00,1,2,0.5,1.5\n", [], "row 2"),
        ("time,open,high,low,close\n2024-01-01 00:00,1,2,0.5,nan\n", [], "row 1"),
        ("time,open,high,close\n2024-01-01 00:00,1,2,1.5\n", [], "cannot tell the format"),
        ("time,open,high,close\n2024-01-01 00:00,1,2,1.5\n", ["--format", "csv"], "low"),
    ],
    ids=["high-below-body", "duplicate-time", "nan", "unknown-layout", "missing-column"],
)
def test_bad_files_give_one_clear_line(tmp_path: Path, body: str, options: list[str], expected: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    code, out, err = _invoke(["--data", str(bad), *options])
    assert code == 2
    assert out == ""
    assert "bad.csv" in err
    assert expected in err
    assert "Traceback" not in err


def test_missing_input_is_explained() -> None:
    code, _, err = _invoke([])
    assert code == 2
    assert "--data" in err
