"""The HTML backtest report on real backtests: offline, complete, byte-stable, and loud when it cannot write."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smc_agent.backtest.baseline import BASELINE_SEEDS, MONTE_CARLO_RUNS, edge_tests
from smc_agent.backtest.html_charts import plotly_js
from smc_agent.backtest.html_report import Zone, format_metric, write_html_report, zones_from_signals
from smc_agent.backtest.runner import BacktestResult, make_strategy, run_backtest
from smc_agent.backtest.significance import EdgeTests
from smc_agent.bootstrap import EngineSettings
from smc_agent.core.errors import ReportError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.strategy.smc import SmcStrategy

BTC = "crypto/BTC-PERP_1m_2022-01.csv"
EURUSD = "forex/EURUSD_15m_mt5.csv"
SETTINGS = EngineSettings()
# A script, stylesheet, frame or import that names a location is a network fetch when the page opens.
REMOTE = re.compile(r"<(script|link|iframe|img)\b[^>]*\b(src|href)\s*=|@import|url\(\s*['\"]?https?:", re.I)


@dataclass(frozen=True)
class Run:
    candles: Candles
    result: BacktestResult
    edge: EdgeTests


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Run:
    """SMA cross on 5,000 one-minute BTC-PERP candles: a dozen trades with stops, all candles charted."""
    candles = load_candles(shared_data_path(BTC))[:5000]
    result = run_backtest(candles, make_strategy("sma_cross", candles, []))
    assert len(result.trades) >= 5, "a report with no trades would test little"
    return Run(candles, result, edge_tests(result, SETTINGS))


@pytest.fixture(scope="module")
def eurusd(shared_data_path: Callable[[str], Path]) -> tuple[Run, SmcStrategy]:
    """The SMC strategy over the whole EURUSD 15m file: SMC trades with zones, more candles than the chart shows."""
    candles = load_candles(shared_data_path(EURUSD))
    strategy = make_strategy("smc", candles, ["1h", "4h", "1d"])
    assert isinstance(strategy, SmcStrategy)
    result = run_backtest(candles, strategy)
    assert result.trades, "the real file has SMC trades; an empty list would test nothing"
    return Run(candles, result, EdgeTests(None, None)), strategy


def _write(run: Run, path: Path, **extra: Any) -> str:
    write_html_report(
        path,
        candles=run.candles,
        result=run.result,
        title="BTC-PERP 1m <sma>",
        edge=run.edge,
        strategy="sma_cross",
        **extra,
    )
    return path.read_text(encoding="utf-8")


def test_report_is_one_offline_file_with_plotly_embedded(btc: Run, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    page = _write(btc, path)
    assert path.is_file()
    assert REMOTE.search(page) is None
    assert page.count("<script") == page.count("</script>")
    assert plotly_js() in page, "the whole plotly.js bundle is inside the page"
    assert page.count("plotly.js v") >= 1
    for div in ("price-chart", "equity-chart", "baseline-chart", "monte-carlo-chart"):
        assert f'id="{div}"' in page
    assert "&lt;sma&gt;" in page, "the title is escaped"
    assert "<sma>" not in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"], "no temporary file is left behind"


def test_report_names_the_run_and_every_trade(btc: Run, tmp_path: Path) -> None:
    page = _write(btc, tmp_path / "r.html")
    for fact in ("BTC-PERP", "1m", "sma_cross", "2021-12-31 23:01:00 UTC", f"{len(btc.candles):,}"):
        assert fact in page
    # Which cost model the symbol paid, and why: a perpetual, by its name.
    assert ("<dt>costs of BTC-PERP</dt><dd>crypto_perp: maker 2 bps, taker 5 bps of the notional "
            "(type from the symbol name)</dd>") in page  # fmt: skip
    for trade in btc.result.trades:
        assert html.escape(trade.id) in page
        assert f"{float(trade.r_multiple):.3f}" in page
    assert f"All {len(btc.candles):,} candles are shown." in page


def test_every_scalar_metric_and_breakdown_appears_formatted(btc: Run, tmp_path: Path) -> None:
    page = _write(btc, tmp_path / "r.html")
    values = btc.result.metrics.to_dict()
    scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
    assert "trades" in scalars
    assert "win_rate" in scalars
    for key, value in scalars.items():
        assert f'<td class="n">{html.escape(format_metric(key, value))}</td>' in page, key
    win_rate = values["win_rate"]
    assert isinstance(win_rate, float)
    assert f"{win_rate * 100:.2f}%" in page
    for key, heading in (("by_setup", "setup"), ("by_side", "side"), ("by_session", "session")):
        assert f"<h3>By {heading}</h3>" in page
        group = values[key]
        assert isinstance(group, dict)
        assert group
        for name, stats in group.items():
            assert isinstance(stats, dict)
            assert f"<td>{html.escape(name)}</td>" in page
            assert format_metric("net_pnl", stats["net_pnl"]) in page


def test_the_edge_section_states_the_counts_and_the_p_value(btc: Run, tmp_path: Path) -> None:
    baseline, monte_carlo = btc.edge.baseline, btc.edge.monte_carlo
    assert baseline is not None
    assert monte_carlo is not None
    assert baseline.seeds == BASELINE_SEEDS == 50
    assert monte_carlo.drawdowns_pct.size == MONTE_CARLO_RUNS == 1000
    page = _write(btc, tmp_path / "r.html")
    assert "Is the edge real?" in page
    assert "run through the same engine (fills, slippage, fees, risk gate) 50 times (seeds 0 to 49)" in page
    low, high = int(baseline.trades.min()), int(baseline.trades.max())
    closed = f"{low:,}" if low == high else f"{low:,} to {high:,}"
    assert f"each random run closed {closed} trades" in page
    assert f"p = {baseline.p_value:.3f}" in page
    assert f"{baseline.percentile:.1f}%" in page
    assert "1,000 random orders" in page
    for value in (monte_carlo.p5, monte_carlo.p50, monte_carlo.p95):
        assert f"{value:.2f}%" in page


def test_without_significance_the_page_says_so(btc: Run, tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    write_html_report(path, candles=btc.candles, result=btc.result, title="t")
    page = path.read_text(encoding="utf-8")
    assert "No random-entry baseline was given." in page
    assert "No Monte Carlo reshuffle" in page
    assert 'id="baseline-chart"' not in page
    write_html_report(path, candles=btc.candles, result=btc.result, title="t",
                      edge=EdgeTests(None, btc.edge.monte_carlo, "it was turned off (0 seeds)"))  # fmt: skip
    assert "No random-entry baseline: it was turned off (0 seeds)." in path.read_text(encoding="utf-8")


def test_a_backtest_without_trades_still_gives_a_page(btc: Run, tmp_path: Path) -> None:
    candles = btc.candles[:30]
    result = run_backtest(candles, make_strategy("sma_cross", candles, []))
    assert not result.trades
    edge = edge_tests(result, SETTINGS)
    assert (edge.baseline, edge.monte_carlo) == (None, None)
    path = write_html_report(tmp_path / "empty.html", candles=candles, result=result, title="empty")
    page = path.read_text(encoding="utf-8")
    assert "No closed trades." in page
    assert "no trades" in page
    assert f'<td class="n">{format_metric("win_rate", None)}</td>' in page


def test_the_same_input_gives_a_byte_identical_file(btc: Run, tmp_path: Path) -> None:
    first = tmp_path / "a.html"
    _write(btc, first)
    again = Run(btc.candles, btc.result, edge_tests(btc.result, SETTINGS))
    second = tmp_path / "b.html"
    _write(again, second)
    assert first.read_bytes() == second.read_bytes()
    _write(btc, first)  # over an existing report
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("where", ["missing/out.html", "file.txt/out.html"])
def test_an_unwritable_place_raises_report_error_naming_the_file(btc: Run, tmp_path: Path, where: str) -> None:
    (tmp_path / "file.txt").write_text("a regular file, so nothing can be created under it")
    target = tmp_path / where
    with pytest.raises(ReportError) as caught:
        write_html_report(target, candles=btc.candles, result=btc.result, title="t")
    assert caught.value.path == str(target)
    assert str(target) in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_smc_zones_come_from_the_signal_engine_and_are_drawn(eurusd: tuple[Run, SmcStrategy], tmp_path: Path) -> None:
    run, strategy = eurusd
    zones = zones_from_signals(strategy.signals)
    assert set(zones) == {s.id for s in strategy.signals.signals}
    for trade in run.result.trades:
        zone = zones[trade.id]
        assert isinstance(zone, Zone)
        assert zone.bottom < zone.top
        assert zone.start_ms < zone.end_ms <= trade.entry_ms, "from the zone's formation to the entry"
        assert zone.bottom <= float(trade.entry_price) <= zone.top, "a limit entry at the zone's edge"
    path = tmp_path / "smc.html"
    write_html_report(path, candles=run.candles, result=run.result, title="EURUSD", zones=zones, strategy="smc")
    page = path.read_text(encoding="utf-8")
    n = len(run.result.trades)
    assert f"{n:,} of {n:,} trades have the zone" in page
    assert '"name":"buy zone"' in page or '"name":"sell zone"' in page
    assert len(run.candles) > 20_000
    assert f"The {len(run.candles):,} candles are merged 2 at a time" in page


def test_zones_accept_plain_tuples(btc: Run, tmp_path: Path) -> None:
    trade = btc.result.trades[0]
    top = float(trade.entry_price) * 1.001
    zones = {trade.id: (top, float(trade.entry_price), trade.entry_ms - 600_000, trade.entry_ms)}
    page = _write(btc, tmp_path / "r.html", zones=zones)
    assert f"1 of {len(btc.result.trades):,} trades have the zone" in page


def test_cli_report_option_writes_the_page(shared_data_path: Callable[[str], Path], tmp_path: Path) -> None:
    from smc_agent.cli import app

    out = tmp_path / "cli.html"
    args = ["backtest", "--data", str(shared_data_path(BTC)), "--strategy", "sma_cross", "--to", "2022-01-04"]
    result = CliRunner().invoke(app, [*args, "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert "2021-12-31 23:01:00 UTC to 2022-01-04 00:00:00 UTC" in page
    assert "50 times (seeds 0 to 49)" in page
    assert "1,000 random orders" in page
    assert REMOTE.search(page) is None


def test_cli_report_error_is_one_line_and_exit_2(shared_data_path: Callable[[str], Path], tmp_path: Path) -> None:
    from smc_agent.cli import app

    target = tmp_path / "missing" / "cli.html"
    args = ["backtest", "--data", str(shared_data_path(BTC)), "--strategy", "sma_cross", "--to", "2022-01-02"]
    result = CliRunner().invoke(app, [*args, "--report", str(target)])
    assert result.exit_code == 2
    assert str(target) in result.stderr
    assert "Traceback" not in result.stderr


def test_format_metric_handles_decimals() -> None:
    assert format_metric("net_pnl", Decimal("-1234.5")) == "-1,234.50"
    assert format_metric("max_drawdown_days", 12.345) == "12.3"
