"""Warm-up: ``backtest --from`` and every walk-forward window learn from the candles before them, and
trade only inside, on real EURUSD 15m candles.

The strong proof of no look-ahead: the strategy is deterministic on candles, so a run that warms up on
every candle before a window and then trades the window must make, inside the window, exactly the
signals (every creation and change, with its bias) of one run over everything, restricted to the window.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smc_agent.analysis.signals import Signal, replay
from smc_agent.backtest.grid import StrategySpec, parse_grid
from smc_agent.backtest.runner import backtest_json, make_strategy, run_backtest
from smc_agent.backtest.walkforward import walk_forward
from smc_agent.cli import app
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.feeds.replay import ReplayFeed
from smc_agent.model import Direction
from smc_agent.model.enums import Mode
from smc_agent.strategy.registry import signal_engine
from smc_agent.strategy.smc import SmcStrategy

EURUSD = "forex/EURUSD_15m_mt5.csv"
HTFS = ["1h", "4h", "1d"]
# A month whose one trade, in a run over the whole file, is a sweep_choch_ob long entered at 02:15 on
# its first day, before a cold start could have any bias (1h needs 30 closed candles).
START, END = "2023-04-26T00:00Z", "2023-05-26T00:00Z"


def _ms(text: str) -> int:
    return int(pd.Timestamp(text).value // 1_000_000)


@pytest.fixture(scope="module")
def candles(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path(EURUSD))


def _window(candles: Candles, start: str, end: str) -> tuple[int, int]:
    lo, hi = (int(i) for i in np.searchsorted(candles.time, [_ms(start), _ms(end)], side="left"))
    return lo, hi


def test_warm_up_gives_the_bias_at_the_window_first_candle(candles: Candles) -> None:
    lo, _ = _window(candles, START, END)
    warm = SmcStrategy(candles.symbol, candles.timeframe, HTFS)
    cold = SmcStrategy(candles.symbol, candles.timeframe, HTFS)
    for event in ReplayFeed(candles[:lo]):
        warm.warm_up(event)
    first = next(iter(ReplayFeed(candles[lo : lo + 1])))
    assert warm.on_candle(first) == cold.on_candle(first) == []
    warm_bias, cold_bias = warm.signals.mtf.bias(), cold.signals.mtf.bias()
    assert warm_bias.direction is not Direction.NEUTRAL
    assert set(warm_bias.weights or {}) == {"1d", "4h", "1h"}
    assert (cold_bias.direction, cold_bias.weights) == (Direction.NEUTRAL, {})
    assert cold_bias.reason is not None
    assert cold_bias.reason.startswith("no timeframe has 30 closed candles yet")


def test_a_month_with_warm_up_trades_what_the_full_run_trades_there(candles: Candles) -> None:
    lo, hi = _window(candles, START, END)
    full = run_backtest(candles, make_strategy("smc", candles, HTFS))
    inside = [t for t in full.trades if _ms(START) <= t.entry_ms < _ms(END)]
    assert [(iso_utc(t.entry_ms), t.setup) for t in inside] == [("2023-04-26T02:15:00Z", "sweep_choch_ob")]

    warmed = run_backtest(candles[:hi], make_strategy("smc", candles, HTFS), trade_from=_ms(START))
    assert [(t.entry_ms, t.setup, t.entry_price, t.exit_ms, t.exit_price) for t in warmed.trades] == [
        (t.entry_ms, t.setup, t.entry_price, t.exit_ms, t.exit_price) for t in inside
    ]
    # Only the window is traded and measured: the account starts at its first open.
    assert warmed.equity[0].time_ms == _ms(START) == int(warmed.candles.time[0])
    assert len(warmed.candles) == hi - lo
    assert warmed.metrics.trades == 1

    cold = run_backtest(candles[lo:hi], make_strategy("smc", candles, HTFS))
    assert cold.trades == []  # without warm-up the first day has no bias, and the trade is missed


def test_signals_in_a_window_with_warm_up_are_the_full_runs_restricted_to_it(candles: Candles) -> None:
    """No look-ahead and nothing lost: warm-up on every earlier candle reproduces the full run's signals.

    What the analysis decides (every signal created, with its entry, stop, targets, evidence and bias) is
    compared exactly: with a full backtest and with the analysis alone (``replay``). A traded signal's
    later lifecycle follows its trade, and a trade still open at the window's start is not carried in,
    so the changes after creation may differ between the runs; the creations may not.
    """
    lo, hi = _window(candles, "2023-04-01T00:00Z", "2023-07-01T00:00Z")

    def created(history: list[tuple[int, Signal]]) -> list[tuple[int, Signal]]:
        seen: set[str] = set()
        firsts = []
        for i, s in history:
            if s.id not in seen and lo <= i < hi:
                seen.add(s.id)
                firsts.append((i, s))
        return firsts

    full_strategy = make_strategy("smc", candles, HTFS)
    run_backtest(candles, full_strategy)
    expected = created(signal_engine(full_strategy).history)
    assert len(expected) >= 3  # signals created inside: the proof has content

    strategy = make_strategy("smc", candles, HTFS)
    run_backtest(candles[:hi], strategy, trade_from=_ms("2023-04-01T00:00Z"))
    assert created(signal_engine(strategy).history) == expected
    assert created(replay(candles, HTFS).history) == expected


def test_backtest_from_warms_up_on_the_file(candles: Candles, shared_data_path: Callable[[str], Path]) -> None:
    path = str(shared_data_path(EURUSD))
    result = CliRunner().invoke(app, ["backtest", "--data", path, "--from", START, "--to", END, "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert [t["entry_time"] for t in document["trades"]] == ["2023-04-26T02:15:00Z"]
    assert document["equity"][0] == ["2023-04-26T00:00:00Z", "10000"]


def test_walk_forward_test_windows_warm_up_on_the_data_before_them(candles: Candles) -> None:
    """Two windows by count, the second testing exactly the month: it trades what the full run trades there."""
    lo, hi = _window(candles, START, END)
    test = hi - lo
    spec = StrategySpec("smc", candles.symbol, candles.timeframe, tuple(HTFS))
    result = walk_forward(candles[:hi], spec, parse_grid("min_rr=2"), train=lo - test, test=test)
    assert [w.window.test_start for w in result.windows] == [lo - test, lo]
    tested = [t for t in result.trades if t.id.startswith("w1:")]
    assert [(iso_utc(t.entry_ms), t.setup) for t in tested] == [("2023-04-26T02:15:00Z", "sweep_choch_ob")]
    assert result.windows[1].test_metrics.trades == 1


def test_paper_mode_warms_up_like_a_backtest(candles: Candles) -> None:
    """The warm-up is the same in both compositions: paper trading on the file gives the same result."""
    _, hi = _window(candles, START, END)
    runs = [
        run_backtest(candles[:hi], make_strategy("smc", candles, HTFS), mode=mode, trade_from=_ms(START))
        for mode in (Mode.BACKTEST, Mode.PAPER)
    ]
    backtest, paper = (backtest_json(r) for r in runs)
    assert backtest == paper
    assert len(backtest["trades"]) == 1
