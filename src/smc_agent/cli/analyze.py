"""``smc-agent analyze``: what the detectors see in a candle file, for a person or as JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.cli.common import (
    DataOption,
    DemoOption,
    FixOption,
    FormatOption,
    JsonOption,
    SymbolOption,
    TimeColumnOption,
    TzOption,
    data_request,
    print_notes,
    user_errors,
)
from smc_agent.service import analysis_json, analyze_request
from smc_agent.smc.config import SmcConfig, SwingLength
from smc_agent.smc.snapshot import MarketSnapshot, snapshot

__all__ = ["analyze_command"]


def analyze_command(
    data: DataOption = None,
    format: FormatOption = None,
    tz: TzOption = None,
    symbol: SymbolOption = None,
    tf: Annotated[str | None, typer.Option("--tf", help="Timeframe to analyse, e.g. 15m; resamples up.")] = None,
    as_json: JsonOption = False,
    demo: DemoOption = False,
    fix: FixOption = False,
    time_column: TimeColumnOption = None,
    internal: Annotated[int, typer.Option("--internal-length", help="Fractal length of internal swings.")] = 5,
    swing: Annotated[int, typer.Option("--swing-length", help="Fractal length of swing structure.")] = 50,
    structure_break: Annotated[str, typer.Option("--break", help="Structure break on 'close' or 'wick'.")] = "close",
) -> None:
    """Detect swings, BOS/CHoCH, order blocks, FVGs, liquidity and premium/discount in a candle file."""
    with user_errors():
        request = data_request(data, format, tz, symbol, tf, fix, demo, time_column)
        config = SmcConfig(
            internal=SwingLength(internal, internal),
            swing=SwingLength(swing, swing),
            structure_break=structure_break,  # type: ignore[arg-type]  # validated by SmcConfig
            calendar_tz=tz or "UTC",
        )
        result = analyze_request(request, config)
    print_notes(request)
    if as_json:
        typer.echo(json.dumps(analysis_json(result), separators=(",", ":")))
        return
    _print(snapshot(result))


def _print(snap: MarketSnapshot) -> None:
    console = Console()
    console.print(
        f"[bold]{snap.symbol or '?'}[/] {snap.timeframe}  {snap.candles} candles  "
        f"last close {_price(snap.last_close)} at {snap.last_time}"
    )
    structure = Table(title="Structure", title_justify="left")
    for column in ("scope", "trend", "last BOS", "last CHoCH"):
        structure.add_column(column)
    for scope, trend in snap.trend.items():
        colour = {"bullish": "green", "bearish": "red"}.get(trend, "white")
        structure.add_row(scope, f"[{colour}]{trend}[/]", _level(snap.last_bos[scope]), _level(snap.last_choch[scope]))
    console.print(structure)

    zones = Table(title="Zones nearest to price", title_justify="left")
    for column in ("zone", "direction", "bottom", "top", "state", "confirmed"):
        zones.add_column(column)
    for kind, found in snap.zones.items():
        for event in found:
            zones.add_row(
                kind.replace("_", " "),
                event["direction"],
                _price(event.get("bottom")),
                _price(event.get("top")),
                event["state"],
                event["confirmed_time"],
            )
    console.print(zones)

    if snap.dealing_range:
        dr = snap.dealing_range
        low, high = dr.ote
        console.print(
            f"[bold]Dealing range[/] {_price(dr.bottom)} - {_price(dr.top)} ({dr.direction} leg), "
            f"equilibrium {_price(dr.equilibrium)}; price in [bold]{dr.zone}[/] at {dr.position:.0%}; "
            f"OTE {_price(low)} - {_price(high)}"
        )
    for kind, event in snap.levels.items():
        console.print(f"{kind.replace('_', ' ')}: high {_price(event['top'])}, low {_price(event['bottom'])}")
    console.print(f"sessions now: {', '.join(snap.sessions_now) or 'none'}")


def _level(event: dict[str, Any] | None) -> str:
    if event is None:
        return "-"
    return f"{event['direction']} {_price(event['price'])} at {event['confirmed_time']}"


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
