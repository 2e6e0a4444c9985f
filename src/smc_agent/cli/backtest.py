"""``smc-agent backtest``: a strategy through the same kernel as paper and live trading."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.backtest.baseline import BASELINE_SEEDS, edge_tests
from smc_agent.backtest.html_report import write_html_report
from smc_agent.backtest.runner import BacktestResult, backtest_json
from smc_agent.backtest.significance import EdgeTests
from smc_agent.cli.common import (
    ConfigOption,
    DemoOption,
    FixOption,
    FormatOption,
    HtfOption,
    JsonOption,
    ProfileOption,
    StrategyOption,
    SymbolOption,
    TfOption,
    TimeColumnOption,
    TzOption,
    data_request,
    fail,
    print_notes,
    user_errors,
)
from smc_agent.config import AppConfig, load_config, load_settings
from smc_agent.config.engine import EngineSettings
from smc_agent.events.journal import Journal
from smc_agent.service import backtest_request, htf_list
from smc_agent.service.recording import recorded_backtest
from smc_agent.service.session_replay import replay_session
from smc_agent.service.store import open_store

__all__ = ["backtest_command"]


def backtest_command(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Candle file to read; repeat it to backtest several symbols in one account."),
    ] = None,
    tf: TfOption = None,
    htf: HtfOption = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Trade from this candle open time (ISO-8601, UTC if naive); earlier candles "
            "only warm the strategy up.",
        ),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Stop before this open time.")] = None,
    strategy: StrategyOption = "smc",
    trades: Annotated[Path | None, typer.Option("--trades", help="Write the trade log as CSV here.")] = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here (works offline).")
    ] = None,
    baseline_seeds: Annotated[
        int,
        typer.Option(
            "--baseline-seeds",
            min=0,
            help="Random-entry backtests to judge the strategy against, for --json and --report (0: none).",
        ),
    ] = BASELINE_SEEDS,
    format: FormatOption = None,
    tz: TzOption = None,
    symbol: SymbolOption = None,
    fix: FixOption = False,
    demo: DemoOption = False,
    as_json: JsonOption = False,
    time_column: TimeColumnOption = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Keep the run in this store: its events, orders, fills, equity and metrics (with --session: "
            "the store to read).",
            show_default=False,
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            help="Replay this stored session on live data (its candles, in its order) and say whether the "
            "backtest reproduces its fills; exit 1 if not.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Backtest a strategy on a candle file: metrics, trades and the equity curve."""
    if session is not None:
        _replay(session, db, config, profile, as_json)
        return
    with user_errors():
        if data and len(data) > 1 and (symbol or demo):
            fail("--symbol and --demo name one market: give them with a single --data file")
        files: list[Path | None] = list(data) if data else [None]
        requests = [data_request(path, format, tz, symbol, tf, fix, demo, time_column) for path in files]
        settings = load_config(config, profile)

        def run(journal: Journal | None = None, session_id: str = "") -> BacktestResult:
            return backtest_request(
                requests, strategy=strategy, htfs=htf_list(htf), start=start, end=end,
                settings=settings.engine, analysis=settings.analysis, journal=journal, session_id=session_id,
            )  # fmt: skip

        if db is None:
            result = run()
        else:
            written = {name: str(path) for name, path in (("trades", trades), ("report", report)) if path}
            recorded = recorded_backtest(db, [r.path for r in requests], strategy, settings, run, written)
            result = recorded.result
            typer.echo(f"stored as backtest run {recorded.run_id} (session {recorded.session_id})", err=True)
    print_notes(*requests)
    if trades is not None:
        _write_trades(result, trades)
    edge = _edge(result, settings.engine, baseline_seeds) if as_json or report is not None else None
    if report is not None and edge is not None:
        with user_errors():
            _write_report(result, strategy, report, edge)
    if as_json:
        document = backtest_json(result, edge)
        if len(result.by_symbol) > 1:
            document["by_symbol"] = {symbol: m.to_dict() for symbol, m in result.by_symbol.items()}
        typer.echo(json.dumps(document, separators=(",", ":")))
    else:
        _print(result)
    if report is not None:
        typer.echo(f"report: {report}", err=as_json)


def _replay(session_id: str, db: str | None, config: Path | None, profile: str | None, as_json: bool) -> None:
    with user_errors():
        settings = load_settings(config, profile=profile, overrides={"store": {"url": db}} if db else None)
        store = open_store(settings.store.url)
        try:
            replay = replay_session(store, session_id,
                                    AppConfig(settings.engine_settings(), settings.analysis_config()))  # fmt: skip
        finally:
            store.close()
    if as_json:
        typer.echo(json.dumps(replay.to_dict(), separators=(",", ":")))
    else:
        verdict = "reproduced exactly" if replay.reproduced else f"NOT reproduced: {replay.first_difference()}"
        typer.echo(f"session {session_id}: {replay.candles} candles after {replay.history} of history; its "
                   f"{len(replay.recorded)} fills {verdict}")  # fmt: skip
    if not replay.reproduced:
        raise typer.Exit(1)


def _write_trades(result: BacktestResult, path: Path) -> None:
    rows = backtest_json(result)["trades"]
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["id"])
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        fail(f"{path}: cannot write the trade log: {exc.strerror}")


def _edge(result: BacktestResult, settings: EngineSettings, seeds: int) -> EdgeTests:
    """The baseline and Monte Carlo tests, run in this process: for a few dozen seeds a pool of two
    spends more starting its workers than it saves (docs/user-guide.md has the timings)."""
    with user_errors():
        return edge_tests(result, settings, seeds=seeds)


def _write_report(result: BacktestResult, strategy: str, path: Path, edge: EdgeTests) -> Path:
    """The HTML report, with the random-entry baseline and the Monte Carlo drawdowns when there are trades."""
    candles = result.candles
    title = f"Backtest {candles.symbol} {candles.timeframe}, {strategy}"
    return write_html_report(
        path, candles=candles, result=result, title=title, zones=result.zones, edge=edge, strategy=strategy
    )


def _print(result: BacktestResult) -> None:
    console = Console()
    m = result.metrics.to_dict()
    table = Table(title="Backtest", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("trades", "win_rate", "profit_factor", "expectancy_r", "net_profit_pct", "cagr_pct", "sharpe",
                "sortino", "calmar", "max_drawdown_pct", "max_drawdown_days", "exposure_pct", "fees",
                "buy_and_hold_pct"):  # fmt: skip
        table.add_row(key, _cell(m.get(key)))
    console.print(table)
    if len(result.by_symbol) > 1:
        per = Table(title="By symbol (each on its own realised P&L)", title_justify="left")
        for column in ("symbol", "trades", "win_rate", "expectancy_r", "net_profit_pct", "max_drawdown_pct"):
            per.add_column(column, justify="left" if column == "symbol" else "right")
        for symbol, metrics in result.by_symbol.items():
            row = metrics.to_dict()
            per.add_row(symbol, *(_cell(row.get(k)) for k in ("trades", "win_rate", "expectancy_r", "net_profit_pct",
                                                                "max_drawdown_pct")))  # fmt: skip
        console.print(per)
    for symbol, market in result.costs.items():
        console.print(f"costs of {symbol}: {market.model.describe()} (type from the {market.origin})")
    if result.rejections:
        console.print(f"{len(result.rejections)} orders refused by the risk gate; first: {result.rejections[0].reason}")


def _cell(value: object) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
