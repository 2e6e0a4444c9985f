"""``smc-agent signals`` and ``smc-agent bias``: multi-timeframe decisions a trader can read and check."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.analysis.bias import Bias
from smc_agent.analysis.signals import SignalEngine
from smc_agent.cli.common import (
    ConfigOption,
    DataOption,
    DemoOption,
    FixOption,
    FormatOption,
    HtfOption,
    JsonOption,
    ProfileOption,
    SymbolOption,
    TfOption,
    TimeColumnOption,
    TzOption,
    data_request,
    print_notes,
    user_errors,
)
from smc_agent.config import load_config
from smc_agent.data.prices import format_price, price_tick
from smc_agent.service import bias_request, htf_list, signals_json, signals_request

__all__ = ["bias_command", "signals_command"]


def signals_command(
    data: DataOption = None,
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
    """Replay a candle file and list every A+ signal with its evidence chain and quality breakdown."""
    with user_errors():
        request = data_request(data, format, tz, symbol, tf, fix, demo, time_column)
        engine = signals_request(request, htf_list(htf), load_config(config, profile).analysis)
    print_notes(request)
    if as_json:
        typer.echo(json.dumps(signals_json(engine), separators=(",", ":")))
        return
    _print_signals(engine)


def bias_command(
    data: DataOption = None,
    tf: TfOption = None,
    htf: HtfOption = None,
    at: Annotated[str | None, typer.Option("--at", help="Bias as of this time (ISO-8601, UTC if naive).")] = None,
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
    """The higher-timeframe bias at the end of the data (or at --at), with every piece of evidence."""
    with user_errors():
        request = data_request(data, format, tz, symbol, tf, fix, demo, time_column)
        bias = bias_request(request, htf_list(htf), at, load_config(config, profile).analysis)
    print_notes(request)
    if as_json:
        typer.echo(json.dumps(bias.to_dict(), separators=(",", ":")))
        return
    print_bias(Console(), bias)


def print_bias(console: Console, bias: Bias) -> None:
    colour = {"bullish": "green", "bearish": "red"}.get(bias.direction.value, "white")
    console.print(
        f"Bias [bold {colour}]{bias.direction.value}[/], confidence {bias.confidence:.0f} "
        f"({bias.confidence_level.value}); bullish {bias.bullish_score:.1f}, bearish {bias.bearish_score:.1f}"
    )
    if bias.reason:
        console.print(f"[{'dim' if bias.weights else 'yellow'}]{bias.reason}[/]")
    table = Table(title="Evidence", title_justify="left")
    for column in ("timeframe", "type", "direction", "strength", "detail"):
        table.add_column(column)
    for item in bias.signals:
        table.add_row(item.timeframe, item.type, item.direction.value, f"{item.strength:.2f}", item.detail)
    if bias.signals:
        console.print(table)


def _print_signals(engine: SignalEngine) -> None:
    console = Console()
    signals = engine.signals
    tick = price_tick(engine.mtf.entry.result(copy=False).candles)
    table = Table(title=f"{len(signals)} signals", title_justify="left")
    for column in ("created", "setup", "side", "entry", "stop", "targets", "RR", "quality", "status"):
        table.add_column(column)
    for s in signals:
        table.add_row(
            s.to_dict()["created_time"], s.setup, s.side.value, format_price(s.entry, tick), format_price(s.stop, tick),
            ", ".join(format_price(t, tick) for t in s.targets), f"{s.rr:.2f}", f"{s.quality:.2f}", s.status.value,
        )  # fmt: skip
    console.print(table)
    for s in signals:
        chain = "; ".join(f"{link['role']} {link['id']} at {link['time']}" for link in s.evidence)
        parts = ", ".join(f"{k} {v:.2f}" for k, v in s.quality_breakdown.items())
        console.print(f"[bold]{s.id}[/] v{s.version}: {chain}\n  quality: {parts}")
    if engine.rejections:
        rejected = Table(title="Setups rejected, by reason", title_justify="left")
        for column in ("setup", "reason", "count"):
            rejected.add_column(column)
        for (setup, reason), count in sorted(engine.rejections.items()):
            rejected.add_row(setup, reason, str(count))
        console.print(rejected)
