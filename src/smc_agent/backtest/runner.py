"""Run a strategy over candles through the trading core and measure the result.

The backtest is the paper/live kernel fed by a replay: :func:`run_backtest` builds a system with
:func:`smc_agent.bootstrap.build`, records trades and equity from the events, and computes the
metrics. The ``--json`` document (``{"metrics", "trades", "equity"}``) is stable and documented in
docs/api.md; the same input always gives byte-identical output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.backtest.metrics import Metrics, compute_metrics
from smc_agent.backtest.recorder import Recorder, SessionNamer
from smc_agent.backtest.trades import EquityCurve, Trade
from smc_agent.backtest.zones import Zone, zones_from_signals
from smc_agent.bootstrap import UNNAMED, EngineSettings, Mode, build
from smc_agent.core.errors import ConfigError
from smc_agent.core.events import RiskRejected
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import Strategy
from smc_agent.strategy.sma_cross import SmaCross
from smc_agent.strategy.smc import SmcStrategy

__all__ = ["BacktestResult", "backtest_json", "make_strategy", "run_backtest"]

STRATEGIES = ("smc", "sma_cross")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    metrics: Metrics
    trades: list[Trade]
    equity: EquityCurve
    rejections: list[RiskRejected]
    candles: Candles  # what was traded
    zones: dict[str, Zone]  # the zone behind each SMC trade, by trade id (empty for other strategies)


def make_strategy(
    name: str, candles: Candles, htfs: Sequence[str], *, tz: str | None = None, analysis: AnalysisConfig | None = None
) -> Strategy:
    if name == "smc":
        return SmcStrategy(candles.symbol or UNNAMED, candles.timeframe, htfs, analysis, tz=tz)
    if name == "sma_cross":
        return SmaCross(candles.symbol or UNNAMED)
    raise ConfigError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}", key="strategy")


def run_backtest(
    candles: Candles, strategy: Strategy, settings: EngineSettings | None = None, *, mode: Mode = Mode.BACKTEST
) -> BacktestResult:
    """One pass of the candles through the kernel, as backtest or as paper trading on the file."""
    settings = settings or EngineSettings()
    system = build(mode, candles, strategy, settings)
    # The curve starts at the initial balance, at the first candle's open, so that a loss on the very
    # first candle is a drawdown from it.
    opening = (int(candles.time[0]), float(candles.open[0]))
    recorder = Recorder(
        system.bus, system.portfolio, system.kernel.accepted, system.symbol, opening, _session_namer(strategy)
    )
    rejections: list[RiskRejected] = []
    system.bus.subscribe(rejections.append, RiskRejected)
    system.run(recorder.after_candle)
    metrics = compute_metrics(
        recorder.trades,
        recorder.equity,
        initial_balance=settings.initial_balance,
        prices_first=to_decimal(float(candles.open[0])),
        prices_last=to_decimal(float(candles.close[-1])),
    )
    zones = zones_from_signals(strategy.signals) if isinstance(strategy, SmcStrategy) else {}
    return BacktestResult(metrics, recorder.trades, recorder.equity, rejections, candles, zones)


def _session_namer(strategy: Strategy) -> SessionNamer:
    """Trades are labelled with the sessions the SMC analysis is configured with (or the defaults)."""
    if isinstance(strategy, SmcStrategy):
        smc = strategy.signals.config.entry_smc
        return SessionNamer((*smc.killzones, *smc.sessions))
    return SessionNamer()


def backtest_json(result: BacktestResult) -> dict[str, Any]:
    """``{"metrics", "trades", "equity"}``: money as strings (exact Decimals), times ISO-8601 UTC."""
    return {
        "metrics": result.metrics.to_dict(),
        "trades": [_trade(t) for t in result.trades],
        "equity": [[iso_utc(p.time_ms), str(p.equity)] for p in result.equity],
    }


def _trade(t: Trade) -> dict[str, Any]:
    return {
        "id": t.id, "symbol": t.symbol, "side": t.side.value, "setup": t.setup, "session": t.session,
        "entry_time": iso_utc(t.entry_ms), "exit_time": iso_utc(t.exit_ms), "entry_price": str(t.entry_price),
        "exit_price": str(t.exit_price), "quantity": str(t.quantity), "risk": str(t.risk), "pnl": str(t.pnl),
        "fees": str(t.fees), "r_multiple": str(t.r_multiple),
    }  # fmt: skip
