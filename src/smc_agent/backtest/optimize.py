"""Grid optimisation: one backtest per parameter combination, ranked by an objective.

The runs go through an :class:`~smc_agent.backtest.executors.Executor`, so each is a small, picklable
:class:`RunTask` handled by the module-level :func:`run_task`. Candles are not in the task: the
parent saves them once to an ``.npz`` (:func:`shared_candles`) and each worker process loads that
file once and keeps it (:meth:`CandleFile.load`), so a thousand runs do not ship a thousand copies.
A task names its slice of the candles by index, which is how walk-forward windows share one file.

Objectives (:data:`OBJECTIVES`) are fields of :class:`~smc_agent.backtest.metrics.Metrics`, higher
is better. A value the metrics leave undefined ranks last (no trades, or a Sharpe ratio of fewer than
two days), except ``profit_factor`` with winners and no loser, which ranks first. Ties go to the
combination that comes first in the grid, so the choice is the same on every executor.
"""

from __future__ import annotations

import functools
import math
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smc_agent.backtest.executors import Executor, ProgressHook, SerialExecutor
from smc_agent.backtest.grid import Params, ParamSpace, StrategySpec, plan_grid
from smc_agent.backtest.metrics import Metrics
from smc_agent.backtest.runner import run_backtest
from smc_agent.backtest.trades import EquityPoint, Trade
from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.candles import Candles
from smc_agent.data.npz import load_saved, save_candles

__all__ = [
    "OBJECTIVES",
    "CandleFile",
    "GridRun",
    "OptimizeResult",
    "RunOutcome",
    "RunTask",
    "best_index",
    "check_objective",
    "objective_score",
    "optimize",
    "optimize_json",
    "run_task",
    "shared_candles",
]

OBJECTIVES = ("net_profit_pct", "sharpe", "expectancy_r", "profit_factor")


@dataclass(frozen=True, slots=True)
class CandleFile:
    """Candles saved by the parent, named by path so that a task stays a few hundred bytes."""

    path: str

    def load(self) -> Candles:
        """The candles, read once per process and then served from memory."""
        return _load(self.path)


@contextmanager
def shared_candles(candles: Candles) -> Iterator[CandleFile]:
    """Save ``candles`` to a temporary ``.npz`` for the workers; it is deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="smc-optimize-") as scratch:
        path = Path(scratch) / "candles.npz"
        save_candles(candles, path)
        yield CandleFile(str(path))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Candles:
    if not Path(path).exists():
        raise DataError("candle file not visible to this worker (a remote worker needs a shared filesystem)", path=path)
    return load_saved(path)


@dataclass(frozen=True, slots=True)
class RunTask:
    """One backtest: ``params`` trading candles ``[start, stop)`` after a warm-up on ``[warm_from, start)``
    (none by default); ``keep_curve`` returns equity and trades too."""

    candles: CandleFile
    spec: StrategySpec
    params: Params
    start: int
    stop: int
    keep_curve: bool = False
    warm_from: int | None = None


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a worker sends back: the metrics, and the curve and trades only when asked."""

    params: Params
    start: int
    stop: int
    metrics: Metrics
    equity: tuple[EquityPoint, ...] = ()
    trades: tuple[Trade, ...] = ()
    rejections: int = 0


def run_task(task: RunTask) -> RunOutcome:
    """Run one task (in whichever process the executor chose)."""
    everything = task.candles.load()
    first = task.start if task.warm_from is None else task.warm_from
    trade_from = int(everything.time[task.start]) if first < task.start else None
    strategy, settings = task.spec.build(task.params)
    result = run_backtest(everything[first : task.stop], strategy, settings, trade_from=trade_from)
    keep = task.keep_curve
    return RunOutcome(
        task.params, task.start, task.stop, result.metrics,
        tuple(result.equity) if keep else (), tuple(result.trades) if keep else (), len(result.rejections),
    )  # fmt: skip


def check_objective(objective: str) -> None:
    """Fail on an unknown objective before any run starts."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; choose from {', '.join(OBJECTIVES)}", key="objective")


def objective_score(metrics: Metrics, objective: str) -> float:
    """The number ``objective`` ranks by, higher is better; see the module docstring for undefined values."""
    check_objective(objective)
    value = getattr(metrics, objective)
    if value is None:
        return math.inf if objective == "profit_factor" and metrics.wins > 0 else -math.inf
    return float(value)


def best_index(scores: Sequence[float]) -> int:
    """The position of the highest score; the first one on a tie."""
    if not scores:
        raise ValueError("no scores to choose from")
    best = 0
    for n, score in enumerate(scores):
        if score > scores[best]:
            best = n
    return best


@dataclass(frozen=True, slots=True)
class GridRun:
    """One combination's backtest: its parameters, its score by the objective, and all its metrics."""

    params: Params
    score: float
    metrics: Metrics


@dataclass(frozen=True, slots=True)
class OptimizeResult:
    """Every run in grid order, the combinations skipped as conflicting, and the best run."""

    strategy: str
    objective: str
    runs: list[GridRun]
    skipped: list[tuple[Params, str]]

    @property
    def best(self) -> GridRun:
        return self.runs[best_index([run.score for run in self.runs])]

    def ranked(self) -> list[GridRun]:
        """Best first; ties keep grid order (``sorted`` is stable)."""
        return sorted(self.runs, key=lambda run: -run.score)


def optimize(
    candles: Candles,
    spec: StrategySpec,
    space: ParamSpace,
    *,
    objective: str = "net_profit_pct",
    executor: Executor | None = None,
    progress: ProgressHook | None = None,
) -> OptimizeResult:
    """Backtest every combination of ``space`` on all of ``candles`` and rank by ``objective``."""
    check_objective(objective)
    plan = plan_grid(spec, space)
    if len(candles) < 2:
        raise ConfigError(f"need at least two candles to backtest, got {len(candles)}", key="data")
    if progress is not None:
        progress(0, len(plan.runs))  # the size of the job is known before the first run ends
    with shared_candles(candles) as source:
        tasks = [RunTask(source, spec, params, 0, len(candles)) for params in plan.runs]
        outcomes = (executor or SerialExecutor()).map(run_task, tasks, progress)
    runs = [GridRun(o.params, objective_score(o.metrics, objective), o.metrics) for o in outcomes]
    return OptimizeResult(spec.name, objective, runs, plan.skipped)


def optimize_json(result: OptimizeResult) -> dict[str, Any]:
    """``{"strategy", "objective", "best", "runs", "skipped"}``; runs best first.

    ``score`` is the objective's value as in the metrics (null where undefined; see the ranking rule).
    """
    return {
        "strategy": result.strategy,
        "objective": result.objective,
        "best": _run_json(result, result.best),
        "runs": [_run_json(result, run) for run in result.ranked()],
        "skipped": [{"params": params, "reason": reason} for params, reason in result.skipped],
    }


def _run_json(result: OptimizeResult, run: GridRun) -> dict[str, Any]:
    metrics = run.metrics.to_dict()
    return {"params": run.params, "score": metrics[result.objective], "metrics": metrics}
