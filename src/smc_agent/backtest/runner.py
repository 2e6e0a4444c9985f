"""Run a strategy over candles through the trading core and measure the result.

The backtest is the paper/live kernel fed by a replay: :func:`run_backtest` builds a system with
:func:`smc_agent.bootstrap.build`, records trades and equity from the events, and computes the
metrics. The ``--json`` document (``{"metrics", "costs", "trades", "equity"}``) is stable and
documented in docs/api.md; the same input always gives byte-identical output.

Warm-up: with ``trade_from``, the candles that open before it go to the strategies' ``warm_up`` (the
detectors and the bias learn, no order is given and the account does not see them) and only the
candles from it on are traded and measured. The strategy is deterministic on candles, so its signals
inside the window are those of a run over everything, restricted to the window (a test proves it);
its trades may differ, since a trade still open at the window's start is not carried in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.backtest.metrics import Metrics, compute_metrics
from smc_agent.backtest.recorder import Recorder, SessionNamer
from smc_agent.backtest.significance import EdgeTests
from smc_agent.backtest.trades import EquityCurve, EquityPoint, RecordedCurve, Trade
from smc_agent.backtest.zones import Zone, zones_from_signals
from smc_agent.bootstrap import build
from smc_agent.config.engine import UNNAMED, DataSource, EngineSettings, MarketCosts
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles
from smc_agent.engine.session import REPLAY_BATCH
from smc_agent.events import RiskRejected
from smc_agent.events.journal import Journal
from smc_agent.feeds.replay import ReplayFeed
from smc_agent.model.enums import Mode
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import Strategy
from smc_agent.strategy.registry import StrategyOptions, signal_engine, strategy_kind

__all__ = ["BacktestResult", "backtest_json", "make_strategy", "run_backtest"]


@dataclass(frozen=True, slots=True)
class BacktestResult:
    metrics: Metrics
    trades: list[Trade]
    equity: EquityCurve
    rejections: list[RiskRejected]
    candles: Candles  # what was traded (the first symbol's entry candles when there are several)
    zones: dict[str, Zone]  # the zone behind each SMC trade, by trade id (empty for other strategies)
    by_symbol: dict[str, Metrics] = field(default_factory=dict)  # each symbol's trades alone (see realised_curve)
    streams: dict[str, Candles] = field(default_factory=dict)  # every symbol's entry candles
    costs: dict[str, MarketCosts] = field(default_factory=dict)  # each symbol's kind of market and cost model


def make_strategy(
    name: str, candles: Candles, htfs: Sequence[str], *, tz: str | None = None, analysis: AnalysisConfig | None = None
) -> Strategy:
    """The strategy ``name`` for the symbol and timeframe of ``candles``."""
    return strategy_kind(name).create(candles.symbol or UNNAMED, candles.timeframe,
                                      StrategyOptions(tuple(htfs), tz, analysis))  # fmt: skip


def run_backtest(
    streams: Candles | Sequence[Candles],
    strategy: Strategy | str,
    settings: EngineSettings | None = None,
    *,
    mode: Mode = Mode.BACKTEST,
    htfs: Sequence[str] = (),
    tz: str | None = None,
    analysis: AnalysisConfig | None = None,
    sources: dict[str, DataSource] | None = None,
    trade_from: int | None = None,
    journal: Journal | None = None,
    session_id: str = "",
) -> BacktestResult:
    """One pass of the candles through the kernel, as backtest or as paper trading on the files.

    ``strategy`` is a strategy object (one symbol), or a name from the registry, built for each
    symbol with ``htfs``, ``tz`` and ``analysis``; all symbols share one account. ``sources`` say what
    each symbol's file tells of its market (see :func:`smc_agent.bootstrap.build`). ``trade_from`` (epoch
    ms) trades only the candles that open from then on, after a warm-up on those before (see above).
    ``journal`` keeps every event of the run (the store's, for ``backtest --db``), committed every
    :data:`~smc_agent.engine.session.REPLAY_BATCH` candles.
    """
    settings = settings or EngineSettings()
    history, streams = _split(streams, trade_from)
    built: list[Strategy] = []

    def create(candles: Candles) -> Strategy:
        made = strategy if not isinstance(strategy, str) else make_strategy(strategy, candles, htfs, tz=tz,
                                                                             analysis=analysis)  # fmt: skip
        built.append(made)
        return made

    system = build(mode, streams, create, settings, sources=sources, journal=journal, session_id=session_id)
    system.session.commit_every = REPLAY_BATCH
    first = next(iter(system.entry.values()))
    # The curve starts at the initial balance, at the first candle's open, so that a loss on the very
    # first candle is a drawdown from it.
    opening = (min(int(c.time[0]) for c in system.entry.values()), float(first.open[0]))
    timeframes = {symbol: c.timeframe for symbol, c in system.entry.items()}
    kind = strategy_kind(strategy if isinstance(strategy, str) else strategy.kind)
    namer = SessionNamer(kind.sessions(built[0]))
    recorder = Recorder(system.bus, settings.initial_balance, timeframes, opening, namer)
    rejections: list[RiskRejected] = []
    system.bus.subscribe(rejections.append, RiskRejected)
    system.run(ReplayFeed(history) if history else ())
    recorder.finish()
    metrics = _metrics(recorder.trades, recorder.equity, settings, first)
    by_symbol = {}
    for symbol, candles in system.entry.items():
        own = [t for t in recorder.trades if t.symbol == symbol]
        curve = realised_curve(own, settings.initial_balance, opening[0], int(candles.time[-1] + candles.timeframe_ms))
        by_symbol[symbol] = _metrics(own, curve, settings, candles)
    zones: dict[str, Zone] = {}
    if kind.draws_zones:
        for made in built:
            zones.update(zones_from_signals(signal_engine(made)))
    return BacktestResult(metrics, recorder.trades, recorder.equity, rejections, first, zones, by_symbol,
                          dict(system.entry), dict(system.costs))  # fmt: skip


def _split(streams: Candles | Sequence[Candles], trade_from: int | None) -> tuple[list[Candles], list[Candles]]:
    """Each stream's candles opening before ``trade_from`` (the warm-up), and those from it on."""
    listed = [streams] if isinstance(streams, Candles) else list(streams)
    if trade_from is None:
        return [], listed
    # Named as bootstrap.build names them, so that warm-up candles reach the same strategies.
    named = [c if c.symbol else c.with_meta(symbol=UNNAMED) for c in listed]
    cuts = [int(np.searchsorted(c.time, trade_from, side="left")) for c in named]
    return [c[:k] for c, k in zip(named, cuts, strict=True) if k], [c[k:] for c, k in zip(named, cuts, strict=True)]


def _metrics(trades: list[Trade], equity: EquityCurve, settings: EngineSettings, candles: Candles) -> Metrics:
    return compute_metrics(
        trades,
        equity,
        initial_balance=settings.initial_balance,
        prices_first=to_decimal(float(candles.open[0])),
        prices_last=to_decimal(float(candles.close[-1])),
    )


def realised_curve(trades: Sequence[Trade], initial: Decimal, start_ms: int, end_ms: int) -> RecordedCurve:
    """The equity of ``trades`` alone: the initial balance plus each closed trade's P&L at its exit.

    A symbol's share of a portfolio backtest is measured on this curve, since the account's curve
    mixes every symbol's open positions.
    """
    curve = RecordedCurve([EquityPoint(start_ms, initial)])
    equity = initial
    for trade in sorted(trades, key=lambda t: t.exit_ms):
        equity += trade.pnl
        curve.record(trade.exit_ms, equity, Decimal(0))
    if end_ms > curve.times[-1]:
        curve.record(end_ms, equity, Decimal(0))
    return curve


def backtest_json(result: BacktestResult, edge: EdgeTests | None = None) -> dict[str, Any]:
    """``{"metrics", "costs", "trades", "equity"}``: money as strings (exact Decimals), times ISO-8601
    UTC; ``costs`` gives each symbol's kind of market, how it was chosen, and its cost model (left out
    of a result stitched from several runs, which does not keep them); with ``edge``, also its
    ``"baseline"`` and ``"monte_carlo"`` (null where not made)."""
    document: dict[str, Any] = {"metrics": result.metrics.to_dict()}
    if result.costs:
        document["costs"] = {symbol: market.to_dict() for symbol, market in result.costs.items()}
    document["trades"] = [_trade(t) for t in result.trades]
    document["equity"] = [[iso_utc(p.time_ms), str(p.equity)] for p in result.equity]
    if edge is not None:
        document.update(edge.to_dict())
    return document


def _trade(t: Trade) -> dict[str, Any]:
    return {
        "id": t.id, "symbol": t.symbol, "side": t.side.value, "setup": t.setup, "session": t.session,
        "entry_time": iso_utc(t.entry_ms), "exit_time": iso_utc(t.exit_ms), "entry_price": str(t.entry_price),
        "exit_price": str(t.exit_price), "quantity": str(t.quantity), "risk": str(t.risk), "pnl": str(t.pnl),
        "fees": str(t.fees), "r_multiple": str(t.r_multiple),
    }  # fmt: skip
