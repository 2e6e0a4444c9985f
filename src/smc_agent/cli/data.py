"""``smc-agent data ...``: look at market data files before trusting them, and download them from an exchange.

``inspect`` is a thin transport over :func:`smc_agent.data.inspect.inspect_file`: it formats the report with
Rich (or as JSON with ``--json``) and turns user errors into one red line and exit code 2, never a
traceback. A file that reads but breaks a candle rule prints its report and also exits with 2.

    $ smc-agent data inspect ../shared/data/india/NIFTY-FUT_15m_2024.csv --tz Asia/Kolkata

``download`` drives :func:`smc_agent.feeds.download.download` with a Rich progress bar on a terminal (one
summary line otherwise); an option's bad value is one red line naming the option.

    $ smc-agent data download --symbol BTC/USDT --tf 1m --since 2024-01-01 --out BTC_USDT-1m.csv
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from smc_agent.cli.common import EXIT_USER_ERROR, ConfigOption, ProfileOption, TimeColumnOption, fail
from smc_agent.config import load_settings
from smc_agent.core.clock import WallClock
from smc_agent.core.errors import ConfigError, SmcAgentError
from smc_agent.core.timefmt import format_time
from smc_agent.data.inspect import InspectReport, inspect_file
from smc_agent.data.loaders import FORMATS
from smc_agent.data.validation import Gap
from smc_agent.feeds.download import DownloadResult, download, open_client, parse_utc, part_path

__all__ = ["app"]

app = typer.Typer(help="Inspect and check market data files.", no_args_is_help=True, add_completion=False)


# The keys of the download's ConfigErrors, and the options that set them.
_DOWNLOAD_OPTIONS = {"exchange": "--exchange", "symbol": "--symbol", "tf": "--tf", "since": "--since",
                     "until": "--until", "out": "--out", "testnet": "--testnet", "rest_url": "--rest-url"}  # fmt: skip


@app.callback()
def data() -> None:
    """Inspect and check market data files (candles in MT5, CSV, Binance, freqtrade, feather, parquet);
    download candles from an exchange."""


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


@app.command("download")
def download_command(
    symbol: Annotated[str, typer.Option("--symbol", help="Market, as ccxt names it: BTC/USDT.", show_default=False)],
    tf: Annotated[str, typer.Option("--tf", help="Timeframe, as the exchange has it: 1m, 5m, 1h, 1d.")],
    since: Annotated[str, typer.Option("--since", help="First candle's date or date-time, UTC: 2024-01-01.")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write (FILE.part until done).", show_default=False)],
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange", help="Any ccxt exchange by name (settings: exchange.name; else binance).", show_default=False
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End (excluded), UTC. Default: the last candle closed now.")
    ] = None,
    rest_url: Annotated[
        str | None, typer.Option("--rest-url", help="REST base to use instead of the exchange's (a gateway).")
    ] = None,
    testnet: Annotated[
        bool | None,
        typer.Option(
            "--testnet/--no-testnet",
            help="Use the exchange's sandbox (settings: exchange.testnet).",
            show_default=False,
        ),
    ] = None,
    rate_limit_ms: Annotated[
        int | None,
        typer.Option(
            "--rate-limit-ms",
            min=1,
            help="ccxt's rateLimit: ms per unit of request weight (settings: exchange.rate_limit_ms; else the "
            "exchange's).",
        ),
    ] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
) -> None:
    """Download closed candles into a CSV that analyze and backtest read; run it again to resume."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        since_ms, until_ms = parse_utc(since, "since"), None if until is None else parse_utc(until, "until")
        given = load_settings(config, profile=profile).exchange  # the flags win over it
        urls = {**given.urls, **({"rest": rest_url} if rest_url else {})}
        client = partial(open_client, exchange or given.name or "binance",
                         testnet=given.testnet if testnet is None else testnet, urls=urls,
                         rate_limit_ms=rate_limit_ms or given.rate_limit_ms)  # fmt: skip
        result = asyncio.run(_download(client, symbol, tf, out, since_ms, until_ms, console))
    except ConfigError as exc:
        fail(f"option {_DOWNLOAD_OPTIONS[exc.key]}: {exc.message}" if exc.key in _DOWNLOAD_OPTIONS else exc)
    except SmcAgentError as exc:
        fail(exc)
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted: what was downloaded is in {escape(str(part_path(out)))}; run the "
                      "same command again to resume[/]")  # fmt: skip
        raise typer.Exit(130) from None
    if result.up_to_date:
        typer.echo(f"{out} is already complete: {result.total:,} candles from {format_time(result.first_ms)} to "
                   f"{format_time(result.last_ms)}; nothing to do")  # fmt: skip
    else:
        resumed = f", resumed after {result.resumed_from:,} already there" if result.resumed_from else ""
        typer.echo(f"wrote {result.written:,} candles to {out} ({result.total:,} from "
                   f"{format_time(result.first_ms)} to {format_time(result.last_ms)}{resumed})")  # fmt: skip


async def _download(open_: Callable[[], Any], symbol: str, tf: str, out: Path, since_ms: int, until_ms: int | None,
                    console: Console) -> DownloadResult:  # fmt: skip
    client = open_()  # inside the event loop: ccxt's async client belongs to the loop that runs it
    bar = Progress(TextColumn(f"{escape(symbol)} {escape(tf)}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=console, disable=not console.is_terminal)  # fmt: skip
    task = bar.add_task("download", total=None)
    try:
        with bar:
            return await download(
                client,
                symbol,
                tf,
                out,
                since_ms=since_ms,
                until_ms=until_ms,
                clock=WallClock(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        await client.close()
