"""Backtest and paper trading agree on real candles, event for event; a run is deterministic.

DESIGN.md: "A result that differs between backtest and paper on the same candles is a bug." A
backtest steps the session synchronously on a simulated clock; paper trading on a file runs the
session as an asyncio task, its replay feed posting candles into the inbox and the replay clock
pacing them. The two compositions share the kernel, so the trades, the full list of published events
and the final balance must be identical. Two runs of the same input must also give byte-identical
``--json`` output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from smc_agent.backtest.recorder import Recorder
from smc_agent.backtest.runner import BacktestResult, backtest_json, make_strategy, run_backtest
from smc_agent.backtest.trades import EquityCurve, Trade
from smc_agent.bootstrap import EngineSettings, Mode, build
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import CandleClosed, OrderFilled, RiskRejected, SessionStarted


@dataclass(frozen=True)
class Case:
    path: str
    strategy: str
    htfs: tuple[str, ...]
    rows: int | None = None


CASES = {
    "smc-eurusd-15m": Case("forex/EURUSD_15m_mt5.csv", "smc", ("1h", "4h", "1d")),
    "sma-btc-perp-1m": Case("crypto/BTC-PERP_1m_2022-01.csv", "sma_cross", (), rows=20_000),
}


@dataclass
class Session:
    """One pass through a system built for a mode: every event published, and what was recorded."""

    events: list[Any]
    trades: list[Trade]
    equity: EquityCurve
    balance: Decimal
    fees: Decimal


def _candles(shared_data_path: Callable[[str], Path], case: Case) -> Candles:
    candles = load_candles(shared_data_path(case.path))
    return candles if case.rows is None else candles[: case.rows]


def _session(mode: Mode, candles: Candles, case: Case, speed: float = float("inf")) -> Session:
    system = build(mode, candles, lambda c: make_strategy(case.strategy, c, case.htfs), speed=speed)
    events: list[Any] = []
    system.bus.subscribe(events.append)
    opening = (int(candles.time[0]), float(candles.open[0]))
    recorder = Recorder(system.bus, EngineSettings().initial_balance, {candles.symbol: candles.timeframe}, opening)
    system.run()
    recorder.finish()
    return Session(events, recorder.trades, recorder.equity, system.portfolio.balance, system.portfolio.fees_paid)


def _modeless(events: list[Any]) -> list[Any]:
    """The events with the session's mode left out of its SessionStarted: the one fact that differs."""
    return [msgspec.structs.replace(e, mode=Mode.BACKTEST) if isinstance(e, SessionStarted) else e for e in events]


def _first_difference(a: list[Any], b: list[Any]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"event {i}: {x!r} != {y!r}"
    return f"lengths {len(a)} != {len(b)}"


@dataclass
class Runs:
    candles: Candles
    case: Case
    backtest: Session
    paper: Session


@pytest.fixture(scope="module", params=sorted(CASES))
def runs(request: pytest.FixtureRequest, shared_data_path: Callable[[str], Path]) -> Runs:
    case = CASES[request.param]
    candles = _candles(shared_data_path, case)
    return Runs(candles, case, _session(Mode.BACKTEST, candles, case), _session(Mode.PAPER, candles, case))


def test_parity_runs_are_not_vacuous(runs: Runs) -> None:
    """The data really trades: closed trades, fills, and one published candle per input row."""
    events = runs.backtest.events
    assert len(runs.backtest.trades) >= 2
    assert sum(isinstance(e, OrderFilled) for e in events) >= 2 * len(runs.backtest.trades)
    assert sum(isinstance(e, CandleClosed) for e in events) == len(runs.candles)
    assert len(runs.backtest.equity) == len(runs.candles) + 1  # the opening point, then one per close


def test_backtest_and_paper_publish_identical_event_sequences(runs: Runs) -> None:
    """Every event, in order and field by field (times, prices, fees, reasons), is the same in both modes."""
    backtest, paper = runs.backtest.events, runs.paper.events
    assert [e.mode for e in backtest + paper if isinstance(e, SessionStarted)] == [Mode.BACKTEST, Mode.PAPER]
    assert _modeless(backtest) == _modeless(paper), _first_difference(_modeless(backtest), _modeless(paper))


def test_backtest_and_paper_close_identical_trades_and_balances(runs: Runs) -> None:
    """Trades, the equity curve, the final balance and the fees paid are identical in both modes."""
    assert runs.backtest.trades == runs.paper.trades
    assert runs.backtest.equity == runs.paper.equity
    assert runs.backtest.balance == runs.paper.balance
    assert runs.backtest.fees == runs.paper.fees
    # Both slices end flat, so every fill belongs to a closed trade and the ledger reconciles exactly.
    assert runs.backtest.equity[-1].exposure == 0
    initial = EngineSettings().initial_balance
    assert runs.backtest.balance == initial + sum((t.pnl for t in runs.backtest.trades), Decimal(0))
    assert runs.backtest.fees == sum((t.fees for t in runs.backtest.trades), Decimal(0))


def test_run_backtest_in_paper_mode_gives_the_same_result(runs: Runs) -> None:
    """``run_backtest(mode=PAPER)`` equals the backtest: metrics, trades, equity and risk rejections."""
    candles, case = runs.candles, runs.case
    backtest = run_backtest(candles, make_strategy(case.strategy, candles, case.htfs))
    paper = run_backtest(candles, make_strategy(case.strategy, candles, case.htfs), mode=Mode.PAPER)
    assert backtest.trades == paper.trades == runs.backtest.trades
    assert backtest.equity == paper.equity
    assert backtest.rejections == paper.rejections
    assert backtest.rejections == [e for e in runs.backtest.events if isinstance(e, RiskRejected)]
    assert backtest.metrics == paper.metrics
    assert _json(backtest) == _json(paper)


def test_two_backtests_give_byte_identical_json(runs: Runs) -> None:
    """Determinism: the same candles and strategy twice give byte-identical ``backtest_json`` output."""
    candles, case = runs.candles, runs.case
    first = _json(run_backtest(candles, make_strategy(case.strategy, candles, case.htfs)))
    second = _json(run_backtest(candles, make_strategy(case.strategy, candles, case.htfs)))
    assert first == second
    assert json.loads(first)["trades"]  # something was traded


def test_paced_paper_run_only_waits(shared_data_path: Callable[[str], Path]) -> None:
    """A paper replay at 36,000 times real time spreads 300 one-minute candles over half a second of wall
    time (the replay clock paces it), and gives the backtest's events exactly."""
    case = CASES["sma-btc-perp-1m"]
    candles = _candles(shared_data_path, case)[1_000:1_300]
    started = time.monotonic()
    paced = _session(Mode.PAPER, candles, case, speed=36_000)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.45  # the last close is 300 minutes / 36,000 = 0.5 s after the first open
    backtest = _session(Mode.BACKTEST, candles, case)
    assert _modeless(paced.events) == _modeless(backtest.events)
    assert paced.balance == backtest.balance
    assert any(isinstance(e, OrderFilled) for e in paced.events)


def _json(result: BacktestResult) -> str:
    return json.dumps(backtest_json(result), separators=(",", ":"))
