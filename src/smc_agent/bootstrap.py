"""The composition root: the only code that knows which mode it is in.

It picks the clock, feed, venue and journal for a mode and wires them to the one kernel, for one or
many symbols sharing one account, one risk gate and one venue:

| mode | clock | how the session runs | venue |
|---|---|---|---|
| backtest | simulated, moved to each candle's close | synchronously, as fast as possible | simulated |
| paper (on files) | the replay clock, paced at ``speed`` × real time | an asyncio task fed by the replay | simulated |
| paper (live data) | the market clock, waiting in wall time | an asyncio task fed by an exchange | simulated |
| live | the market clock | an asyncio task fed by an exchange | the exchange, through ``venue`` |

A session on live data passes its ``clock`` and ``feed``, and the ``instruments`` the exchange trades;
its ``streams`` are each symbol's candles so far (none on a first start: the history comes through
:meth:`~smc_agent.engine.session.Session.history`).

Live trading is asked for by passing ``venue``: a factory of the exchange venue on the system's bus and
clock, reporting into the session (:meth:`~smc_agent.engine.session.Session.report`). Whether the user may
trade live is not decided here: the caller checks the live gate (:func:`smc_agent.config.live_gate.check_live`)
and builds the factory only from the keys it returns, so ``build`` cannot place a real order by itself. The
live venue is no market listener (the exchange fills on its own), but takes each entry candle as the simulated
venue does when it holds legs itself (``on_candle``: the take-profits of a spot bracket); Execution and the risk
gate are the same objects on either venue, and the kernel never knows which one it has.

**Recovery of the live venue** is left to reconciliation: :meth:`System.recover` restores the simulated
venue's resting orders from the journal, while the live venue learns of each working order when
:func:`smc_agent.venues.reconcile.reconcile` looks it up at the exchange (``catch_up`` adopts it and follows
it from then on), since only the exchange knows what became of it while the agent was down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from smc_agent.config.engine import UNNAMED, DataSource, EngineSettings, MarketCosts
from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Clock, ReplayClock, SimulatedClock
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.engine.execution import Execution
from smc_agent.engine.kernel import TradingKernel
from smc_agent.engine.portfolio import Portfolio
from smc_agent.engine.recovery import Replayer
from smc_agent.engine.risk import RiskGate
from smc_agent.engine.session import Session
from smc_agent.engine.state_log import log_state_changes
from smc_agent.events import CandleClosed, OrderEvent, RiskCheckpoint, stamper
from smc_agent.events.journal import Journal, JournalWriter
from smc_agent.feeds.ccxt_feed import CcxtFeed
from smc_agent.feeds.replay import ReplayFeed
from smc_agent.model.enums import Mode
from smc_agent.model.instrument import Instrument
from smc_agent.strategy.base import Strategy
from smc_agent.venues.ccxt_venue import CcxtVenue, Report
from smc_agent.venues.costs import SymbolSlippage
from smc_agent.venues.simulated import SimulatedVenue

__all__ = ["UNNAMED", "EngineSettings", "LiveVenueFactory", "Mode", "Recovered", "StrategyFactory", "System",
           "build"]  # fmt: skip

StrategyFactory = Callable[[Candles], Strategy]  # the strategy of one symbol, from its entry candles
# The live venue on the system's bus and clock, its outcomes reported into the session.
LiveVenueFactory = Callable[[EventBus, Clock, Report], CcxtVenue]


@dataclass(frozen=True, slots=True)
class Recovered:
    """What :meth:`System.recover` restored: the last event's number, each stream's cursor (``SYMBOL@TF``
    -> the close time of its last handled candle) and how many entry candles had been handled."""

    last_seq: int
    cursors: dict[str, int]
    candles: int


@dataclass(slots=True)
class System:
    mode: Mode
    session: Session
    feed: ReplayFeed | CcxtFeed
    kernel: TradingKernel
    portfolio: Portfolio
    risk: RiskGate
    execution: Execution
    venue: SimulatedVenue | CcxtVenue
    instruments: dict[str, Instrument]
    entry: dict[str, Candles]  # each symbol's entry stream
    costs: dict[str, MarketCosts]  # each symbol's kind of market and cost model
    clock: SimulatedClock  # a replay clock in paper mode

    @property
    def bus(self) -> EventBus:
        return self.session.bus

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.entry)

    def recover(self, journal: Journal) -> Recovered:
        """Restore everything the journal's session had reached, before this session starts: the
        portfolio, the brackets, the risk gate, the venue's working orders and positions, each
        strategy (its detectors rebuilt from the journaled candles, its trades and signals from their
        events), the kernel's last prices and handled commands, the clock, the timers still due, and
        the sequence numbers. The feed then skips what was handled (each stream from its cursor).
        A live venue is left to reconciliation (see the module docstring)."""
        entry_tf = {symbol: c.timeframe for symbol, c in self.entry.items()}
        replayer = Replayer(self.portfolio, self.execution, self.risk, entry_tf)
        venue = self.venue if isinstance(self.venue, SimulatedVenue) else None
        kernel = self.kernel
        cursors: dict[str, int] = {}
        last_ms, candles, gate_started = 0, 0, False
        for event in journal.read():
            replayer.apply(event)
            last_ms = max(last_ms, event.event_ms)
            if isinstance(event, CandleClosed):
                cursors[f"{event.symbol}@{event.timeframe}"] = event.event_ms
                if entry_tf.get(event.symbol) == event.timeframe:
                    if venue is not None:
                        venue.restore(event)
                    candles += 1
            elif isinstance(event, OrderEvent) and venue is not None:
                venue.restore(event)
            elif isinstance(event, RiskCheckpoint):
                gate_started = True
            kernel.restore(event)
        replayer.flush()
        if last_ms:
            self.clock.restart_at(last_ms)
        if gate_started:
            # Timers due at one moment fire in the order they were set: the expiries of orders placed
            # before today began were set before the gate's midnight timer, the others after it.
            if venue is not None:
                venue.rearm(accepted_before=self.risk.day_start_ms(last_ms))
            self.risk.resume(last_ms)
        if venue is not None:
            venue.rearm()
        self.session.bus.seq = replayer.last_seq
        self.feed = self.feed.resumed(cursors)
        return Recovered(replayer.last_seq, cursors, candles)

    def run(self, history: Iterable[CandleClosed] = ()) -> None:
        """Start the session, warm the strategies up on ``history`` (no orders), run every candle of the
        feed through it, and stop it."""
        session = self.session
        session.start()
        session.warm_up(history)
        if isinstance(self.feed, ReplayFeed) and self.mode is Mode.BACKTEST:
            session.replay(self.feed)
        else:
            asyncio.run(session.run([self.feed]))
        session.stop()


def build(
    mode: Mode,
    streams: Candles | Sequence[Candles],
    strategy: StrategyFactory,
    settings: EngineSettings | None = None,
    *,
    venue: LiveVenueFactory | None = None,
    speed: float = float("inf"),
    journal: Journal | None = None,
    session_id: str = "",
    sources: Mapping[str, DataSource] | None = None,
    clock: SimulatedClock | None = None,
    feed: CcxtFeed | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> System:
    """Assemble a system for ``mode`` around the one kernel.

    Each symbol trades the finest timeframe among its streams (its entry stream); its strategy is
    ``strategy(entry candles)``. ``speed`` paces a paper replay (a multiple of real time). ``sources``
    tell, by symbol, what each file says about its market (its format, an MT5 spread). ``venue`` (live mode
    only, and required there) makes the exchange venue.
    """
    settings = settings or EngineSettings()
    if (mode is Mode.LIVE) != (venue is not None):
        raise ConfigError("live trading, and only live trading, needs the exchange venue (passed by the caller once "
                          "the live gate has let it through)", key="mode")  # fmt: skip
    named = [c if c.symbol else c.with_meta(symbol=UNNAMED) for c in ([streams] if isinstance(streams, Candles)
                                                                   else streams)]  # fmt: skip
    if not named or (clock is None and not any(len(c) for c in named)):
        raise ConfigError("there are no candles to trade", key="data")
    entry: dict[str, Candles] = {}
    for candles in sorted(named, key=lambda c: (c.symbol, c.timeframe_ms)):
        entry.setdefault(candles.symbol, candles)
    if clock is None:
        start = min(int(c.time[0]) for c in named if len(c))
        clock = SimulatedClock(start) if mode is Mode.BACKTEST else ReplayClock(start, speed)
    bus = EventBus(stamper(session_id))
    log_state_changes(bus)
    given_instruments = instruments or {}
    instruments = {symbol: given_instruments.get(symbol) or settings.instrument(candles)
                   for symbol, candles in entry.items()}  # fmt: skip
    slippages = {symbol: settings.slippage(candles) for symbol, candles in entry.items()}
    slippage = next(iter(slippages.values())) if len(slippages) == 1 else SymbolSlippage(slippages)
    given = sources or {}
    costs = {symbol: settings.market_costs(instrument, given.get(symbol)) for symbol, instrument in instruments.items()}
    models = {symbol: market.model for symbol, market in costs.items()}
    traded: SimulatedVenue | CcxtVenue
    if venue is None:
        traded = SimulatedVenue(bus, clock, instruments, models, slippage, volume_share=settings.volume_share)
    else:
        traded = venue(bus, clock, lambda event: session.report(event))  # the session is made below
    portfolio = Portfolio(bus, settings.initial_balance)
    risk = RiskGate(settings.risk, instruments, clock, bus, portfolio, models)
    execution = Execution(bus, clock, traded, instruments, settings.execution, portfolio.position_of)
    strategies = {symbol: strategy(candles) for symbol, candles in entry.items()}
    timeframes = {symbol: candles.timeframe for symbol, candles in entry.items()}
    kernel = TradingKernel(clock, bus, risk, portfolio, execution, strategies, timeframes, [traded.on_candle])
    source: ReplayFeed | CcxtFeed = feed or ReplayFeed(named)
    writer = None if journal is None else JournalWriter(bus, journal)
    session = Session(session_id, mode, clock, bus, kernel, source.streams, writer)
    return System(mode, session, source, kernel, portfolio, risk, execution, traded, instruments, entry, costs, clock)
