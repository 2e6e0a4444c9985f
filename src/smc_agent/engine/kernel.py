"""The trading kernel: one closed candle at a time, the same code in every mode.

For each candle, in this order: the venue fills resting orders against it; the portfolio marks its
positions at the close; the risk gate sees the new equity (and may change the trading state); then
the strategy reacts at the close with commands. Entries pass the risk gate before execution; exits
and withdrawals always pass. Orders placed at this close therefore fill from the next candle on.
The kernel does not know whether it is backtesting, paper trading or live: the composition root
(:mod:`smc_agent.bootstrap`) chose its clock, feed, venue and store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Clock
from smc_agent.core.events import CandleClosed
from smc_agent.engine.execution import Execution
from smc_agent.engine.portfolio import Portfolio
from smc_agent.engine.risk import OrderCommand, RiskGate
from smc_agent.strategy.base import CancelEntry, Command, Enter, Flatten, Strategy
from smc_agent.venues import Venue

__all__ = ["TradingKernel"]


@dataclass(slots=True)
class TradingKernel:
    clock: Clock
    bus: EventBus
    venue: Venue
    risk: RiskGate
    portfolio: Portfolio
    execution: Execution
    strategy: Strategy
    accepted: dict[str, OrderCommand] = field(default_factory=dict)  # by signal id

    def __post_init__(self) -> None:
        self.bus.subscribe(self.strategy.on_event)
        self.strategy.on_start()

    def on_candle(self, candle: CandleClosed) -> None:
        self.venue.on_candle(candle)
        self.portfolio.mark(candle.symbol, candle.close)
        self.risk.on_equity(self.clock.now_ms())
        for command in self.strategy.on_candle(candle):
            self._handle(command)

    def _handle(self, command: Command) -> None:
        if isinstance(command, Enter):
            decision = self.risk.check(command.command)
            if decision.accepted:
                # Record and execute the command as sized: with the stop rounded as it will rest.
                executed = command.command if decision.stop is None else command.command.with_stop(decision.stop)
                self.accepted[executed.signal_id] = executed
                self.execution.open(executed, decision.quantity, market=command.market)
        elif isinstance(command, CancelEntry):
            self.execution.cancel_entry(command.signal_id, command.reason)
        elif isinstance(command, Flatten):
            self.execution.flatten(command.symbol)
