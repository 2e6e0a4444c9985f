"""``smc-agent data ...``: look at market data files before trusting them.

A thin transport over :func:`smc_agent.data.inspect.inspect_file`: it formats the report with Rich
(or as JSON with ``--json``) and turns user errors into one red line and exit code 2, never a
traceback. A file that reads but breaks a candle rule prints its report and also exits with 2.

    $ smc-agent data inspect ../shared/data/india/NIFTY-FUT_15m_2024.csv --tz Asia/Kolkata
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from smc_agent.cli.common import EXIT_USER_ERROR, TimeColumnOption, fail
from smc_agent.core.errors import SmcAgentError
from smc_agent.core.timefmt import format_time
from smc_agent.data.inspect import InspectReport, inspect_file
from smc_agent.data.loaders import FORMATS
from smc_agent.data.validation import Gap

__all__ = ["app"]

app = typer.Typer(help="Inspect and check market data files.", no_args_is_help=True, add_completion=False)


@app.callback()
def data() -> None:
    """Inspect and check market data files (candles in MT5, CSV, Binance, freqtrade, feather, parquet)."""


@app.command("inspect")
def inspect_command(
    file: Annotated[Path, typer.Argument(help="The candle file to inspect.", show_default=False)],
    format: Annotated[
        str | None, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}. Default: detect.")
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="IANA time zone of naive timestamps, e.g. Asia/Kolkata. Default: UTC."),
    ] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Sort by time and drop exact duplicate rows first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    time_column: TimeColumnOption = None,
) -> None:
    """Show a file's format, rows, time range, timeframe, gaps and whether it passes validation."""
    try:
        report = inspect_file(file, format=format, tz=tz, fix=fix, time_column=time_column)
    except SmcAgentError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report, tz)
    if not report.ok:
        raise typer.Exit(EXIT_USER_ERROR)


def _when(ms: int | None, tz: str | None) -> str:
    if ms is None:
        return "-"
    return format_time(ms) if tz is None else f"{format_time(ms)} ({format_time(ms, tz)})"


def _gap(gap: Gap, tz: str | None) -> str:
    return f"{format_time(gap.start, tz)} → {format_time(gap.end, tz)}: {gap.missing:,} missing"


def _print_report(report: InspectReport, tz: str | None) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("file", escape(report.path))
    grid.add_row("format", f"{report.format} ({'detected' if report.detected else 'given'})")
    grid.add_row("symbol", escape(report.symbol) or "-")
    grid.add_row("rows", f"{report.rows:,}")
    grid.add_row("time range", f"{_when(report.first_time, tz)} → {_when(report.last_time, tz)}")
    grid.add_row("timeframe", report.timeframe or "unknown")
    if report.gap_count:
        grid.add_row("gaps", f"{report.gap_count:,} ({report.missing_candles:,} missing candles)")
        if report.largest_gap is not None:
            grid.add_row("largest gap", _gap(report.largest_gap, tz))
        for i, gap in enumerate(report.first_gaps):
            grid.add_row("first gaps" if i == 0 else "", _gap(gap, tz))
    else:
        grid.add_row("gaps", "none")
    if report.fixed:
        grid.add_row("fixed", report.fixed)
    verdict = "[green]OK[/]" if report.ok else f"[bold red]FAILED:[/] [red]{escape(report.error or '')}[/]"
    grid.add_row("validation", verdict)
    Console().print(grid, soft_wrap=True, highlight=False)
