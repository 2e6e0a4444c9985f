"""``smc-agent bench api`` run tiny (5 clients, 20 requests, 5 subscribers, 2,000 real candles): the report's
structure, and that its counts add up. Speed is never asserted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smc_agent.cli import app

CANDLES = 2000
TINY = ["--clients", "5", "--requests", "20", "--subscribers", "5", "--runs", "2", "--interval", "0.05"]
SPREAD = {"p50_ms", "p90_ms", "p99_ms", "max_ms"}


@pytest.fixture(scope="module")
def short_file(shared_data_path: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 2,000 real EURUSD 15m candles, under the file's own name (its symbol is read from it)."""
    source = shared_data_path("forex/EURUSD_15m_mt5.csv")
    lines = source.read_text().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("bench") / source.name
    path.write_text("".join(lines[: CANDLES + 1]))  # the header and the candles
    return path


@pytest.fixture(scope="module")
def report(short_file: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["bench", "api", *TINY, "--data", str(short_file), "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_every_rest_request_is_answered_and_counted(report: dict[str, Any]) -> None:
    rest = report["rest"]
    assert (rest["clients"], rest["requests"], len(rest["runs"]), rest["interval_s"]) == (5, 20, 2, 0.05)
    for run in [*rest["runs"], rest["saturation"]]:
        assert (run["done"], run["errors"], run["timed_out"]) == (20, 0, False)
        # Round-robin over the three routes: requests 0, 3, 6 ... are signals, and so on.
        assert {name: r["requests"] for name, r in run["routes"].items()} == {
            "signals": 7, "risk/portfolio": 7, "market/candles": 6}  # fmt: skip
        for figures in [run["overall"], *run["routes"].values()]:
            assert set(figures) >= SPREAD
            assert 0 < figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    for run in rest["runs"]:  # paced: 4 requests a client, one every 0.05 s, so three intervals at least
        assert run["seconds"] >= 3 * 0.05
    assert rest["p99_ms_median"] == pytest.approx(sum(r["overall"]["p99_ms"] for r in rest["runs"]) / 2)
    assert rest["goal_p99_ms"] == 50
    assert rest["goal_met"] == (rest["p99_ms_median"] < 50)


def test_every_subscriber_gets_every_message_in_order(report: dict[str, Any]) -> None:
    ws = report["websocket"]
    assert (ws["subscribers"], ws["candles"]) == (5, CANDLES)
    each = ws["messages_per_subscriber"]
    assert each > CANDLES  # a kline for every candle, and the signals, orders and risk they made
    assert each <= ws["hub_messages"]  # the hub also made what they did not subscribe to (smc_pattern)
    assert (ws["received_min"], ws["received_max"], ws["deliveries"]) == (each, each, 5 * each)
    assert (ws["complete_subscribers"], ws["in_order"], ws["closed_early"], ws["dropped_by_hub"]) == (5, True, 0, 0)
    assert ws["largest_backlog"] <= each
    assert ws["replay_alone"]["candles_per_second"] > 0
    assert 0 <= ws["latency"]["p50_ms"] <= ws["latency"]["p99_ms"] <= ws["latency"]["max_ms"]
    assert ws["goal_met"] == (ws["latency"]["p99_ms"] < 100)


def test_the_text_report_says_whether_each_goal_is_met(short_file: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "api", *TINY, "--runs", "1", "--data", str(short_file)])
    assert result.exit_code == 0, result.output
    assert "REST p99, median of 1 paced runs" in result.output
    assert "at saturation" in result.output
    assert result.output.count("goal met") + result.output.count("goal MISSED") == 2
    assert "5 got every one in order" in result.output
    assert "requests done within 60 s: 20 of 20" in result.output


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "api", "--data", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "nope.csv" in result.output
    assert "Traceback" not in result.output
