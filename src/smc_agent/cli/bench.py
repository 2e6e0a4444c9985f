"""``smc-agent bench ...``: benchmarks that print figures (never pass/fail tests).

Each command imports its benchmark when it runs: together they pull in most of the package and its
heaviest libraries, and every other command (``run`` restarting after a crash above all) would pay
for that at start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.cli.common import fail, user_errors

__all__ = ["app"]

app = typer.Typer(help="Benchmarks: speed and memory figures.", no_args_is_help=True, add_completion=False)


@app.callback()
def bench() -> None:
    """Benchmarks that print medians; see docs/performance.md for recorded figures."""


@app.command("detect")
def detect_command(
    candles: Annotated[
        str, typer.Option("--candles", help="Candle count, or several separated by commas (e.g. 10000,100000).")
    ] = "1000000",
    data: Annotated[Path | None, typer.Option("--data", help="Real candles to tile (default: BTC-PERP 1m).")] = None,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed runs per figure; the median is shown.")] = 5,
    compare_smc: Annotated[
        bool, typer.Option("--compare-smc", help="Also time the smartmoneyconcepts package (slow: ~6 min at 1M).")
    ] = False,
    no_startup: Annotated[
        bool,
        typer.Option(
            "--no-startup",
            help="Skip the fresh-process figures (numba compile, cold and warm start): two full compiles, ~15-40 s.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time every detector, batch and streaming, on real candles mirror-tiled to N.

    Also counts the objects found, and (unless --no-startup) times a fresh process with an empty
    and a warm compile cache.
    """
    try:
        sizes = [int(part) for part in candles.split(",")]
    except ValueError:
        fail(f"--candles takes whole numbers separated by commas, got {candles!r}")
    if any(size < 1000 for size in sizes) or repeats < 1:
        fail("--candles must be at least 1000 and --repeats at least 1")
    with user_errors():
        from smc_agent.benchmarks.detect import detect_benchmark

        report = detect_benchmark(sizes, source=data, repeats=repeats, compare_smc=compare_smc, startup=not no_startup)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print(report)


def _print(report: dict[str, Any]) -> None:
    console = Console()
    console.print(f"source: {report['source']} (mirror-tiled)")
    summary = Table(title="All detectors", title_justify="left")
    for column in ("candles", "seconds_batch", "us_per_candle_stream (median)", "peak_rss_mb"):
        summary.add_column(column, justify="right")
    for run in report["runs"]:
        summary.add_row(
            f"{run['candles']:,}", f"{run['seconds_batch']:.3f}", f"{run['us_per_candle_stream']:.2f}",
            f"{run['peak_rss_mb']:.0f}",
        )  # fmt: skip
    console.print(summary)
    largest = report["runs"][-1]
    per = Table(title=f"Per detector at {largest['candles']:,} candles (with its dependencies)", title_justify="left")
    for column in ("detector", "seconds_batch", "us_per_candle_stream (median)"):
        per.add_column(column, justify="right")
    for name, figures in largest["detectors"].items():
        per.add_row(name, f"{figures['seconds_batch']:.3f}", f"{figures['us_per_candle_stream']:.2f}")
    console.print(per)
    objects = ", ".join(f"{name} {count:,}" for name, count in largest["objects"].items())
    console.print(f"objects found at {largest['candles']:,} candles: {objects}", soft_wrap=True)
    if "ratio_vs_reference" in largest:
        ref = largest["reference_smc"]
        console.print(
            f"smartmoneyconcepts: {ref['total']:.1f} s in all, {largest['ratio_vs_reference']:.0f}x our batch time"
        )
    if "compile_seconds" in report:
        console.print(
            f"numba compile (one-off): {report['compile_seconds']:.1f} s; fresh-process analyse of 2,000 candles: "
            f"{report['first_run_seconds']:.1f} s cold cache, {report['warm_start_seconds']:.1f} s warm"
        )


@app.command("signals")
def signals_command(
    data: Annotated[Path | None, typer.Option("--data", help="Real 15m candles to tile (default: EURUSD 15m).")] = None,
    repeats: Annotated[int, typer.Option("--repeats", help="Timed replays; the median is shown.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time a full multi-timeframe signal replay of 90 days of 15m candles, and one streaming update."""
    if repeats < 1:
        fail("--repeats must be at least 1")
    with user_errors():
        from smc_agent.benchmarks.signals_bench import signals_benchmark

        report = signals_benchmark(source=data, repeats=repeats)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    Console().print(
        f"{report['candles']:,} candles of 15m ({report['days']} days) with {', '.join(report['htfs'])}: "
        f"full analysis {report['seconds_full'] * 1000:.0f} ms (median), "
        f"streaming update {report['us_per_candle_stream']:.1f} us (median), "
        f"{report['signals']} signals, peak RSS {report['peak_rss_mb']:.0f} MB"
    )


@app.command("backtest")
def backtest_command(
    candles: Annotated[int, typer.Option("--candles", help="How many 1m candles to tile and backtest.")] = 1_000_000,
    data: Annotated[Path | None, typer.Option("--data", help="Real 1m candles to tile (default: BTC-PERP).")] = None,
    repeats: Annotated[int, typer.Option("--repeats", help="SMA runs per engine, alternating; medians are shown.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time the SMC strategy over N candles, and an SMA cross against backtesting.py on the same candles."""
    if candles < 5000:
        fail("--candles must be at least 5000")
    if repeats < 1:
        fail("--repeats must be at least 1")
    with user_errors():
        from smc_agent.benchmarks.backtest_bench import backtest_benchmark

        report = backtest_benchmark(candles, source=data, repeats=repeats)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    Console().print(
        f"{report['candles']:,} candles: SMC strategy {report['smc_seconds']:.1f} s ({report['smc_trades']} trades, "
        f"peak RSS {report['peak_rss_mb']:.0f} MB); SMA cross, median of {len(report['sma_seconds_runs'])}: "
        f"{report['sma_seconds']:.2f} s ({report['sma_trades']:,} trades) vs backtesting.py "
        f"{report['backtesting_py_seconds']:.2f} s ({report['backtesting_py_trades']:,} trades): "
        f"ratio_vs_backtesting_py {report['ratio_vs_backtesting_py']:.2f}"
    )


@app.command("store")
def store_command(
    events: Annotated[int, typer.Option("--events", help="Events journaled per round.")] = 20_000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="One database to time (default: a temporary SQLite file, and PostgreSQL on "
            "127.0.0.1 when it answers). It gets one new session per round.",
            show_default=False,
        ),
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", help="Timed rounds; the median is shown.")] = 5,
    backtest_repeats: Annotated[
        int, typer.Option("--backtest-repeats", help="Backtests in memory and with --db each (0: skip them).")
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Sustained journal rate (events/s) in realistic per-step batches; a backtest with --db against memory."""
    if events < 100 or rounds < 1 or backtest_repeats < 0:
        fail("--events must be at least 100, --rounds at least 1 and --backtest-repeats at least 0")
    with user_errors():
        from smc_agent.benchmarks.backtest_db_bench import backtest_db_benchmark
        from smc_agent.benchmarks.store_bench import store_benchmark

        report = store_benchmark(events, db=db, rounds=rounds)
        if backtest_repeats:
            report["backtest"] = backtest_db_benchmark(repeats=backtest_repeats)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    for result in report["results"]:
        console.print(f"{result['db']}: {result['events_per_second']:,.0f} events/s (median of {result['rounds']} "
                      f"rounds of {result['events']:,} events in {result['batches']:,} batches)",
                      soft_wrap=True, highlight=False, markup=False)  # fmt: skip
    for skipped in report["skipped"]:
        console.print(f"skipped {skipped}", soft_wrap=True, highlight=False, markup=False)
    if "backtest" in report:
        b = report["backtest"]
        console.print(f"backtest of {b['candles']:,} candles ({b['trades']} trades): in memory "
                      f"{b['seconds_memory']:.2f} s, with --db sqlite {b['seconds_db']:.2f} s "
                      f"({b['events']:,} events), medians of "
                      f"{len(b['db_runs'])}: ratio {b['ratio']:.2f}", soft_wrap=True, highlight=False)  # fmt: skip


@app.command("run")
def run_command(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """A paper session of 10 real markets x 3 timeframes into SQLite: candles/s, commit latency, peak RSS."""
    with user_errors():
        from smc_agent.benchmarks.run_bench import run_benchmark

        report = run_benchmark()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    console.print(f"{len(report['files'])} markets x {1 + len(report['htfs'])} timeframes, SQLite store:")
    for name in ("grouped", "per_candle"):
        p = report[name]
        console.print(
            f"  {name}: {p['candles']:,} candles in {p['seconds']:.1f} s = {p['candles_per_second']:,.0f} candles/s, "
            f"candle-to-commit latency p50 {p['latency_ms_p50']:.2f} ms, p99 {p['latency_ms_p99']:.2f} ms, "
            f"{p['events']:,} events, peak RSS {p['peak_rss_mb']:.0f} MB"
        )


@app.command("feed")
def feed_command(
    symbols: Annotated[str, typer.Option("--symbols", help="Symbol counts to measure, comma-separated.")] = "1,100",
    seconds: Annotated[float, typer.Option("--seconds", min=1, help="Streaming time per symbol count.")] = 20.0,
    speed: Annotated[float, typer.Option("--speed", min=0.1, help="Candles a second per symbol.")] = 2.0,
    gap: Annotated[int, typer.Option("--gap", min=1, help="Candles per symbol to catch up after a restart.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Live candles from a loopback Binance through feed, engine and store: latency and candles/s."""
    with user_errors():
        from smc_agent.benchmarks.feed_bench import feed_benchmark

        try:
            counts = tuple(int(part) for part in symbols.split(","))
        except ValueError:
            fail(f"--symbols takes counts such as 1,100, not {symbols!r}")
        if not counts or min(counts) < 1:
            fail("--symbols counts must be at least 1")
        report = feed_benchmark(counts, seconds=seconds, speed=speed, gap=gap)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    console.print(f"{report['file']} from a loopback Binance at {speed:g} candles/s per symbol, SQLite, a commit "
                  "per candle:", soft_wrap=True, highlight=False)  # fmt: skip
    table = Table()
    for column in ("symbols", "stream candles/s", "socket to commit p50 ms", "p99 ms", "with a signal or order p50",
                   "p99", "catch-up candles/s"):  # fmt: skip
        table.add_column(column, justify="right")
    for run in report["runs"]:
        lat, caused = run["latency"], run["latency_signal_or_order"]
        table.add_row(str(run["symbols"]), f"{run['stream_candles_per_second']:,.1f}", _ms(lat["p50_ms"]),
                      _ms(lat["p99_ms"]), _ms(caused["p50_ms"]), _ms(caused["p99_ms"]),
                      f"{run['catch_up_candles_per_second']:,.0f} ({run['catch_up_candles']:,} in "
                      f"{run['catch_up_seconds']:.1f} s)")  # fmt: skip
    console.print(table)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@app.command("api")
def api_command(
    clients: Annotated[int, typer.Option("--clients", min=1, help="Concurrent REST clients (keep-alive).")] = 100,
    requests: Annotated[
        int, typer.Option("--requests", min=1, help="REST requests per run, all clients together.")
    ] = 3000,
    interval: Annotated[
        float, typer.Option("--interval", min=0.001, help="Seconds between a paced client's requests.")
    ] = 1.0,
    subscribers: Annotated[int, typer.Option("--subscribers", min=1, help="WebSocket subscribers.")] = 100,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed REST runs; the median p99 is judged.")] = 3,
    data: Annotated[Path | None, typer.Option("--data", help="Real candles to trade (default: EURUSD 15m).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """REST latency under concurrent clients, and WebSocket fan-out latency during a full-speed replay (loopback)."""
    with user_errors():
        from smc_agent.benchmarks.api_bench import api_benchmark

        report = api_benchmark(clients=clients, requests=requests, subscribers=subscribers, runs=runs,
                               interval_s=interval, data=data)  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_api(report)


def _verdict(met: bool) -> str:
    return "goal met" if met else "goal MISSED"


def _print_api(report: dict[str, Any]) -> None:
    console = Console(highlight=False)
    rest, ws = report["rest"], report["websocket"]
    load = report["load_average_1m"]
    console.print(f"store: a paper session of {report['file']} ({report['symbol']} {report['timeframe']}), SQLite; "
                  f"{report['cores']} cores, 1-minute load {load['start']:.1f} at the start, {load['end']:.1f} at the "
                  "end", soft_wrap=True)  # fmt: skip
    title = (f"REST: {rest['clients']} clients, {rest['requests']:,} requests a run; runs 1-{len(rest['runs'])}: each "
             f"client every {rest['interval_s']:g} s; last: saturation, each again once answered")  # fmt: skip
    table = Table(title=title, title_justify="left")
    for column in ("run", "route", "p50 ms", "p90 ms", "p99 ms", "max ms", "requests/s", "errors"):
        table.add_column(column, justify="right")
    for number, run in enumerate([*rest["runs"], rest["saturation"]], 1):
        for name, figures in {**run["routes"], "all": run["overall"]}.items():
            rate = f"{run['requests_per_second']:,.0f}" if name == "all" else ""
            errors = str(run["errors"]) if name == "all" else ""
            table.add_row(str(number), name, *(_ms(figures[k]) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
                          rate, errors)  # fmt: skip
    console.print(table)
    done = ", ".join(f"{run['done']:,}" for run in rest["runs"])
    console.print(f"requests done within {rest['time_limit_s']:g} s: {done} of {rest['requests']:,}")
    console.print(f"REST p99, median of {len(rest['runs'])} paced runs: {rest['p99_ms_median']:.1f} ms "
                  f"(goal < {rest['goal_p99_ms']:g} ms, no errors): {_verdict(rest['goal_met'])}; at saturation "
                  f"{rest['saturation']['requests_per_second']:,.0f} requests/s, p99 "
                  f"{_ms(rest['saturation']['overall']['p99_ms'])} ms", soft_wrap=True)  # fmt: skip
    lat = ws["latency"]
    console.print(
        f"WebSocket: {ws['subscribers']} subscribers, {ws['candles']:,} candles replayed in {ws['replay_seconds']:.1f} "
        f"s, {ws['messages_per_subscriber']:,} messages each ({ws['deliveries']:,} deliveries), "
        f"{ws['complete_subscribers']} got every one in order; publish-to-receive p50 {_ms(lat['p50_ms'])} ms, "
        f"p99 {_ms(lat['p99_ms'])} ms, max {_ms(lat['max_ms'])} ms (goal p99 < {ws['goal_p99_ms']:g} ms): "
        f"{_verdict(ws['goal_met'])}",
        soft_wrap=True,
    )
    console.print(f"the replay alone took {ws['replay_alone']['seconds']:.1f} s; most messages waiting for one "
                  f"subscriber: {ws['largest_backlog']:,} (hub max_pending {ws['max_pending']:,})",
                  soft_wrap=True)  # fmt: skip
