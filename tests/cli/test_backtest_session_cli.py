"""``backtest --session`` refuses a session that replayed files: its instruments were the files', so the
files themselves are what to backtest. (The live-data proof is tests/agent/test_live_run.py.)"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.cli import app


def test_a_session_that_replayed_files_is_refused_with_what_to_do(
    tmp_path: Path, shared_data_path: Callable[[str], Path]
) -> None:
    db = f"sqlite:///{tmp_path / 'agent.db'}"
    data = shared_data_path("forex/EURUSD_15m_mt5.csv")
    ran = CliRunner().invoke(app, ["run", "--no-serve", "--data", str(data), "--speed", "max", "--exit-when-done",
                                   "--summary-json", "--db", db])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout.strip().splitlines()[-1])["candles"] > 0
    with sqlite3.connect(tmp_path / "agent.db") as connection:
        (session_id,) = connection.execute("SELECT id FROM sessions").fetchone()
    result = CliRunner().invoke(app, ["backtest", "--session", session_id, "--db", db])
    assert result.exit_code == 2
    assert f"session {session_id} replayed files ({data.resolve()} (" in result.output
    assert "backtest those files with --data instead" in result.output
