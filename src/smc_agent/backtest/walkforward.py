"""Walk-forward analysis: choose parameters on the past, judge them only on the future that follows.

An optimiser always finds parameters that did well on the candles it saw; what matters is how they
do on candles it did not see. Walk-forward slides a train window and the test window after it across
the data. On each train window every grid combination is backtested and the best by the objective
is kept; that combination alone is then backtested on the test window. The test windows follow each
other without gap or overlap, and together they are the out-of-sample result.

Windows are by candle count (``train=5000, test=1000``) or by time (``train="30d", test="7d"``); the
windows move on by the test length, and a tail shorter than one test window is left out. A window by
time with fewer than two candles in its train or test part (a weekend gap) is skipped, so after a
long gap in the data testing resumes only once a whole train window of candles has passed again.

Each window is a backtest that starts flat with the initial balance and trades only its own
candles, after a warm-up on every candle before it (for a test window: its train window and all
earlier data; for a train window: all earlier data): the detectors and the bias learn from them,
no order is given and the account does not see them. So a window's signals are exactly those a run
over the whole file makes inside it, and a 30-day window trades from its first candle instead of
waiting for 30 daily candles. A window's trades still start flat: a position the full run would hold
at its start is not carried in. The warm-up costs a pass of the strategy over the earlier candles
for every run of every window.

Stitching. Window *k*'s account starts at the initial balance *B*, while the out-of-sample account
has *E(k-1)* by then (the stitched curve's last value; *B* before the first window). Risk per trade
is a fraction of equity, so starting with *E(k-1)* would have scaled every position, pnl and fee by
*s(k) = E(k-1) / B*. The window's equity points (equity and exposure) and its trades (quantity,
risk, pnl and fees; R multiples and prices are unchanged) are multiplied by *s(k)*. So each window
starts where the previous one ended, and the final value is *B × Π (end(k) / B)*. The opening point
of a window (at the instant the previous one closed, with that value) is kept once. Lot rounding makes
real sizes differ slightly from the scaled ones. A position still open at a window's end counts at
its last close in the equity and is not among the trades. Trade ids get a ``w<k>:`` prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from smc_agent.backtest.executors import Executor, ProgressHook, SerialExecutor
from smc_agent.backtest.grid import Params, ParamSpace, StrategySpec, plan_grid
from smc_agent.backtest.metrics import Metrics, compute_metrics
from smc_agent.backtest.optimize import (
    RunOutcome,
    RunTask,
    best_index,
    check_objective,
    objective_score,
    run_task,
    shared_candles,
)
from smc_agent.backtest.runner import BacktestResult, backtest_json
from smc_agent.backtest.trades import EquityCurve, RecordedCurve, Trade
from smc_agent.core.errors import ConfigError
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.model.instrument import to_decimal

__all__ = [
    "WalkForwardResult",
    "Window",
    "WindowResult",
    "make_windows",
    "stitch",
    "walk_forward",
    "walk_forward_json",
    "windows_by_count",
    "windows_by_time",
]


@dataclass(frozen=True, slots=True)
class Window:
    """Candle indices ``[train_start, train_stop)`` to optimise on and ``[test_start, test_stop)`` to test."""

    index: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int


def windows_by_count(n: int, train: int, test: int) -> list[Window]:
    """Rolling windows of ``train`` then ``test`` candles over ``n`` candles, moving by ``test``.

    >>> [(w.train_start, w.test_start, w.test_stop) for w in windows_by_count(10, 4, 3)]
    [(0, 4, 7), (3, 7, 10)]
    """
    if train < 2 or test < 2:
        raise ConfigError(f"train and test need at least two candles each, got {train} and {test}", key="train")
    count = max(0, (n - train) // test)
    return [Window(k, k * test, k * test + train, k * test + train, (k + 1) * test + train) for k in range(count)]


def windows_by_time(times: np.ndarray[Any, Any], timeframe_ms: int, train_ms: int, test_ms: int) -> list[Window]:
    """Rolling windows by duration from the first candle's open, moving by ``test_ms``.

    A candle belongs to the part its open time falls in; windows whose train or test part has
    fewer than two candles are skipped (see the module docstring).
    """
    if train_ms <= 0 or test_ms <= 0:
        raise ConfigError("train and test durations must be positive", key="train")
    if len(times) == 0:
        return []
    origin, end = int(times[0]), int(times[-1]) + timeframe_ms
    windows: list[Window] = []
    k = 0
    while origin + k * test_ms + train_ms + test_ms <= end:
        edges = [origin + k * test_ms, origin + k * test_ms + train_ms, origin + (k + 1) * test_ms + train_ms]
        start, middle, stop = (int(i) for i in np.searchsorted(times, edges, side="left"))
        if middle - start >= 2 and stop - middle >= 2:
            windows.append(Window(len(windows), start, middle, middle, stop))
        k += 1
    return windows


def make_windows(candles: Candles, train: int | str, test: int | str) -> list[Window]:
    """Windows from sizes as the command line gives them: both candle counts, or both durations ("30d")."""
    sizes = [_size(value, key) for value, key in ((train, "train"), (test, "test"))]
    (train_kind, train_size), (test_kind, test_size) = sizes
    if train_kind != test_kind:
        raise ConfigError("give --train and --test both as candle counts or both as durations such as 7d", key="test")
    if train_kind == "candles":
        windows = windows_by_count(len(candles), train_size, test_size)
    else:
        windows = windows_by_time(candles.time, candles.timeframe_ms, train_size, test_size)
    if not windows:
        raise ConfigError(
            f"{len(candles)} candles hold no window of train {train} and test {test}; shorten them", key="train"
        )
    return windows


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One window: the parameters its train part chose, and how they did there and out of sample."""

    window: Window
    params: Params
    train_score: float
    train_metrics: Metrics
    test_metrics: Metrics
    scale: Decimal


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    """Per-window choices and the stitched out-of-sample trades, equity and metrics; ``runs`` backtests in all."""

    strategy: str
    objective: str
    windows: list[WindowResult]
    metrics: Metrics
    trades: list[Trade]
    equity: EquityCurve
    skipped: list[tuple[Params, str]]
    runs: int


def walk_forward(
    candles: Candles,
    spec: StrategySpec,
    space: ParamSpace,
    *,
    train: int | str,
    test: int | str,
    objective: str = "net_profit_pct",
    executor: Executor | None = None,
    progress: ProgressHook | None = None,
) -> WalkForwardResult:
    """Optimise ``space`` on each train window, test the winner on the next window, stitch the tests.

    All train runs of all windows go to the executor in one batch (they are independent), then
    the test runs in a second; ``progress`` counts both.
    """
    check_objective(objective)
    plan = plan_grid(spec, space)
    windows = make_windows(candles, train, test)
    executor = executor or SerialExecutor()
    total = len(windows) * (len(plan.runs) + 1)
    if progress is not None:
        progress(0, total)  # the size of the job is known before the first run ends
    with shared_candles(candles) as source:
        train_tasks = [
            RunTask(source, spec, p, w.train_start, w.train_stop, warm_from=0) for w in windows for p in plan.runs
        ]
        trained = executor.map(run_task, train_tasks, _offset(progress, 0, total))
        size = len(plan.runs)
        per_window = [trained[k * size : (k + 1) * size] for k in range(len(windows))]
        chosen = [group[best_index([objective_score(o.metrics, objective) for o in group])] for group in per_window]
        test_tasks = [
            RunTask(source, spec, best.params, w.test_start, w.test_stop, keep_curve=True, warm_from=0)
            for w, best in zip(windows, chosen, strict=True)
        ]
        tested = executor.map(run_task, test_tasks, _offset(progress, len(train_tasks), total))
    balance = spec.settings.initial_balance
    equity, trades, scales = stitch(tested, balance)
    metrics = compute_metrics(
        trades, equity, initial_balance=balance,
        prices_first=to_decimal(float(candles.open[windows[0].test_start])),
        prices_last=to_decimal(float(candles.close[windows[-1].test_stop - 1])),
    )  # fmt: skip
    results = [
        WindowResult(w, best.params, objective_score(best.metrics, objective), best.metrics, out.metrics, scale)
        for w, best, out, scale in zip(windows, chosen, tested, scales, strict=True)
    ]
    return WalkForwardResult(spec.name, objective, results, metrics, trades, equity, plan.skipped, total)


def stitch(
    outcomes: Sequence[RunOutcome], initial_balance: Decimal
) -> tuple[RecordedCurve, list[Trade], list[Decimal]]:
    """One out-of-sample account from consecutive test windows (the module docstring says how).

    Returns the stitched equity, the scaled trades and each window's scale factor.
    """
    level = initial_balance
    equity = RecordedCurve()
    trades: list[Trade] = []
    scales: list[Decimal] = []
    for k, outcome in enumerate(outcomes):
        scale = level / initial_balance
        scales.append(scale)
        # A window's opening point (its balance at its first open) is the instant the previous window
        # closed, at the same value once scaled; the stitched curve keeps that moment once.
        after = equity.times[-1] if equity else None
        for p in outcome.equity:
            if after is None or p.time_ms > after:
                equity.record(p.time_ms, p.equity * scale, p.exposure * scale)
        trades.extend(_scaled(t, f"w{k}:{t.id}", scale) for t in outcome.trades)
        if outcome.equity:
            level = equity[-1].equity
    return equity, trades, scales


def _scaled(trade: Trade, id: str, scale: Decimal) -> Trade:
    """The trade as the scaled account would have made it: money and size times ``scale``."""
    q, r, p, f = (value * scale for value in (trade.quantity, trade.risk, trade.pnl, trade.fees))
    return msgspec.structs.replace(trade, id=id, quantity=q, risk=r, pnl=p, fees=f)


def walk_forward_json(result: WalkForwardResult, candles: Candles) -> dict[str, Any]:
    """``{"strategy", "objective", "windows", "metrics", "trades", "equity", "skipped"}``.

    ``metrics``, ``trades`` and ``equity`` are out of sample, in the form of ``backtest --json``.
    """
    tested = candles[result.windows[0].window.test_start : result.windows[-1].window.test_stop]
    stitched = backtest_json(
        BacktestResult(
            metrics=result.metrics, trades=result.trades, equity=result.equity, rejections=[], candles=tested, zones={}
        )
    )
    return {
        "strategy": result.strategy,
        "objective": result.objective,
        "windows": [_window_json(w, candles, result.objective) for w in result.windows],
        **stitched,
        "skipped": [{"params": params, "reason": reason} for params, reason in result.skipped],
    }


def _window_json(result: WindowResult, candles: Candles, objective: str) -> dict[str, Any]:
    """``train_score`` is the objective's value on the train part, as in the metrics (null where undefined)."""
    w = result.window
    train_metrics = result.train_metrics.to_dict()
    return {
        "index": w.index,
        "train": _span(candles, w.train_start, w.train_stop),
        "test": _span(candles, w.test_start, w.test_stop),
        "params": result.params,
        "train_score": train_metrics[objective],
        "train_metrics": train_metrics,
        "test_metrics": result.test_metrics.to_dict(),
        "scale": str(result.scale),
    }


def _span(candles: Candles, start: int, stop: int) -> dict[str, Any]:
    """Open time of the first candle, close time of the last, and the count."""
    end = int(candles.time[stop - 1]) + candles.timeframe_ms
    return {"from": iso_utc(int(candles.time[start])), "to": iso_utc(end), "candles": stop - start}


def _offset(progress: ProgressHook | None, before: int, total: int) -> ProgressHook | None:
    """A map's progress as part of the whole walk-forward's."""
    if progress is None:
        return None
    hook = progress
    return lambda done, _: hook(before + done, total)


def _size(value: int | str, key: str) -> tuple[str, int]:
    """("candles", n) for a count, ("ms", n) for a duration such as 30d; ConfigError naming ``key``."""
    if isinstance(value, int):
        return "candles", value
    text = value.strip()
    if text.isdigit():
        return "candles", int(text)
    try:
        return "ms", parse_timeframe(text)
    except ConfigError:
        raise ConfigError(f"{value!r} is neither a candle count nor a duration such as 30d or 12h", key=key) from None
