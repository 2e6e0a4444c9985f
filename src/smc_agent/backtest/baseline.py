"""The random-entry baseline, run like for like: random entries through the same engine.

A strategy's trades are judged against trades that differ from them in one thing only: *when* they
were entered. Each seed is one backtest of :class:`~smc_agent.strategy.random_entry.RandomEntry` on
the same candles with the same settings (venue, fills, slippage, fees, risk gate and sizing), so a
random trade pays what the strategy's trades pay and is managed as they are (TP1, TP2, breakeven).

What a seed keeps and what it draws:

* **Plans.** Every strategy trade gives one plan (:func:`plans_from_trades`): its side, its stop
  distance and its target distances (TP1, and TP2 when it had one) in price, and its kind of entry
  (market, or a limit order, which pays maker fees and no slippage). A seed enters *all* of them, so
  it has as many trades as the strategy, the same long/short mix and the same distances; it draws
  only their order (a permutation of the plans, so no plan is tied to the time its trade happened,
  which would copy the strategy's timing of sides).
* **Entry times.** ``len(plans)`` distinct candles drawn uniformly from all but the last (an order
  placed at a close fills at the next open), sorted; plan ``j`` of the permutation goes in at the
  ``j``-th: at the close of that candle, with its stop and targets at the plan's distances from that
  close, at market or with a limit at the close that rests and is placed again at a later close when
  16 candles have not filled it; one trade at a time, so a plan whose candle comes while a trade is
  open waits until the symbol is flat (see :class:`RandomEntry`).

Seed ``k`` is ``numpy.random.default_rng(seed0 + k)`` (:func:`draw_seed`), so each run is
reproducible alone and the first 10 runs of a 50-run baseline are the 10 runs of a 10-run one.
A seed may close fewer trades than the strategy (a plan the gate refused, or one still open at the
end); ``random_trades`` in the JSON says so.

The total R compared is net of fees, as the strategy's own. The seeds are independent backtests,
so they go through an :class:`~smc_agent.backtest.executors.Executor`: serial by default, since for a
few dozen seeds a process pool spends more starting its workers than it saves (docs/user-guide.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from smc_agent.backtest.executors import Executor, SerialExecutor
from smc_agent.backtest.optimize import CandleFile, shared_candles
from smc_agent.backtest.runner import BacktestResult, run_backtest
from smc_agent.backtest.significance import Baseline, EdgeTests, compare_with_random, monte_carlo_drawdowns
from smc_agent.backtest.trades import Trade
from smc_agent.config.engine import UNNAMED, EngineSettings
from smc_agent.data.candles import Candles, IntArray
from smc_agent.strategy.random_entry import EntryPlan, RandomEntry

__all__ = [
    "BASELINE_SEEDS",
    "MONTE_CARLO_RUNS",
    "SeedOutcome",
    "draw_seed",
    "edge_tests",
    "plans_from_trades",
    "random_entry_baseline",
    "run_seed",
]

BASELINE_SEEDS = 50
MONTE_CARLO_RUNS = 1_000


def plans_from_trades(trades: Sequence[Trade]) -> list[EntryPlan]:
    """One plan per trade, in the trades' order; a trade without a stop or a target cannot be mirrored.

    >>> from smc_agent.model.enums import Side
    >>> t = Trade("t", "X", Side.SELL, "ob", "none", 0, 60_000, Decimal(100), Decimal(98), Decimal(2),
    ...           risk=Decimal(4), pnl=Decimal(4), fees=Decimal(0), r_multiple=Decimal(1),
    ...           planned_rr=Decimal(2), planned_rr2=Decimal(3))
    >>> plans_from_trades([t])[0].target_distances
    (Decimal('4'), Decimal('6'))
    """
    plans = []
    for t in trades:
        stop = t.effective_stop_distance
        if t.risk <= 0 or stop <= 0:
            raise ValueError(f"trade {t.id} has no risk or stop distance; the baseline cannot mirror it")
        if t.planned_rr is None:
            raise ValueError(f"trade {t.id} had no target; the baseline cannot mirror it")
        ratios = (t.planned_rr,) if t.planned_rr2 is None else (t.planned_rr, t.planned_rr2)
        plans.append(EntryPlan(t.side, stop, tuple(rr * stop for rr in ratios), t.market_entry))
    return plans


def draw_seed(seed: int, candles: int, plans: int) -> tuple[IntArray, IntArray]:
    """Seed ``seed``'s order of the plans (a permutation) and its entry candles (sorted, distinct).

    The entry candles are drawn from ``0 .. candles - 2``: the last candle has no next open to fill at.

    >>> order, entries = draw_seed(7, 100, 3)
    >>> sorted(order.tolist()), entries.tolist() == sorted(set(entries.tolist())), int(entries.max()) < 99
    ([0, 1, 2], True, True)
    """
    if plans > candles - 1:
        raise ValueError(f"{plans} trades to mirror but only {candles - 1} candles to enter at")
    rng = np.random.default_rng(seed)
    order = rng.permutation(plans)
    entries = np.sort(rng.choice(candles - 1, size=plans, replace=False))
    return order.astype(np.int64), entries.astype(np.int64)


@dataclass(frozen=True, slots=True)
class _SeedTask:
    """One seed's backtest, small and picklable: the candles travel as a file name."""

    candles: CandleFile
    plans: tuple[EntryPlan, ...]
    settings: EngineSettings
    seed: int


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    """A random run's closed trades: their count, total net R and net P&L."""

    seed: int
    trades: int
    total_r: float
    net_profit: float


def run_seed(candles: Candles, plans: Sequence[EntryPlan], settings: EngineSettings, seed: int) -> SeedOutcome:
    """One random run: the plans in seed ``seed``'s order at its entry candles, through the engine."""
    order, entries = draw_seed(seed, len(candles), len(plans))
    strategy = RandomEntry(candles.symbol or UNNAMED, [plans[int(i)] for i in order], candles.time[entries].tolist())
    result = run_backtest(candles, strategy, settings)
    return SeedOutcome(
        seed, len(result.trades), math.fsum(float(t.r_multiple) for t in result.trades),
        float(sum((t.pnl for t in result.trades), Decimal(0))),
    )  # fmt: skip


def _run_task(task: _SeedTask) -> SeedOutcome:
    return run_seed(task.candles.load(), task.plans, task.settings, task.seed)


def random_entry_baseline(
    candles: Candles,
    trades: Sequence[Trade],
    settings: EngineSettings,
    *,
    seeds: int,
    seed0: int = 0,
    executor: Executor | None = None,
) -> Baseline:
    """Run ``seeds`` random-entry backtests with the plans of ``trades`` and compare the strategy with them.

    ``candles`` and ``settings`` must be those the trades came from (one market). Raises ValueError
    when there is nothing to mirror (no trades, a trade without stop or target, more trades than
    candles) or ``seeds < 1``.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if not trades:
        raise ValueError("the baseline needs at least one strategy trade to mirror")
    plans = tuple(plans_from_trades(trades))
    draw_seed(seed0, len(candles), len(plans))  # fail here, not in a worker, when the trades cannot fit
    with shared_candles(candles) as source:
        tasks = [_SeedTask(source, plans, settings, seed0 + k) for k in range(seeds)]
        outcomes = (executor or SerialExecutor()).map(_run_task, tasks)
    return compare_with_random(
        [o.total_r for o in outcomes], [o.net_profit for o in outcomes], [o.trades for o in outcomes],
        strategy_total_r=math.fsum(float(t.r_multiple) for t in trades),
        strategy_net_profit=float(sum((t.pnl for t in trades), Decimal(0))), strategy_trades=len(trades),
        seed0=seed0,
    )  # fmt: skip


def edge_tests(
    result: BacktestResult,
    settings: EngineSettings,
    *,
    seeds: int = BASELINE_SEEDS,
    runs: int = MONTE_CARLO_RUNS,
    seed: int = 0,
    executor: Executor | None = None,
) -> EdgeTests:
    """The random-entry baseline and the Monte Carlo drawdowns of a backtest, where they can be made.

    Without trades there is nothing to compare. The baseline is left out (with the reason) when
    ``seeds`` is 0, when the backtest traded several markets (it mirrors one market's trades on that
    market's candles), or when a trade cannot be mirrored; the report says so rather than failing.
    """
    trades = result.trades
    if not trades:
        return EdgeTests(None, None, "there are no closed trades to mirror")
    monte_carlo = monte_carlo_drawdowns(trades, runs=runs, seed=seed, initial_balance=settings.initial_balance)
    if seeds == 0:
        return EdgeTests(None, monte_carlo, "it was turned off (0 seeds)")
    if len(result.streams) > 1:
        return EdgeTests(None, monte_carlo, "the backtest traded several markets; it mirrors one market at a time")
    try:
        baseline = random_entry_baseline(result.candles, trades, settings, seeds=seeds, seed0=seed, executor=executor)
    except ValueError as error:
        return EdgeTests(None, monte_carlo, str(error))
    return EdgeTests(baseline, monte_carlo)
