"""``backtest --db``: the run is kept in the store (its own session, every fill, the metrics), and what
the store holds agrees with what the command printed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.cli import app


def test_a_backtest_with_db_stores_its_session_fills_and_metrics(
    tmp_path: Path, shared_data_path: Callable[[str], Path]
) -> None:
    path = tmp_path / "runs.db"
    data = shared_data_path("crypto/ADA_BTC-5m.feather")
    trades_csv = tmp_path / "trades.csv"
    args = ["backtest", "--strategy", "sma_cross", "--data", str(data), "--json", "--baseline-seeds", "0",
            "--trades", str(trades_csv), "--db", f"sqlite:///{path}"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["trades"], "sma_cross trades this file, or the test compares nothing"
    assert "stored as backtest run" in result.stderr

    with sqlite3.connect(path) as connection:
        sessions = connection.execute("SELECT id, mode, stopped_ms FROM sessions").fetchall()
        runs = connection.execute("SELECT metrics, artefacts FROM backtest_runs").fetchall()
        fills = set(connection.execute("SELECT event_ms, price FROM fills").fetchall())
        audit = connection.execute("SELECT action FROM audit_log").fetchall()
    assert len(sessions) == 1
    session_id, mode, stopped = sessions[0]
    assert (mode, stopped is not None) == ("backtest", True)
    assert len(runs) == 1
    metrics, artefacts = (json.loads(column) for column in runs[0])
    assert metrics["trades"] == printed["metrics"]["trades"] == len(printed["trades"])
    assert metrics["net_profit_pct"] == printed["metrics"]["net_profit_pct"]
    assert artefacts == {"session": session_id, "trades": str(trades_csv)}
    assert audit == [("backtest",)]
    # Every trade's entry and exit is a stored fill, at its time and price.
    for trade in printed["trades"]:
        for side in ("entry", "exit"):
            at = _ms(trade[f"{side}_time"])
            assert (at, trade[f"{side}_price"]) in fills, (trade["id"], side)

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    with sqlite3.connect(path) as connection:  # each backtest is a session and a run of its own
        assert connection.execute("SELECT count(*) FROM sessions").fetchone() == (2,)
        assert connection.execute("SELECT count(*) FROM backtest_runs").fetchone() == (2,)


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
