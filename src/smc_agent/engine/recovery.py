"""Rebuilding the trading core's state from a journal: the portfolio, the brackets, the risk gate, the signals.

Every state in the core changes only by applying events, so folding a session's journal into fresh
components (or into the live ones, after a restart) gives exactly the state the session had. Each
event goes to the components that it changes, by their replay methods, never through a bus: a replay
must not send an order, publish a consequence twice or ask the clock.

* the portfolio books each :class:`~smc_agent.events.OrderFilled` and marks each candle of a traded
  stream at its close, after the fills that candle made (the kernel marks once the venue has filled,
  but the candle's event comes first, so the mark waits for the next candle or the end of the batch);
* execution folds :class:`~smc_agent.events.EntryAccepted` and the order and position events into
  its brackets;
* the risk gate restores each :class:`~smc_agent.events.RiskCheckpoint` and follows the position
  changes (a trade's running P&L) and submissions (the order rate) after it, and takes again each change of
  its limits an operator made (an accepted :class:`~smc_agent.model.commands.ChangeRisk`);
* the signals are the latest :class:`~smc_agent.events.SignalChanged` of each id.

The strategies' own state (the detectors) is rebuilt by replaying the candles they need, not from
events; the journal holds what the strategy decided, which is what the rest of the core depends on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import SimulatedClock
from smc_agent.engine.execution import Execution, ExecutionConfig
from smc_agent.engine.portfolio import Portfolio
from smc_agent.engine.risk import RiskGate
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.events import (
    CandleClosed,
    CommandHandled,
    EntryAccepted,
    Event,
    OrderEvent,
    OrderFilled,
    OrderSubmitted,
    PositionChanged,
    RiskCheckpoint,
    SignalChanged,
)
from smc_agent.model.commands import ChangeRisk
from smc_agent.model.instrument import Instrument
from smc_agent.model.orders import Order
from smc_agent.model.signal import Signal

__all__ = ["Rebuilt", "Replayer"]


class Replayer:
    """Folds journaled events into a portfolio, an execution and a risk gate (fresh, or a restarted session's)."""

    def __init__(
        self, portfolio: Portfolio, execution: Execution, risk: RiskGate, entry_timeframes: Mapping[str, str]
    ) -> None:
        self.portfolio, self.execution, self.risk = portfolio, execution, risk
        self.signals: dict[str, Signal] = {}
        self._entry = dict(entry_timeframes)
        self._unmarked: CandleClosed | None = None
        self.last_seq = 0

    def apply(self, event: Event) -> None:
        self.last_seq = event.seq
        if isinstance(event, CandleClosed):
            if self._entry.get(event.symbol) == event.timeframe:
                self.flush()
                self._unmarked = event
        elif isinstance(event, OrderEvent):
            if isinstance(event, OrderFilled):
                self.portfolio.apply_fill(event)
            elif isinstance(event, OrderSubmitted):
                self.risk.replay(event)
            self.execution.apply(event)
        elif isinstance(event, PositionChanged):
            self.execution.apply(event)
            self.risk.replay(event)
        elif isinstance(event, EntryAccepted):
            self.execution.apply(event)
        elif isinstance(event, RiskCheckpoint):
            self.risk.replay(event)
        elif isinstance(event, CommandHandled) and isinstance(event.command, ChangeRisk) and event.accepted:
            self.risk.reconfigure(event.command.changes)  # the limits it ran with, before the checkpoints after
        elif isinstance(event, SignalChanged):
            self.signals[event.signal.id] = event.signal

    def apply_all(self, events: Iterable[Event]) -> None:
        """Fold a committed batch (one or more whole steps) and settle its last mark."""
        for event in events:
            self.apply(event)
        self.flush()

    def flush(self) -> None:
        """Mark the last candle's close, now that the fills it made are booked."""
        candle, self._unmarked = self._unmarked, None
        if candle is not None:
            self.portfolio.mark(candle.symbol, candle.close)


class _Unreachable:
    """The venue of rebuilt state: a replay only folds events, so any order sent here is a bug."""

    def submit(self, order: Order) -> None:
        raise AssertionError(f"a journal replay tried to send order {order.client_order_id}")

    def cancel(self, client_order_id: str, reason: str) -> bool:
        raise AssertionError(f"a journal replay tried to cancel order {client_order_id}")

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return []

    def positions(self) -> dict[str, Decimal]:
        return {}

    def fills_since(self, ms: int) -> list[OrderFilled]:
        return []


class Rebuilt(Replayer):
    """Fresh components with a session's settings and instruments, to be filled from a journal alone."""

    def __init__(
        self,
        initial_balance: Decimal,
        risk: RiskConfig,
        execution: ExecutionConfig,
        instruments: Mapping[str, Instrument],
        entry_timeframes: Mapping[str, str],
    ) -> None:
        bus, clock = EventBus(), SimulatedClock()  # private: nothing a replay does reaches anyone
        portfolio = Portfolio(bus, initial_balance)
        brackets = Execution(bus, clock, _Unreachable(), instruments, execution, portfolio.position_of)
        gate = RiskGate(risk, instruments, clock, bus, portfolio)
        super().__init__(portfolio, brackets, gate, entry_timeframes)
