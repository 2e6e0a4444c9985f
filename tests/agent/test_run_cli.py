"""``smc-agent run`` on real files with the in-memory store double (see memory_store.py): the summary,
exiting when done, resuming where a stopped session was, and refusing a session of other data or settings.

The SIGTERM test at the end uses the real SQL store, since the agent runs in a subprocess there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from memory_store import STORES, install
from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.events import CandleClosed
from smc_agent.service.agent import Agent, AgentOptions

KEYS = {"trades", "final_balance", "equity", "signals", "candles"}


@pytest.fixture(autouse=True)
def memory_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)


@pytest.fixture
def files(shared_data_path: Callable[[str], Path]) -> list[Path]:
    return [shared_data_path("forex/EURUSD_15m_mt5.csv"), shared_data_path("crypto/BTC_USDT-5m_2023.json")]


def _run(*args: object) -> Any:
    return CliRunner().invoke(app, ["run", "--no-serve", *(str(a) for a in args)])


def _data(files: list[Path]) -> list[object]:
    return [part for path in files for part in ("--data", path)]


def _summary(*args: object) -> dict[str, Any]:
    result = _run("--speed", "max", "--exit-when-done", "--summary-json", *args)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


def test_a_run_exits_when_done_with_its_summary(files: list[Path]) -> None:
    summary = _summary(*_data(files), "--db", "memory://one")
    assert set(summary) == KEYS
    eurusd_rows, btc_rows = 24_424, 10_999  # each file's candles, from the shared data's README
    assert summary["candles"] == eurusd_rows + btc_rows
    assert summary["signals"] > 0
    assert isinstance(summary["trades"], list)
    assert all({"order_id", "time_ms", "price", "quantity"} <= set(t) for t in summary["trades"])
    store = STORES["memory://one"]
    assert store.sessions[0].stopped_ms is not None
    assert store.closed == 1
    assert [a[0] for a in store.audits] == ["run"]


def test_a_stopped_run_resumes_and_ends_as_one_uninterrupted_run(files: list[Path]) -> None:
    whole = _summary(*_data(files), "--db", "memory://whole")
    assert whole["trades"]
    # Stop the first run after 9,000 candles, as SIGTERM would (the agent's own stop).
    agent = Agent.open(AgentOptions(data=files, speed=float("inf"), db="memory://parts"))
    seen = 0

    def count(candle: CandleClosed) -> None:
        nonlocal seen
        seen += 1
        if seen == 9_000:
            agent.stop()

    agent.system.bus.subscribe(count, CandleClosed)
    asyncio.run(agent.run())
    agent.close()
    stored = STORES["memory://parts"].sessions[0]
    assert sum(1 for e in stored.journal.read() if isinstance(e, CandleClosed)) == 9_000
    resumed = _summary(*_data(files), "--db", "memory://parts")
    assert resumed == whole
    candles = [e for e in stored.journal.read() if isinstance(e, CandleClosed)]
    assert len(candles) == len({(c.symbol, c.event_ms) for c in candles}) == whole["candles"]  # none twice


def test_other_data_or_settings_are_refused_on_the_same_database(files: list[Path]) -> None:
    assert _summary("--data", files[0], "--db", "memory://db")["candles"] == 24_424
    other = _run("--data", files[1], "--db", "memory://db", "--exit-when-done", "--speed", "max")
    assert other.exit_code == 2
    message = " ".join(other.output.split())
    assert "sources" in message
    assert "--new-session" in message
    assert "settings" not in message.split("(")[0]
    htf = _run("--data", files[0], "--htf", "4h", "--db", "memory://db", "--exit-when-done", "--speed", "max")
    assert htf.exit_code == 2
    assert "settings" in " ".join(htf.output.split())
    fresh = _summary("--data", files[1], "--db", "memory://db", "--new-session")
    assert fresh["candles"] == 10_999
    assert len(STORES["memory://db"].sessions) == 2


def test_with_no_data_it_replays_the_shipped_demo_candles() -> None:
    summary = _summary("--db", "memory://demo")
    assert summary["candles"] == 5_000  # backtesting's EURUSD.csv: 5,000 hourly candles
    assert "EURUSD.csv" in STORES["memory://demo"].sessions[0].sources[0]


@pytest.mark.parametrize(("speed", "says"), [("fast", "is not a speed"), ("0", "above 0")])
def test_a_bad_speed_is_refused_naming_the_option(speed: str, says: str) -> None:
    result = _run("--speed", speed, "--db", "memory://x")
    assert result.exit_code == 2
    assert "--speed" in result.output
    assert says in result.output


def test_sigterm_finishes_the_candle_commits_and_exits_0(tmp_path: Path, files: list[Path]) -> None:
    """The real store: the agent runs in a subprocess against a SQLite file, and gets SIGTERM once it has
    committed some candles; it stops cleanly (exit 0, the session's stop recorded) and a rerun completes."""
    path = tmp_path / "agent.db"
    db = f"sqlite:///{path}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "smc_agent", "run", "--no-serve", *map(str, _data(files)), "--db", db,
               "--speed", "max"]  # fmt: skip
    log = tmp_path / "agent.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 120
        while _candles_committed(path) < 1_000:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
    with sqlite3.connect(path) as connection:
        (stopped,) = connection.execute("SELECT stopped_ms FROM sessions").fetchone()
        done = _candles_committed(path)
    assert stopped is not None
    assert 1_000 <= done < 24_424 + 10_999  # it stopped in the middle
    again = subprocess.run([*command, "--exit-when-done", "--summary-json"], env=env, capture_output=True,
                           check=True, timeout=300)  # fmt: skip
    assert json.loads(again.stdout)["candles"] == 24_424 + 10_999


def _candles_committed(path: Path) -> int:
    """The cursors' count of committed candles is not kept, so count the journaled candle events."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            (count,) = connection.execute("SELECT count(*) FROM events WHERE kind = 'CandleClosed'").fetchone()
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    return int(count)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "bina", "--symbols", "BTC/USDT", "--tf", "5m"],
         "'bina' is not a CCXT exchange that streams (ccxt.pro) (did you mean binance,"),
        (["--source", "binance", "--tf", "5m"], "needs the markets to trade: --symbols BTC/USDT,ETH/USDT"),
        (["--source", "binance", "--symbols", "BTC/USDT"], "needs the entry timeframe: --tf 15m"),
        (["--source", "binance", "--symbols", "BTC/USDT,BTC/USDT", "--tf", "5m"], "names a market twice"),
        (["--source", "mt5", "--symbols", "EURUSD", "--tf", "5m"], "the MetaTrader5 package exists only for Windows"),
        (["--source", "angelone", "--symbols", "NIFTY", "--tf", "5m"], "not wired into `smc-agent run` yet"),
    ],
)  # fmt: skip
def test_a_live_source_that_cannot_run_is_one_line_naming_why(args: list[str], message: str) -> None:
    result = _run(*args, "--db", "memory://refused")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_files_and_an_exchange_at_once_are_refused(files: list[Path]) -> None:
    result = _run(*_data(files), "--source", "binance", "--symbols", "BTC/USDT", "--tf", "5m")
    assert result.exit_code == 2
    assert "--data replays files; the source binance streams an exchange: give one" in result.output
