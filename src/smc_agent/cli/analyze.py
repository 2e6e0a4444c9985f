"""``smc-agent analyze``: what the detectors see in a candle file, for a person or as JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.cli.common import (
    ConfigOption,
    DataOption,
    DemoOption,
    FixOption,
    FormatOption,
    JsonOption,
    ProfileOption,
    SymbolOption,
    TimeColumnOption,
    TzOption,
    data_request,
    print_notes,
    user_errors,
)
from smc_agent.config import load_config
from smc_agent.data.prices import format_price, price_tick
from smc_agent.service import analysis_json, analyze_request
from smc_agent.smc.config import SwingLength
from smc_agent.smc.snapshot import MarketSnapshot, snapshot

__all__ = ["analyze_command"]

_BREAKS = ("close", "wick")


def _length(flag: str, what: str, default: int) -> Any:
    return typer.Option(flag, help=f"Fractal length of {what} (default {default}, or the settings').",
                        show_default=False)  # fmt: skip


def _known_break(value: str | None) -> str | None:
    if value is not None and value not in _BREAKS:
        raise typer.BadParameter(f"unknown structure break {value!r}; choose from {', '.join(_BREAKS)}")
    return value


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
    internal: Annotated[int | None, _length("--internal-length", "internal swings", 5)] = None,
    swing: Annotated[int | None, _length("--swing-length", "swing structure", 50)] = None,
    structure_break: Annotated[
        str | None,
        typer.Option(
            "--break", callback=_known_break, help="Structure break on 'close' (default) or 'wick'.", show_default=False
        ),
    ] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
) -> None:
    """Detect swings, BOS/CHoCH, order blocks, FVGs, liquidity and premium/discount in a candle file.

    The detectors run with the signal engine's entry-timeframe settings ([analysis.entry_smc] in a
    settings file), so this lists the same zones and pools that signals and report work from.
    """
    with user_errors():
        request = data_request(data, format, tz, symbol, tf, fix, demo, time_column)
        changes: dict[str, Any] = {"internal": None if internal is None else SwingLength(internal, internal),
                                   "swing": None if swing is None else SwingLength(swing, swing),
                                   "structure_break": structure_break}  # fmt: skip
        result = analyze_request(request, load_config(config, profile).analysis,
                                 **{key: value for key, value in changes.items() if value is not None})  # fmt: skip
    print_notes(request)
    if as_json:
        typer.echo(json.dumps(analysis_json(result), separators=(",", ":")))
        return
    _print(snapshot(result), price_tick(result.candles))


def _print(snap: MarketSnapshot, tick: Decimal) -> None:
    def _price(value: float | None) -> str:
        return format_price(value, tick)

    def _level(event: dict[str, Any] | None) -> str:
        return "-" if event is None else f"{event['direction']} {_price(event['price'])} at {event['confirmed_time']}"

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
    for column in ("zone", "scope", "direction", "bottom", "top", "state", "confirmed"):
        zones.add_column(column)
    for kind, found in snap.zones.items():
        for event in found:
            zones.add_row(
                kind.replace("_", " "),
                event.get("scope", "-"),
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
