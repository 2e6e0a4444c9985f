"""``smc-agent report``: a Markdown page per file and a row per file in the Excel log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from smc_agent.analysis.report import ReportOutcome
from smc_agent.cli.common import (
    ConfigOption,
    DemoOption,
    FixOption,
    FormatOption,
    HtfOption,
    ProfileOption,
    SymbolOption,
    TfOption,
    TimeColumnOption,
    TzOption,
    data_request,
    fail,
    print_notes,
    user_errors,
)
from smc_agent.config import load_config
from smc_agent.service import AnalysisRequest, htf_list, write_reports

__all__ = ["report_command"]

DataFilesOption = Annotated[
    list[Path] | None,
    typer.Option("--data", help="Candle file to report on; repeat for several (one report each).", show_default=False),
]


def report_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the reports and smc-log.xlsx (created if missing).")
    ],
    data: DataFilesOption = None,
    tf: TfOption = None,
    htf: HtfOption = None,
    format: FormatOption = None,
    tz: TzOption = None,
    symbol: SymbolOption = None,
    fix: FixOption = False,
    demo: DemoOption = False,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    time_column: TimeColumnOption = None,
) -> None:
    """Write a Markdown report per file (bias, evidence, zones, signals) and log one row each in smc-log.xlsx."""
    files = data or []
    if demo and files:
        fail("give either --data FILE or --demo, not both")
    if symbol is not None and len(files) > 1:
        fail("--symbol names the symbol of a single file; give one --data with it, or leave it out")
    console = Console(soft_wrap=True, highlight=False)
    with user_errors():
        htfs = htf_list(htf)
        analysis = load_config(config, profile).analysis
        if demo or not files:
            requests = [data_request(None, format, tz, symbol, tf, fix, demo, time_column)]
        else:
            requests = [
                AnalysisRequest(path, format=format, tz=tz, symbol=symbol, timeframe=tf, fix=fix,
                                time_column=time_column)
                for path in files
            ]  # fmt: skip
        for request, outcome in zip(requests, write_reports(requests, htfs, out, analysis), strict=False):
            print_notes(request)
            _print(console, outcome)


def _print(console: Console, outcome: ReportOutcome) -> None:
    row = outcome.row
    console.print(f"report: {escape(str(outcome.report_path))}")
    console.print(
        f"log: {escape(str(outcome.log_path))} row {outcome.row_number}: {row.date} {escape(row.symbol)} "
        f"{row.bias} {row.confidence:.2f} ({row.confidence_level}), bullish {row.bullish_score:.2f}, "
        f"bearish {row.bearish_score:.2f}, {row.signal_count} signals"
    )
    for note in outcome.notes:
        console.print(f"[yellow]note: {escape(str(outcome.log_path))}: openpyxl: {escape(note)}[/]")
