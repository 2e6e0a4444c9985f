"""One self-contained HTML file per backtest: the numbers, the curves, the trades on the chart, and
whether the edge is real.

Why one file with plotly.js inside it (about 5 MB) rather than a page that loads its script from a
CDN: a report is mailed, archived and opened months later, often on a machine without network
access, and a CDN page is blank in all three cases. Nothing in the page fetches anything.

Why deterministic: the same backtest gives a byte-identical file (no generation time, fixed chart
element ids), so a report can be diffed, cached or kept as a golden file in a test.

The page holds: the run (symbol, timeframe, period, strategy); every scalar of
:meth:`~smc_agent.backtest.metrics.Metrics.to_dict` and the breakdowns by setup, side and session;
the equity and drawdown curves; candlesticks with each trade's entry, exit and, for SMC signals, the
zone that triggered it (:func:`zones_from_signals`); the trade list; and, when given, the
random-entry baseline and the Monte Carlo drawdowns (:func:`smc_agent.backtest.baseline.edge_tests`
computes both with the CLI's defaults).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from smc_agent.analysis.report_log import atomic_write
from smc_agent.backtest.html_charts import (
    MAX_CHART_POINTS,
    baseline_chart,
    equity_chart,
    figure_html,
    monte_carlo_chart,
    plotly_js,
    price_chart,
)
from smc_agent.backtest.runner import BacktestResult
from smc_agent.backtest.significance import Baseline, EdgeTests, MonteCarlo
from smc_agent.backtest.trades import Trade
from smc_agent.backtest.zones import Zone, zones_from_signals
from smc_agent.core.errors import ReportError
from smc_agent.core.timefmt import format_time
from smc_agent.data.candles import Candles

__all__ = ["MAX_CHART_POINTS", "Zone", "format_metric", "write_html_report", "zones_from_signals"]


def format_metric(name: str, value: object) -> str:
    """A metric as the page prints it: by its name's unit, ``n/a`` for a metric without meaning.

    >>> format_metric("win_rate", 0.5), format_metric("net_profit_pct", 3.14159), format_metric("sharpe", None)
    ('50.00%', '3.14%', 'n/a')
    >>> format_metric("expectancy_r", -0.25), format_metric("net_profit", 12345.6), format_metric("trades", 1200)
    ('-0.250', '12,345.60', '1,200')
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value)
    if name == "win_rate":
        return f"{number * 100:.2f}%"
    if name.endswith("_pct"):
        return f"{number:.2f}%"
    if name.endswith("_r"):
        return f"{number:.3f}"
    if name.endswith("_days"):
        return f"{number:,.1f}"
    return f"{number:,.2f}"


def write_html_report(
    path: Path,
    *,
    candles: Candles,
    result: BacktestResult,
    title: str,
    zones: Mapping[str, tuple[float, float, int, int]] | None = None,
    edge: EdgeTests | None = None,
    strategy: str | None = None,
) -> Path:
    """Write the report for ``result`` on ``candles`` to ``path`` and return the path.

    ``zones`` maps trade ids to ``(top, bottom, start_ms, end_ms)`` (see :func:`zones_from_signals`).
    The file is written to a temporary file beside it and renamed into place, so it is never half
    written. A directory that is missing or not writable raises :class:`ReportError` naming the file.
    """
    page = _page(candles, result, title, zones or {}, edge or EdgeTests(None, None), strategy)
    try:
        atomic_write(path, lambda handle: handle.write(page.encode("utf-8")))
    except OSError as exc:
        raise ReportError(
            f"cannot write the HTML report: {exc.strerror or exc}; check that the directory exists and is writable",
            path=str(path),
        ) from None
    return path


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1280px;
padding:0 16px;color:#222}h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 10px;font-size:14px}
th{background:#f5f5f5;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:14px}.grid{display:flex;flex-wrap:wrap;gap:32px;align-items:flex-start}
.scroll{max-height:480px;overflow:auto}dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}
dt{font-weight:600}dd{margin:0}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    """An HTML table; cells are escaped here, columns from ``numeric_from`` on are right-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{_e(c)}</td>' if i >= numeric_from else f"<td>{_e(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _label(key: str) -> str:
    for suffix, unit in (("_pct", " %"), ("_r", " (R)"), ("_days", " (days)")):
        if key.endswith(suffix):
            return key[: -len(suffix)].replace("_", " ") + unit
    return key.replace("_", " ")


def _page(
    candles: Candles,
    result: BacktestResult,
    title: str,
    zones: Mapping[str, tuple[float, float, int, int]],
    edge: EdgeTests,
    strategy: str | None,
) -> str:
    sections = [
        _header(candles, result, title, strategy),
        _metrics(result),
        _equity(result),
        _price(candles, result.trades, zones),
        _trades(result.trades),
        _edge(edge, len(result.trades)),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{_e(title)}</title>\n'
        f"<style>{_CSS}</style>\n"
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
        f'<script charset="utf-8">{plotly_js()}</script>\n</head>\n<body>\n'
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def _header(candles: Candles, result: BacktestResult, title: str, strategy: str | None) -> str:
    if len(candles):
        period = f"{format_time(int(candles.time[0]))} to {format_time(int(candles.time[-1]) + candles.timeframe_ms)}"
    else:
        period = "n/a"
    facts = [
        ("symbol", candles.symbol or "n/a"),
        ("timeframe", candles.timeframe or "n/a"),
        ("period", period),
        ("candles", f"{len(candles):,}"),
        ("strategy", strategy or "n/a"),
        ("trades", f"{len(result.trades):,}"),
        *(
            (f"costs of {symbol}", f"{m.model.describe()} (type from the {m.origin})")
            for symbol, m in result.costs.items()
        ),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    refused = ""
    if result.rejections:
        layers = Counter(r.layer for r in result.rejections)
        by_layer = ", ".join(f"{_e(layer)} {count:,}" for layer, count in sorted(layers.items()))
        refused = (
            f'<p class="note">{len(result.rejections):,} orders refused by the risk gate (by layer: {by_layer}); '
            f"the first: {_e(result.rejections[0].reason)}</p>"
        )
    return f"<h1>{_e(title)}</h1>\n<dl>{items}</dl>\n{refused}"


def _metrics(result: BacktestResult) -> str:
    values = result.metrics.to_dict()
    scalars = [(_label(k), format_metric(k, v)) for k, v in values.items() if not isinstance(v, dict)]
    half = (len(scalars) + 1) // 2
    parts = [f"<h2>Metrics</h2>\n<div class=\"grid\">{_table(['metric', 'value'], scalars[:half])}"
             f"{_table(['metric', 'value'], scalars[half:])}</div>"]  # fmt: skip
    columns = ["trades", "win_rate", "expectancy_r", "net_pnl"]
    groups = []
    for key, heading in (("by_setup", "setup"), ("by_side", "side"), ("by_session", "session")):
        group = values[key]
        assert isinstance(group, dict)
        rows = [[name, *(format_metric(c, stats[c]) for c in columns)]
                for name, stats in group.items() if isinstance(stats, dict)]  # fmt: skip
        body = _table([heading, *(_label(c) for c in columns)], rows) if rows else '<p class="note">no trades</p>'
        groups.append(f"<div><h3>By {heading}</h3>{body}</div>")
    parts.append(f'<div class="grid">{"".join(groups)}</div>')
    return "\n".join(parts)


def _equity(result: BacktestResult) -> str:
    if not result.equity:
        return '<h2>Equity and drawdown</h2>\n<p class="note">No equity points were recorded.</p>'
    chart, step = equity_chart(result.equity)
    note = (
        f" The {len(result.equity):,} points (one per candle close) are thinned to one in {step} for the"
        " chart; each point shows the deepest drawdown of the run it stands for."
        if step > 1
        else ""
    )
    return (
        "<h2>Equity and drawdown</h2>\n"
        f'<p class="note">Equity (balance plus open profit) at each candle close; drawdown from the running '
        f"peak, in percent.{note}</p>\n{figure_html(chart)}"
    )


def _price(candles: Candles, trades: Sequence[Trade], zones: Mapping[str, tuple[float, float, int, int]]) -> str:
    if not len(candles):
        return '<h2>Price and trades</h2>\n<p class="note">No candles.</p>'
    chart, step = price_chart(candles, trades, zones)
    shown = -(-len(candles) // step)
    if step > 1:
        size = (
            f"The {len(candles):,} candles are merged {step} at a time into {shown:,} bars for the chart (at most "
            f"{MAX_CHART_POINTS:,}, to keep the file small); the trade markers and zones are at their exact "
            "times and prices."
        )
    else:
        size = f"All {len(candles):,} candles are shown."
    drawn = sum(1 for t in trades if t.id in zones)
    return (
        "<h2>Price and trades</h2>\n"
        f'<p class="note">{size} Triangles mark entries (up: buy, down: sell), crosses the exits; hover for the '
        f"trade. {drawn:,} of {len(trades):,} trades have the zone that triggered them drawn, from its formation "
        f"to the entry.</p>\n{figure_html(chart)}"
    )


def _trades(trades: Sequence[Trade]) -> str:
    if not trades:
        return '<h2>Trades</h2>\n<p class="note">No closed trades.</p>'
    header = ["id", "side", "setup", "session", "entry time", "exit time", "entry", "exit", "quantity", "R", "pnl",
              "fees"]  # fmt: skip
    rows = [
        [t.id, t.side.value, t.setup, t.session, format_time(t.entry_ms), format_time(t.exit_ms),
         f"{float(t.entry_price):.10g}", f"{float(t.exit_price):.10g}", f"{float(t.quantity):.10g}",
         f"{float(t.r_multiple):.3f}", f"{float(t.pnl):,.2f}", f"{float(t.fees):,.2f}"]
        for t in trades
    ]  # fmt: skip
    return f'<h2>Trades</h2>\n<div class="scroll">{_table(header, rows, numeric_from=6)}</div>'


def _edge(edge: EdgeTests, trades: int) -> str:
    parts = ["<h2>Is the edge real?</h2>"]
    if edge.baseline is None:
        why = f": {edge.baseline_skipped}" if edge.baseline_skipped else " was given"
        parts.append(f'<p class="note">No random-entry baseline{_e(why)}.</p>')
    else:
        parts.append(_baseline(edge.baseline, trades))
    if edge.monte_carlo is None:
        parts.append('<p class="note">No Monte Carlo reshuffle: it needs at least one closed trade.</p>')
    else:
        parts.append(_monte_carlo(edge.monte_carlo))
    return "\n".join(parts)


def _baseline(baseline: Baseline, trades: int) -> str:
    random_r = baseline.to_dict()["random_total_r"]
    assert isinstance(random_r, dict)
    summary = [(label, random_r[key]) for key, label in (("min", "minimum"), ("p25", "25th percentile"),
               ("p50", "median"), ("p75", "75th percentile"), ("max", "maximum"), ("mean", "mean"))]  # fmt: skip
    counts = sorted({int(baseline.trades.min()), int(baseline.trades.max())})
    closed = " to ".join(f"{n:,}" for n in counts)
    return (
        f"<h3>Random entries</h3>\n<p>The strategy's {trades:,} trade plans (side, stop and target distances) "
        f"were entered at random candles and run through the same engine (fills, slippage, fees, risk gate) "
        f"{baseline.seeds:,} times (seeds {baseline.seed0} to {baseline.seed0 + baseline.seeds - 1}); each random "
        f"run closed {closed} trades. The strategy's total of <b>{baseline.strategy_total_r:.2f} R</b> is above "
        f"<b>{baseline.percentile:.1f}%</b> of the random runs; <b>p = {baseline.p_value:.3f}</b> (the share of "
        "random runs that did at least as well). A small p (below 0.05, say) is evidence that the entries add "
        "something over the market and the trade management; a large one means random entries did as well.</p>\n"
        + _table(["random total R", "value"], [[k, f"{v:.2f}"] for k, v in summary])
        + figure_html(baseline_chart(baseline))
    )


def _monte_carlo(mc: MonteCarlo) -> str:
    rows = [
        ["strategy (exit order)", f"{mc.strategy_drawdown_pct:.2f}%"],
        ["5th percentile", f"{mc.p5:.2f}%"],
        ["median", f"{mc.p50:.2f}%"],
        ["95th percentile", f"{mc.p95:.2f}%"],
        ["runs worse than the strategy", f"{mc.prob_exceeds * 100:.1f}%"],
    ]
    return (
        f"<h3>Monte Carlo drawdowns</h3>\n<p>The same trades in {mc.drawdowns_pct.size:,} random orders "
        f"(seed {mc.seed}) give the same profit but other equity paths; their maximum drawdowns (trade by "
        "trade, in percent of the running peak) say how much of the backtest's drawdown was luck.</p>\n"
        + _table(["maximum drawdown", "value"], rows)
        + figure_html(monte_carlo_chart(mc))
    )
