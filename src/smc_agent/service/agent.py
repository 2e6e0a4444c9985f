"""The agent: one paper-trading session, on replayed files or an exchange's live candles, journaled to the
store, resumed after a restart.

:class:`Agent` is what ``smc-agent run`` (and later the API) drives. It loads one candle file per
symbol (or the demo candles that ship in a registry package), or connects to an exchange
(:mod:`smc_agent.service.exchange_source`), opens the store, and asks it for the session of this
fingerprint: the sources (path, size and content hash of each file; or the venue, symbols and
timeframe) and the settings.
The store resumes the latest session when the fingerprint is the same, and refuses a different one
(:class:`~smc_agent.core.errors.ConfigError` naming what differs); ``new_session`` starts afresh.

A resumed session is restored from its journal alone (:meth:`~smc_agent.bootstrap.System.recover`):
positions, working orders, balance, the risk gate, each strategy, the clock, and the cursor of each
stream, so the feed skips every candle already handled and the run goes on as if it had never stopped.

**Live data.** A first start learns from the exchange's recent history (journaled before the session
starts, so that a restart restores from it and ``backtest --session`` starts from it too), then streams.
Candles that arrive together (a hundred symbols closing at the same minute) are stepped one by one and
committed together, as soon as none is waiting, each with its events and cursor, and kept in the candles
table under the venue; nothing awaits between those steps, so an order's intent is committed before its
request can leave. A crash re-fetches the uncommitted candles from the committed cursors, and a restart
backfills only the gap since them. The session's clock is the market clock, so its events
are stamped and ordered as a backtest over the same candles would stamp and order them.

**Live trading** (``--live``, :mod:`smc_agent.service.live_trading`): the same session on live data, with the
exchange as its venue once the live gate lets it through; the venue starts and is reconciled with the journal
before the run, and closes after it. Its settings document says ``mode = live``, so a live session never
resumes a paper one (their accounts differ).

**Commits.** The engine commits one transaction per step (one candle) when paced; at ``speed`` max it
groups ``REPLAY_BATCH`` candles per commit, since a crash re-processes the uncommitted candles and
produces the same events. A stop (:meth:`Agent.stop`) finishes the current candle and commits.

**Metrics** (:mod:`smc_agent.service.metrics`): the agent counts its bus's events, times its strategy per entry
candle, and shows its portfolio's balance and equity on ``/metrics``.

**The store** is reached through :func:`~smc_agent.service.store.open_store`, imported here by name, so
tests put their own store in this module's ``open_store``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.bootstrap import Recovered, System, build
from smc_agent.core.errors import SmcAgentError
from smc_agent.core.timefmt import iso_utc
from smc_agent.events import CandleClosed, Event, OrderFilled, OrderSubmitted, SessionStarted, SignalChanged
from smc_agent.events.journal import Journal
from smc_agent.feeds import FeedHealth
from smc_agent.feeds.ccxt_feed import CcxtFeed
from smc_agent.model.enums import Mode
from smc_agent.model.signal import SignalStatus
from smc_agent.service.agent_plan import STRATEGY, AgentOptions, parse_speed, settings_document
from smc_agent.service.agent_plan import plan as plan_session
from smc_agent.service.live_trading import LiveTrading
from smc_agent.service.metrics import BusMetrics, feed_changed, timed
from smc_agent.service.store import Store, fingerprint, open_store
from smc_agent.strategy.registry import StrategyOptions, signal_engine, strategy_kind

__all__ = ["STRATEGY", "Agent", "AgentOptions", "fill_record", "parse_speed", "settings_document"]


@dataclass
class Latency:
    """Each entry candle's time from the moment the session takes it (its arrival, in a live session,
    where candles come as they close) to the commit that holds its events, in seconds."""

    arrived: dict[tuple[str, int], float] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    caused: list[float] = field(default_factory=list)  # the samples of candles whose step made a signal or order
    # True: only arrivals set from outside count (``bench feed`` sets them when the candle's closing update
    # reaches the socket), not the session taking the candle.
    external: bool = False

    def taken(self, candle: CandleClosed) -> None:
        if not self.external:
            self.arrived[(candle.symbol, candle.event_ms)] = time.perf_counter()


class _TimedJournal:
    """The store's journal, timing each candle from its arrival to its commit (for ``bench run``)."""

    def __init__(self, journal: Journal, latency: Latency) -> None:
        self._journal, self._latency = journal, latency

    def append(self, events: Sequence[Event]) -> None:
        self._journal.append(events)
        done, arrived, samples = time.perf_counter(), self._latency.arrived, self._latency.samples
        caused = any(isinstance(event, SignalChanged | OrderSubmitted) for event in events)
        for event in events:
            if isinstance(event, CandleClosed):
                start = arrived.pop((event.symbol, event.event_ms), None)
                if start is not None:
                    samples.append(done - start)
                    if caused:
                        self._latency.caused.append(done - start)

    def read(self, after_seq: int = 0) -> Iterator[Event]:
        return self._journal.read(after_seq)

    def last_seq(self) -> int:
        return self._journal.last_seq()


class Agent:
    """A paper (or live) session with its store: build with :meth:`open`, then :meth:`run`."""

    def __init__(self, system: System, store: Store, session_id: str, resumed: Recovered | None,
                 journal: Journal, latency: Latency) -> None:  # fmt: skip
        self.system, self.store, self.session_id = system, store, session_id
        self.recovered = resumed
        self.journal = journal
        self.latency = latency
        self._stopped = False
        self.history_candles = 0  # candles of history a first start on live data learns from
        self.analysis = AnalysisConfig()  # the analysis settings the session runs with (the API's detectors too)
        self.live: LiveTrading | None = None  # the exchange venue of a live session
        # The last candle closed per symbol (its close time): restored from the cursors, then followed.
        entry = {f"{symbol}@{c.timeframe}": symbol for symbol, c in system.entry.items()}
        self._last: dict[str, int] = {entry[s]: ms for s, ms in (resumed.cursors if resumed else {}).items()
                                      if s in entry}  # fmt: skip
        system.bus.subscribe(self._on_candle, CandleClosed)

    def _on_candle(self, candle: CandleClosed) -> None:
        if self.system.entry[candle.symbol].timeframe == candle.timeframe:
            self._last[candle.symbol] = candle.event_ms
            self.latency.taken(candle)  # the kernel publishes a candle first, before it handles it

    @classmethod
    def open(cls, options: AgentOptions, store: Store | None = None) -> Agent:
        """Load the sources, open the store and begin (or resume) the session; restore a resumed one."""
        run, plan = plan_session(options)
        app = run.app
        mode = Mode.PAPER if run.keys is None else Mode.LIVE
        store = store or open_store(run.url)
        try:
            stored = store.begin_session(fingerprint=fingerprint(plan.described, plan.settings),
                                         mode=mode.value, sources=plan.described, settings=plan.settings,
                                         new=options.new_session)  # fmt: skip
            latency = Latency()
            journal = _TimedJournal(store.journal(stored.id, plan.venue), latency)
            kind, opts = strategy_kind(STRATEGY), StrategyOptions(tuple(plan.frames), analysis=app.analysis)
            system = build(mode, plan.streams, lambda c: kind.create(c.symbol, c.timeframe, opts), app.engine,
                           speed=run.speed, journal=journal, session_id=stored.id, **plan.build)  # fmt: skip
            system.session.commit_every = options.commit_every or plan.commit_every
            recovered = None
            if stored.resumed:
                recovered = system.recover(journal)
                _check_cursors(recovered, store.cursors(stored.id))
            store.audit("run", {"session": stored.id, "resumed": stored.resumed, "sources": plan.described})
        except BaseException:
            store.close()
            raise
        agent = cls(system, store, stored.id, recovered, journal, latency)
        agent.history_candles = plan.history
        agent.analysis = app.analysis
        # After the restore, which folds the journal without publishing: the counters count this run's events.
        BusMetrics(system.bus, system.portfolio)
        system.kernel.strategy_call = timed
        if isinstance(system.feed, CcxtFeed):
            system.feed.on_health(partial(agent._feed_health, system.feed.name))
        agent.live = None if run.keys is None else LiveTrading(system, store, stored.id)
        return agent

    def _feed_health(self, name: str, new: FeedHealth, previous: FeedHealth, reason: str, at_ms: int) -> None:
        """A change of the live feed ``name``'s health: to the metrics and to the store (the log has it already)."""
        feed_changed(name, new)
        self.store.record_feed_health(self.session_id, at_ms, name, new.value, previous.value, reason)

    @property
    def resumed(self) -> bool:
        return self.recovered is not None

    async def run(self, *, exit_when_done: bool = True) -> None:
        """Run until the data is done (with ``exit_when_done``) or :meth:`stop`; then stop and commit."""
        session, feed = self.system.session, self.system.feed
        if self.history_candles and not self.resumed and isinstance(feed, CcxtFeed):
            session.history(await feed.history(self.history_candles))
        session.start(resumed=self.resumed)
        try:
            if self.live is not None:
                await self.live.begin(self.journal.read())
            await session.run([self.system.feed], exit_when_done=exit_when_done)
        finally:
            if self.live is not None:
                await self.live.end()
                session.settle_reports()  # the answers to the requests that were in flight at the stop
            reason = "stopped by request" if self._stopped else "data done"
            session.stop(reason)
            self.store.end_session(self.session_id, session.clock.now_ms())

    def stop(self) -> None:
        """Stop taking entries: finish the current candle, commit, and end the run (SIGTERM, Ctrl-C)."""
        self._stopped = True
        self.system.session.request_stop()

    def close(self) -> None:
        self.store.close()

    # -- what a front end shows -------------------------------------------------------------------

    def last_candle_ms(self, symbol: str) -> int:
        """The close time of ``symbol``'s last handled entry candle (0 before the first)."""
        return self._last.get(symbol, 0)

    def status(self) -> dict[str, Any]:
        """The account and each symbol now: the live table's rows (JSON-ready)."""
        system = self.system
        portfolio, risk = system.portfolio, system.risk
        positions = portfolio.open_positions()
        day_start = risk.day_start_equity
        equity = portfolio.equity()
        symbols = []
        for symbol in system.symbols:
            last = self._last.get(symbol)
            engine = signal_engine(system.kernel.strategy(symbol))
            held = positions.get(symbol)
            symbols.append({
                "symbol": symbol,
                "last_candle": None if last is None else iso_utc(last),
                "bias": engine.mtf.bias().direction.value if last is not None else "-",
                "open_signals": sum(s.status in _OPEN for s in engine.signals),
                "position": "flat" if held is None else f"{held[0].value} {held[1]}",
            })  # fmt: skip
        return {
            "session_id": self.session_id,
            "mode": system.mode.value,
            "time": iso_utc(system.session.clock.now_ms()),
            "feed": system.feed.health.value,
            "equity": str(equity),
            "today_pnl": str(equity - day_start) if day_start is not None else "0",
            "trading_state": risk.state.value,
            "symbols": symbols,
        }

    def summary(self) -> dict[str, Any]:
        """The whole session so far, across restarts (read from its journal): the ``--summary-json`` object."""
        trades: list[dict[str, Any]] = []
        signals: set[str] = set()
        candles, started = 0, False
        entry = {symbol: c.timeframe for symbol, c in self.system.entry.items()}
        for event in self.journal.read():
            if isinstance(event, OrderFilled):
                trades.append(fill_record(event))
            elif isinstance(event, SignalChanged):
                signals.add(event.signal.id)
            elif isinstance(event, SessionStarted):
                started = True
            elif isinstance(event, CandleClosed) and started and entry.get(event.symbol) == event.timeframe:
                candles += 1  # not the history a session on live data started from
        portfolio = self.system.portfolio
        return {"trades": trades, "final_balance": str(portfolio.balance), "equity": str(portfolio.equity()),
                "signals": len(signals), "candles": candles}  # fmt: skip


def fill_record(event: OrderFilled) -> dict[str, Any]:
    """A fill as ``--summary-json`` lists it (money as exact strings)."""
    order = event.order
    return {"order_id": order.client_order_id, "symbol": order.symbol, "side": order.side.value, "tag": order.tag,
            "time": iso_utc(event.event_ms), "time_ms": event.event_ms, "price": str(event.price),
            "quantity": str(event.quantity), "fee": str(event.fee)}  # fmt: skip


_OPEN = (SignalStatus.PENDING, SignalStatus.TRIGGERED, SignalStatus.FILLED)


def _check_cursors(recovered: Recovered, stored: dict[tuple[str, str], int]) -> None:
    """The store's cursors are committed with the events, so they must be what the events say."""
    named = {f"{symbol}@{timeframe}": ms for (symbol, timeframe), ms in stored.items()}
    if named != recovered.cursors:
        raise SmcAgentError(f"the store's stream cursors {named} disagree with its journal {recovered.cursors}; "
                            "the database is inconsistent: restore a backup or start with --new-session")  # fmt: skip
