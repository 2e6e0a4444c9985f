"""``smc-agent research edge``: is the edge real, market by market, corrected for testing many?

A thin transport over :func:`smc_agent.service.edge_request` (the computation is
:mod:`smc_agent.backtest.edge`): it prints a Rich table and writes the Markdown and JSON reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.analysis.report_log import atomic_write
from smc_agent.backtest.baseline import BASELINE_SEEDS
from smc_agent.backtest.edge import (
    DEFAULT_HORIZON,
    EDGE_COLUMNS,
    EdgeOptions,
    EdgeStudy,
    WalkForwardPlan,
    edge_markdown,
    edge_rows,
)
from smc_agent.backtest.executors import make_executor
from smc_agent.backtest.grid import parse_grid
from smc_agent.backtest.optimize import check_objective
from smc_agent.cli.common import (
    ConfigOption,
    FixOption,
    FormatOption,
    HtfOption,
    ObjectiveOption,
    ProfileOption,
    StrategyOption,
    TestOption,
    TfOption,
    TrainOption,
    TzOption,
    data_request,
    fail,
    user_errors,
    walk_windows,
)
from smc_agent.config import load_config
from smc_agent.service import edge_request, htf_list

__all__ = ["app"]

app = typer.Typer(help="Research questions asked of several markets at once.", no_args_is_help=True,
                  add_completion=False)  # fmt: skip


@app.callback()
def research() -> None:
    """Research questions asked of several markets at once."""


@app.command("edge")
def edge_command(
    data: Annotated[
        list[Path],
        typer.Option("--data", help="Candle file, one market; repeat it for each market.", show_default=False),
    ],
    strategy: StrategyOption = "smc",
    tf: TfOption = None,
    htf: HtfOption = None,
    horizon: Annotated[
        int, typer.Option("--horizon", min=1, help="Entry candles ahead over which the bias is judged.")
    ] = DEFAULT_HORIZON,
    bias_every: Annotated[
        int | None,
        typer.Option("--bias-every", min=1, help="Read the bias every this many candles (default: the horizon)."),
    ] = None,
    baseline_seeds: Annotated[
        int, typer.Option("--baseline-seeds", min=0, help="Random-entry backtests per market (0: none).")
    ] = BASELINE_SEEDS,
    walk: Annotated[
        bool, typer.Option("--walk-forward", help="Report out-of-sample figures from rolling windows.")
    ] = False,
    train: TrainOption = None,
    test: TestOption = None,
    grid: Annotated[
        str | None, typer.Option("--grid", help="Parameters each train window chooses from (default: none).")
    ] = None,
    objective: ObjectiveOption = "net_profit_pct",
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes for the walk-forward and the baseline runs.")
    ] = 1,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write the table as Markdown here.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON document here.")] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    format: FormatOption = None,
    tz: TzOption = None,
    fix: FixOption = False,
) -> None:
    """Per market: trades, win rate, expectancy, drawdown, the random-entry baseline and the bias's hit rate."""
    windows = walk_windows(walk, train, test)
    if windows is None and grid is not None:
        fail("--grid only applies with --walk-forward")
    with user_errors():
        check_objective(objective)
        plan = None if windows is None else WalkForwardPlan(*windows, parse_grid(grid) if grid else {}, objective)
        requests = [data_request(path, format, tz, None, tf, fix, False) for path in data]
        settings = load_config(config, profile)
        options = EdgeOptions(strategy, tz, settings.engine, settings.analysis, horizon, bias_every, baseline_seeds,
                              plan)  # fmt: skip
        with make_executor(workers) as executor:
            study = edge_request(requests, options, htfs=htf_list(htf), executor=executor)
        if markdown is not None:
            _write(markdown, edge_markdown(study), "Markdown report")
        if json_path is not None:
            _write(json_path, json.dumps(study.to_dict(), indent=2) + "\n", "JSON report")
    _print(study)


def _write(path: Path, text: str, what: str) -> None:
    try:
        atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
    except OSError as exc:
        fail(f"{path}: cannot write the {what}: {exc.strerror or exc}")


def _print(study: EdgeStudy) -> None:
    o, walk = study.options, study.options.walk
    scope = f"out of sample (train {walk.train}, test {walk.test})" if walk else "in sample"
    # At least 100 columns: a pipe reports 80, which would cut the file names and the p-values.
    console = Console(width=max(Console().width, 100))
    rows = edge_rows(study)
    # Two tables, so that each fits a terminal: the figures, then the tests (the market in both).
    split = EDGE_COLUMNS.index("rand pct")
    for title, columns in ((f"{o.strategy}, {scope}", range(split)),
                           ("Is the edge real?", (0, *range(split, len(EDGE_COLUMNS))))):  # fmt: skip
        table = Table(title=title, title_justify="left")
        for k in columns:
            table.add_column(EDGE_COLUMNS[k], justify="left" if k == 0 else "right", no_wrap=k == 0)
        for row in rows:
            table.add_row(*(row[k] for k in columns))
        console.print(table)
    console.print(
        f"baseline: {o.seeds} random-entry runs per market; bias read every {o.step} candles, judged "
        f"over the next {o.horizon}; p (Holm): corrected across the {len(study.markets)} markets"
    )
    for market in study.markets:
        if market.baseline_skipped:
            console.print(f"{market.name}: no baseline, {market.baseline_skipped}")
