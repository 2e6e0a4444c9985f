"""``smc-agent optimize``: a parameter grid backtested in parallel, optionally walked forward.

Without ``--walk-forward`` every combination is backtested on the whole file and ranked. With it,
each combination is optimised on rolling train windows and only the winner of each is tested on
the window that follows; the report is the out-of-sample result (see
:mod:`smc_agent.backtest.walkforward`). A Rich progress bar on stderr counts the backtests, so
``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from smc_agent.backtest.executors import ProgressHook, make_executor
from smc_agent.backtest.grid import StrategySpec, parse_grid
from smc_agent.backtest.metrics import Metrics
from smc_agent.backtest.optimize import OptimizeResult, check_objective, optimize, optimize_json
from smc_agent.backtest.walkforward import WalkForwardResult, walk_forward, walk_forward_json
from smc_agent.cli.common import (
    ConfigOption,
    DataOption,
    DemoOption,
    FixOption,
    FormatOption,
    HtfOption,
    JsonOption,
    ObjectiveOption,
    ProfileOption,
    StrategyOption,
    SymbolOption,
    TestOption,
    TfOption,
    TimeColumnOption,
    TrainOption,
    TzOption,
    data_request,
    fail,
    print_notes,
    user_errors,
    walk_windows,
)
from smc_agent.config import load_config
from smc_agent.config.engine import UNNAMED
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles
from smc_agent.service import default_htfs, htf_list, in_zone, load_timeframe

__all__ = ["optimize_command"]

_SHOWN_RUNS = 20


def optimize_command(
    grid: Annotated[
        str,
        typer.Option(
            "--grid", help="Parameters to try: 'fast=5,10;slow=20:60:10' (a range is start:stop:step, inclusive)."
        ),
    ],
    data: DataOption = None,
    strategy: StrategyOption = "smc",
    walk: Annotated[
        bool, typer.Option("--walk-forward", help="Optimise on rolling train windows, test on the next window.")
    ] = False,
    train: TrainOption = None,
    test: TestOption = None,
    objective: ObjectiveOption = "net_profit_pct",
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes to use (default: one per core; 1 runs in-process).")
    ] = None,
    dask_scheduler: Annotated[
        str | None,
        typer.Option(
            "--dask-scheduler",
            help="Run on this Dask scheduler, e.g. tcp://127.0.0.1:8786 (needs dask: the dev extra).",
        ),
    ] = None,
    tf: TfOption = None,
    htf: HtfOption = None,
    format: FormatOption = None,
    tz: TzOption = None,
    symbol: SymbolOption = None,
    fix: FixOption = False,
    demo: DemoOption = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
    time_column: TimeColumnOption = None,
) -> None:
    """Backtest every combination of a parameter grid and rank them, or walk them forward."""
    windows = walk_windows(walk, train, test)
    if workers is not None and dask_scheduler is not None:
        fail("give --workers or --dask-scheduler, not both (the Dask cluster decides its workers)")
    with user_errors():
        check_objective(objective)
        space = parse_grid(grid)
        settings = load_config(config, profile)
        request = data_request(data, format, tz, symbol, tf, fix, demo, time_column)
        candles = load_timeframe(request)
        print_notes(request)
        frames = htf_list(htf)
        spec = StrategySpec(
            strategy, candles.symbol or UNNAMED, candles.timeframe,
            tuple(frames if frames is not None else default_htfs(candles.timeframe, settings.analysis)), tz,
            settings.engine, in_zone(settings.analysis, tz),
        )  # fmt: skip
        with make_executor(workers, dask_scheduler) as executor, _progress_bar() as progress:
            if windows is not None:
                result: OptimizeResult | WalkForwardResult = walk_forward(
                    candles, spec, space, train=windows[0], test=windows[1], objective=objective, executor=executor,
                    progress=progress,
                )  # fmt: skip
            else:
                result = optimize(candles, spec, space, objective=objective, executor=executor, progress=progress)
    if isinstance(result, WalkForwardResult):
        if as_json:
            typer.echo(json.dumps(walk_forward_json(result, candles), separators=(",", ":")))
        else:
            _print_walk_forward(result, candles)
    elif as_json:
        typer.echo(json.dumps(optimize_json(result), separators=(",", ":")))
    else:
        _print_grid(result)


@contextmanager
def _progress_bar() -> Iterator[ProgressHook]:
    """A transient Rich bar on stderr, driven by the executors' (done, total) hook."""
    columns = (TextColumn("backtests"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("backtests", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _print_grid(result: OptimizeResult) -> None:
    console = Console()
    ranked = result.ranked()
    table = Table(title=f"{result.strategy}: {len(ranked)} runs by {result.objective}", title_justify="left")
    for column in ("#", "params", "trades", "net %", "sharpe", "expectancy R", "profit factor", "max DD %"):
        table.add_column(column, justify="left" if column == "params" else "right")
    for rank, run in enumerate(ranked[:_SHOWN_RUNS], start=1):
        table.add_row(str(rank), _params(run.params), *_figures(run.metrics))
    console.print(table)
    if len(ranked) > _SHOWN_RUNS:
        console.print(f"... and {len(ranked) - _SHOWN_RUNS} more (--json lists every run)")
    _print_skipped(console, len(result.skipped))


def _print_walk_forward(result: WalkForwardResult, candles: Candles) -> None:
    console = Console()
    table = Table(title=f"{result.strategy}: walk-forward by {result.objective}", title_justify="left")
    for column in ("window", "test from", "test to", "params", "train score", "test trades", "test net %"):
        table.add_column(column, justify="left" if column in ("params", "test from", "test to") else "right")
    for w in result.windows:
        end = int(candles.time[w.window.test_stop - 1]) + candles.timeframe_ms
        table.add_row(
            str(w.window.index), iso_utc(int(candles.time[w.window.test_start])), iso_utc(end), _params(w.params),
            _number(w.train_score), str(w.test_metrics.trades), _number(w.test_metrics.net_profit_pct),
        )  # fmt: skip
    console.print(table)
    summary = Table(title="Out of sample (stitched)", title_justify="left")
    for column in ("trades", "net %", "sharpe", "expectancy R", "profit factor", "max DD %"):
        summary.add_column(column, justify="right")
    summary.add_row(*_figures(result.metrics))
    console.print(summary)
    console.print(f"{result.runs} backtests")
    _print_skipped(console, len(result.skipped))


def _print_skipped(console: Console, skipped: int) -> None:
    if skipped:
        console.print(f"{skipped} combinations skipped as conflicting (--json lists them with the reason)")


def _figures(m: Metrics) -> list[str]:
    return [str(m.trades), *(_number(v) for v in (m.net_profit_pct, m.sharpe, m.expectancy_r, m.profit_factor,
                                                 m.max_drawdown_pct))]  # fmt: skip


def _params(params: dict[str, int | float]) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items()) or "(defaults)"


def _number(value: float | None) -> str:
    """Four significant digits; "-" where undefined (a train score ranks undefined values as -inf)."""
    if value is None or math.isnan(value) or value == -math.inf:
        return "-"
    return "inf" if value == math.inf else f"{value:.4g}"
