"""``smc-agent bench store`` journals the events it promises, numbered and mixed as a real session's."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.benchmarks.store_bench import batches
from smc_agent.cli import app
from smc_agent.events import BalanceChanged, CandleClosed, OrderFilled


def test_batches_are_consecutive_and_realistic() -> None:
    steps = batches(100)
    events = [e for batch in steps for e in batch]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= 100
    assert sum(isinstance(e, CandleClosed) for e in steps[0]) == 4
    assert any(isinstance(e, OrderFilled) for e in steps[1])
    assert any(isinstance(e, BalanceChanged) for e in steps[1])


def test_bench_store_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    result = CliRunner().invoke(app, ["bench", "store", "--events", "200", "--rounds", "2", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (only,) = report["results"]
    assert only["db"] == url
    assert only["events"] == 208  # whole batches of 4 and 9 (candles; candles and an order): 16 pairs of 13
    assert len(only["runs"]) == 2
    assert only["events_per_second"] > 0
