"""What every command shares: user errors become one red line and exit code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from smc_agent.backtest.optimize import OBJECTIVES
from smc_agent.core.errors import ConfigError, DataError, SmcAgentError
from smc_agent.data.demo import DEMO_SYMBOL, DEMO_TIMEFRAME, demo_data_path
from smc_agent.data.loaders import FORMATS
from smc_agent.service import AnalysisRequest
from smc_agent.strategy.registry import STRATEGIES

__all__ = [
    "EXIT_USER_ERROR",
    "ConfigOption",
    "DataOption",
    "DemoOption",
    "FixOption",
    "FormatOption",
    "HtfOption",
    "JsonOption",
    "ObjectiveOption",
    "ProfileOption",
    "SymbolOption",
    "TestOption",
    "TimeColumnOption",
    "TrainOption",
    "TzOption",
    "data_request",
    "fail",
    "print_notes",
    "user_errors",
    "walk_windows",
]

EXIT_USER_ERROR = 2


# Internal keys of errors raised below the CLI, and the option a person typed to set each. A key
# from a settings file (ConfigError.source set) is already the user's word, ``risk.min_rr``.
_OPTIONS = {
    "tz": "--tz", "calendar_tz": "--tz", "day_tz": "--tz", "at": "--at", "tf": "--tf", "timeframe": "--tf",
    "target_timeframe": "--tf", "htf": "--htf", "from": "--from/--to", "data": "--data", "format": "--format",
    "structure_break": "--break", "strategy": "--strategy", "grid": "--grid", "train": "--train",
    "test": "--test", "objective": "--objective", "workers": "--workers", "speed": "--speed", "db": "--db",
}  # fmt: skip


def user_message(error: str | SmcAgentError) -> str:
    """The error as a person reads it: an internal key is replaced by the option that sets it.

    >>> user_message(ConfigError("unknown time zone 'Mars'", key="calendar_tz"))
    "option --tz: unknown time zone 'Mars'"
    """
    if isinstance(error, ConfigError) and error.source is None and error.key in _OPTIONS:
        return f"option {_OPTIONS[error.key]}: {error.message}"
    if isinstance(error, DataError) and error.field == "format" and error.row is None:
        return f"option --format: {error.message}"
    return str(error)


def fail(message: str | SmcAgentError) -> NoReturn:
    """Print the error for a person and exit with code 2."""
    text = f"[bold red]error:[/] [red]{escape(user_message(message))}[/]"
    Console(stderr=True).print(text, soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_USER_ERROR)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn our own errors (bad data, bad config) into :func:`fail`; anything else is a bug and surfaces."""
    try:
        yield
    except SmcAgentError as exc:
        fail(exc)


# Options every data-reading command takes, declared once.
DataOption = Annotated[Path | None, typer.Option("--data", help="Candle file to read.", show_default=False)]
FormatOption = Annotated[str | None, typer.Option("--format", help=f"One of {', '.join(FORMATS)}; default: detect.")]
TzOption = Annotated[
    str | None, typer.Option("--tz", help="IANA zone of naive timestamps, and of days and weeks (default UTC).")
]
SymbolOption = Annotated[str | None, typer.Option("--symbol", help="Symbol name (default: from the file name).")]
FixOption = Annotated[
    bool, typer.Option("--fix", help="Sort by time and drop exact duplicate rows first (and say what it did).")
]
TimeColumnOption = Annotated[
    str | None,
    typer.Option(
        "--time-column",
        help="Name of the time column, when it is not found among time, timestamp, date, datetime, open_time "
        "(any case, optionally with _utc).",
        show_default=False,
    ),
]
DemoOption = Annotated[
    bool, typer.Option("--demo", help="Use the EURUSD 1h candles shipped in the backtesting package.")
]
HtfOption = Annotated[
    str | None,
    typer.Option(
        "--htf", help="Higher timeframes, comma-separated (default: 1h, 4h and 1d where above the entry timeframe)."
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Settings file (TOML, or YAML for .yaml/.yml; see docs/configuration.md).", show_default=False
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="Merge the settings file's [profiles.NAME] table over it (default: $SMC_PROFILE).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object (see docs/api.md).")]
TfOption = Annotated[str | None, typer.Option("--tf", help="Entry timeframe, e.g. 15m (resamples up).")]
TrainOption = Annotated[
    str | None, typer.Option("--train", help="Train window: a candle count (5000) or a duration (30d).")
]
TestOption = Annotated[str | None, typer.Option("--test", help="Test window, the same kind as --train (1000 or 7d).")]
ObjectiveOption = Annotated[
    str, typer.Option("--objective", help=f"What a train window maximises: one of {', '.join(OBJECTIVES)}.")
]


def walk_windows(walk: bool, train: str | None, test: str | None) -> tuple[str, str] | None:
    """``--walk-forward`` with its ``--train`` and ``--test``, or None without it; a usage error otherwise."""
    if walk and (train is None or test is None):
        fail("--walk-forward needs --train and --test (candle counts such as 5000, or durations such as 30d)")
    if not walk and (train is not None or test is not None):
        fail("--train and --test only apply with --walk-forward")
    return (train, test) if train is not None and test is not None else None


def _known_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise typer.BadParameter(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    return name


StrategyOption = Annotated[
    str, typer.Option("--strategy", callback=_known_strategy, help=f"One of {', '.join(STRATEGIES)}.")
]


def data_request(
    data: Path | None,
    format: str | None,
    tz: str | None,
    symbol: str | None,
    tf: str | None,
    fix: bool,
    demo: bool,
    time_column: str | None = None,
) -> AnalysisRequest:
    """Where the candles come from, from the common options (``--demo`` or ``--data``, never both)."""
    if demo and data is not None:
        fail("give either --data FILE or --demo, not both")
    if demo:
        data, symbol, tf = demo_data_path(), symbol or DEMO_SYMBOL, tf or DEMO_TIMEFRAME
    if data is None:
        fail("give a candle file with --data FILE, or --demo for the bundled EURUSD sample")
    return AnalysisRequest(data, format=format, tz=tz, symbol=symbol, timeframe=tf, fix=fix, time_column=time_column)


def print_notes(*requests: AnalysisRequest) -> None:
    """What loading did to each file (``--fix`` repairs, an unfinished candle left out), on stderr so
    that ``--json`` output stays one document."""
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    for request in requests:
        for note in request.notes:
            console.print(f"[yellow]note: {escape(note)}[/]")
