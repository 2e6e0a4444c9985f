"""The charts of the HTML backtest report, as plain dicts, and the one place that calls plotly.

Every chart is built as a plotly figure *specification* (lists of trace dicts and a layout dict)
by ordinary typed code, and only :func:`figure_html` and :func:`plotly_js` touch plotly itself.
plotly ships no type information, so keeping it behind these two functions keeps the rest of
the report checked by mypy, and makes a change of plotting library a change to one module.

Times are epoch milliseconds on ``date`` axes (plotly reads numbers there as UTC milliseconds),
and long series go to plotly as NumPy arrays, which it embeds as compact base64 typed arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.offline

from smc_agent.backtest.significance import Baseline, MonteCarlo
from smc_agent.backtest.trades import EquityPoint, Trade, as_curve
from smc_agent.data.candles import Candles, FloatArray
from smc_agent.model.enums import Side

__all__ = [
    "MAX_CHART_POINTS",
    "Chart",
    "baseline_chart",
    "equity_chart",
    "figure_html",
    "monte_carlo_chart",
    "plotly_js",
    "price_chart",
]

# Enough detail to zoom into weeks of 15m candles, small enough to keep the file near 5 MB.
MAX_CHART_POINTS = 20_000

_GREEN, _RED, _GREY, _BLUE = "#26a69a", "#ef5350", "#555555", "#1f77b4"
_HEIGHT = {"price": 620, "equity": 520, "edge": 360}


@dataclass(frozen=True, slots=True)
class Chart:
    """A figure specification and the element id it gets in the page (fixed, so output is stable)."""

    div_id: str
    data: list[dict[str, Any]]
    layout: dict[str, Any]


def figure_html(chart: Chart) -> str:
    """The ``<div>`` and ``<script>`` of one chart; plotly.js must already be on the page."""
    figure = go.Figure(data=chart.data, layout=chart.layout)
    config = {"displaylogo": False, "responsive": True}
    html = figure.to_html(full_html=False, include_plotlyjs=False, div_id=chart.div_id, config=config)
    return str(html)


def plotly_js() -> str:
    """The whole plotly.js bundle, to embed in the page so that it works offline."""
    return str(plotly.offline.get_plotlyjs())


def _bucket_starts(n: int, limit: int) -> tuple[np.ndarray[Any, np.dtype[np.intp]], int]:
    step = max(1, math.ceil(n / limit))
    return np.arange(0, n, step, dtype=np.intp), step


def price_chart(
    candles: Candles, trades: Sequence[Trade], zones: Mapping[str, tuple[float, float, int, int]]
) -> tuple[Chart, int]:
    """Candlesticks with each trade's entry, exit and zone; also how many candles were merged per bar.

    Above :data:`MAX_CHART_POINTS` candles, runs of ``step`` consecutive candles are merged into
    one bar (first open, highest high, lowest low, last close) so the file stays small; the trade
    markers and zones keep their exact times and prices.
    """
    starts, step = _bucket_starts(len(candles), MAX_CHART_POINTS)
    ends = np.append(starts[1:], len(candles)) - 1
    data: list[dict[str, Any]] = [
        {
            "type": "candlestick", "name": candles.symbol or "price",
            "x": candles.time[starts].astype(np.float64), "open": candles.open[starts],
            "high": np.maximum.reduceat(candles.high, starts), "low": np.minimum.reduceat(candles.low, starts),
            "close": candles.close[ends],
            "increasing": {"line": {"color": _GREEN}}, "decreasing": {"line": {"color": _RED}},
        }
    ]  # fmt: skip
    for side, color in ((Side.BUY, _GREEN), (Side.SELL, _RED)):
        data.extend(_zone_trace(side, color, [t for t in trades if t.side is side], zones))
    for side, symbol, color in ((Side.BUY, "triangle-up", _GREEN), (Side.SELL, "triangle-down", _RED)):
        if chosen := [t for t in trades if t.side is side]:
            data.append(_markers(f"{side.value} entry", chosen, symbol, color, exit_=False))
    if trades:
        data += [_markers("exit", list(trades), "x", _GREY, exit_=True), _paths(trades)]
    layout = _layout("price", yaxis={"title": {"text": "price"}})
    layout["xaxis"]["rangeslider"] = {"visible": False}
    return Chart("price-chart", data, layout), step


def _hover(t: Trade) -> str:
    return (
        f"<b>{t.id}</b><br>{t.side.value} {t.setup} ({t.session})<br>"
        f"entry {float(t.entry_price):.10g}, exit {float(t.exit_price):.10g}<br>"
        f"R {float(t.r_multiple):.3f}, pnl {float(t.pnl):,.2f}"
    )


def _markers(name: str, trades: Sequence[Trade], symbol: str, color: str, *, exit_: bool) -> dict[str, Any]:
    return {
        "type": "scatter", "mode": "markers", "name": name,
        "x": [t.exit_ms if exit_ else t.entry_ms for t in trades],
        "y": [float(t.exit_price if exit_ else t.entry_price) for t in trades],
        "hovertext": [_hover(t) for t in trades], "hoverinfo": "text",
        "marker": {"symbol": symbol, "size": 11 if not exit_ else 9, "color": color,
                   "line": {"width": 1, "color": "#222222"}},
    }  # fmt: skip


def _paths(trades: Sequence[Trade]) -> dict[str, Any]:
    """A dotted line from each entry to its exit, so the eye can pair them."""
    x: list[int | None] = []
    y: list[float | None] = []
    for t in trades:
        x += [t.entry_ms, t.exit_ms, None]
        y += [float(t.entry_price), float(t.exit_price), None]
    return {"type": "scatter", "mode": "lines", "name": "trade", "x": x, "y": y, "hoverinfo": "skip",
            "line": {"color": _GREY, "width": 1, "dash": "dot"}, "showlegend": False}  # fmt: skip


def _zone_trace(
    side: Side, color: str, trades: Sequence[Trade], zones: Mapping[str, tuple[float, float, int, int]]
) -> list[dict[str, Any]]:
    """All zones of one side as one filled trace of rectangles (cheaper than a layout shape each)."""
    x: list[int | None] = []
    y: list[float | None] = []
    for t in trades:
        if t.id not in zones:
            continue
        top, bottom, start, end = zones[t.id]
        x += [start, start, end, end, start, None]
        y += [bottom, top, top, bottom, bottom, None]
    if not x:
        return []
    return [{"type": "scatter", "mode": "lines", "fill": "toself", "name": f"{side.value} zone", "x": x, "y": y,
             "line": {"color": color, "width": 1}, "opacity": 0.35, "hoverinfo": "skip"}]  # fmt: skip


def equity_chart(equity: Sequence[EquityPoint]) -> tuple[Chart, int]:
    """Equity above, drawdown from the running peak (percent) below; also the points merged per bar.

    The drawdown is computed at full resolution first; a merged bar shows the deepest drawdown and
    the last equity of its run, so thinning never hides the worst moment.
    """
    curve = as_curve(equity)
    times = np.array(curve.times, dtype=np.float64)
    values = curve.floats()
    peak = np.maximum.accumulate(values) if values.size else values
    drawdown = np.where(peak > 0, (values / np.where(peak > 0, peak, 1.0) - 1.0) * 100.0, 0.0)
    starts, step = _bucket_starts(values.size, MAX_CHART_POINTS)
    ends = np.append(starts[1:], values.size) - 1 if values.size else starts
    deepest: FloatArray = np.minimum.reduceat(drawdown, starts) if values.size else drawdown
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": "equity", "x": times[ends], "y": values[ends],
         "line": {"color": _BLUE, "width": 1.5}, "xaxis": "x", "yaxis": "y"},
        {"type": "scatter", "mode": "lines", "name": "drawdown %", "x": times[ends], "y": deepest,
         "fill": "tozeroy", "line": {"color": _RED, "width": 1}, "xaxis": "x2", "yaxis": "y2"},
    ]  # fmt: skip
    layout = _layout("equity", yaxis={"domain": [0.34, 1.0], "title": {"text": "equity"}})
    layout["xaxis"].update(anchor="y", showticklabels=False)
    layout["xaxis2"] = {"type": "date", "matches": "x", "anchor": "y2"}
    layout["yaxis2"] = {"domain": [0.0, 0.28], "title": {"text": "drawdown %"}}
    return Chart("equity-chart", data, layout), step


def baseline_chart(baseline: Baseline) -> Chart:
    """Histogram of the random runs' total R, with the strategy's total as a vertical line."""
    data = [{"type": "histogram", "x": baseline.total_r, "nbinsx": 40, "name": "random entries",
             "marker": {"color": "#9e9e9e"}}]  # fmt: skip
    return Chart("baseline-chart", data, _marked("total R", baseline.strategy_total_r, " R"))


def monte_carlo_chart(monte_carlo: MonteCarlo) -> Chart:
    """Histogram of the reshuffled maximum drawdowns, with the strategy's own drawdown marked."""
    data = [{"type": "histogram", "x": monte_carlo.drawdowns_pct, "nbinsx": 40, "name": "reshuffled orders",
             "marker": {"color": "#9e9e9e"}}]  # fmt: skip
    return Chart("monte-carlo-chart", data, _marked("max drawdown %", monte_carlo.strategy_drawdown_pct, "%"))


def _marked(x_title: str, value: float, unit: str) -> dict[str, Any]:
    """A histogram layout with the strategy's own value as a labelled vertical line."""
    layout = _layout("edge", yaxis={"title": {"text": "runs"}})
    layout["xaxis"] = {"title": {"text": x_title}}
    layout["showlegend"] = False
    layout["shapes"] = [{"type": "line", "x0": value, "x1": value, "yref": "paper", "y0": 0, "y1": 1,
                         "line": {"color": _RED, "width": 2}}]  # fmt: skip
    layout["annotations"] = [{"x": value, "yref": "paper", "y": 1.0, "text": f"strategy: {value:.3g}{unit}",
                              "showarrow": False, "yanchor": "bottom", "font": {"color": _RED}}]  # fmt: skip
    return layout


def _layout(kind: str, *, yaxis: dict[str, Any]) -> dict[str, Any]:
    return {
        "template": "plotly_white", "height": _HEIGHT[kind], "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
        "hovermode": "closest", "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "xaxis": {"type": "date"}, "yaxis": yaxis,
    }  # fmt: skip
