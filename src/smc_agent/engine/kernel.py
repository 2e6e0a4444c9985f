"""The trading kernel: one closed candle at a time, the same code in every mode, many symbols in one account.

For each candle of a symbol's entry timeframe, in this order: the candle is published; the market-data
listeners see it (the simulated venue fills resting orders against it); the portfolio marks the
symbol's position at the close; the risk gate sees the new equity (and may change the trading state);
then that symbol's strategy reacts at the close with commands. Entries pass the risk gate before
execution; exits and withdrawals always pass (see :mod:`smc_agent.engine.risk` for why). Orders placed
at this close therefore fill from the next candle on. Candles of other streams are published and
nothing else. The kernel does not know whether it is backtesting, paper trading or live: the
composition root (:mod:`smc_agent.bootstrap`) chose its clock, feed, venue and store.

Operator commands (:data:`~smc_agent.model.commands.OperatorCommand`) reach :meth:`TradingKernel.command`
between candles, from the session's inbox; each outcome is published as
:class:`~smc_agent.events.CommandHandled`, and a command id is handled once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Clock
from smc_agent.engine.execution import Execution
from smc_agent.engine.portfolio import Portfolio
from smc_agent.engine.risk import RiskGate
from smc_agent.events import (
    CandleClosed,
    CommandHandled,
    EntryAccepted,
    Event,
    OrderEvent,
    PositionChanged,
    RiskRejected,
    SignalChanged,
)
from smc_agent.model.commands import (
    CancelAll,
    CancelOrder,
    ChangeRisk,
    FlattenSymbol,
    Kill,
    ManualOrder,
    OperatorCommand,
    OrderCommand,
    Pause,
    Reset,
    Resume,
)
from smc_agent.model.instrument import to_decimal
from smc_agent.model.orders import LIMIT, MARKET
from smc_agent.strategy.base import CancelEntry, Command, Enter, Flatten, Strategy

__all__ = ["TradingKernel"]

MarketListener = Callable[[CandleClosed], None]


class TradingKernel:
    def __init__(
        self,
        clock: Clock,
        bus: EventBus,
        risk: RiskGate,
        portfolio: Portfolio,
        execution: Execution,
        strategies: Mapping[str, Strategy],
        entry_timeframes: Mapping[str, str],
        market: Sequence[MarketListener] = (),
    ) -> None:
        self._clock, self._bus, self._risk = clock, bus, risk
        self._portfolio, self._execution = portfolio, execution
        self._strategies = dict(strategies)
        self._entry = dict(entry_timeframes)  # symbol -> the timeframe its strategy trades
        self._market = tuple(market)
        self._last_close: dict[str, float] = {}
        self._handled: set[str] = set()  # operator command ids already handled
        # How a strategy is called on its entry candle: directly (None, as in a backtest), or through the agent's
        # timer (its metrics), which reads a clock the core must not.
        self.strategy_call: Callable[[Strategy, CandleClosed], Sequence[Command]] | None = None
        for kind in (OrderEvent, PositionChanged, RiskRejected, EntryAccepted):
            bus.subscribe(self._route, kind)
        bus.subscribe(self._on_handled, CommandHandled)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._strategies)

    def strategy(self, symbol: str) -> Strategy:
        return self._strategies[symbol]

    def start(self) -> None:
        for strategy in self._strategies.values():
            strategy.on_start(self._bus.publish)

    def warm_up(self, candle: CandleClosed) -> None:
        """History before the session: the symbol's strategy learns from it and gives no orders."""
        if self._entry.get(candle.symbol) == candle.timeframe:
            self._strategies[candle.symbol].warm_up(candle)

    def on_history(self, candle: CandleClosed) -> None:
        """A candle of the history a session on live data starts from: published (so the journal keeps it
        and a restart restores from it, as :meth:`restore` does), learnt from, never traded."""
        self._bus.publish(candle)
        if self._entry.get(candle.symbol) == candle.timeframe:
            self._last_close[candle.symbol] = candle.close
            self._strategies[candle.symbol].warm_up(candle)

    def restore(self, event: Event) -> None:
        """Fold one journaled event after a restart: each symbol's strategy gets its entry candles, its
        signals' states and the events :meth:`_route` gives it; the kernel keeps the last close (what a
        manual market order is priced at) and the operator commands already handled."""
        if isinstance(event, CandleClosed):
            if self._entry.get(event.symbol) != event.timeframe:
                return
            self._last_close[event.symbol] = event.close
            symbol: str | None = event.symbol
        elif isinstance(event, SignalChanged):
            symbol = event.signal.symbol
        elif isinstance(event, CommandHandled):
            self._handled.add(event.command.command_id)
            return
        else:
            symbol = _symbol_of(event)
        strategy = None if symbol is None else self._strategies.get(symbol)
        if strategy is not None:
            strategy.restore(event)

    def on_candle(self, candle: CandleClosed) -> None:
        self._bus.publish(candle)
        symbol = candle.symbol
        if self._entry.get(symbol) != candle.timeframe:
            return
        for listener in self._market:
            listener(candle)
        self._last_close[symbol] = candle.close
        self._portfolio.mark(symbol, candle.close)
        self._risk.on_equity(self._clock.now_ms())
        strategy, call = self._strategies[symbol], self.strategy_call
        commands = strategy.on_candle(candle) if call is None else call(strategy, candle)
        for command in commands:
            self._handle(command)

    def command(self, command: OperatorCommand) -> CommandHandled:
        """Carry out an operator's command now (between candles) and publish what came of it."""
        if command.command_id in self._handled:
            return self._handled_event(command, False, f"command {command.command_id} was already handled")
        accepted, outcome = self._operate(command)
        return self._handled_event(command, accepted, outcome)

    def _handled_event(self, command: OperatorCommand, accepted: bool, outcome: str) -> CommandHandled:
        now = self._clock.now_ms()
        event = CommandHandled(event_ms=now, known_ms=now, command=command, accepted=accepted, outcome=outcome)
        self._bus.publish(event)
        return event

    def _on_handled(self, event: CommandHandled) -> None:
        self._handled.add(event.command.command_id)

    def _operate(self, command: OperatorCommand) -> tuple[bool, str]:
        risk, execution = self._risk, self._execution
        if isinstance(command, Kill):
            risk.kill(f"kill switch: {command.reason}")
            if not command.flatten:
                return True, "halted: only exits pass until a reset"
            return True, f"halted, and {self._flatten_all(command.reason)}"
        if isinstance(command, Reset):
            return True, f"trading state {risk.reset(command.reason).value}"
        if isinstance(command, Pause | Resume):
            changed = risk.pause(isinstance(command, Pause))
            state = "paused" if risk.paused else "resumed"
            return True, state if changed else f"already {state}"
        if isinstance(command, FlattenSymbol):
            if command.symbol not in self._strategies:
                return False, f"unknown symbol {command.symbol!r}; trading {', '.join(self._strategies)}"
            cancelled = execution.cancel_all(command.symbol, command.reason)
            execution.flatten(command.symbol)
            return True, f"flattening {command.symbol}, {cancelled} working entries cancelled"
        if isinstance(command, CancelAll):
            cancelled = execution.cancel_all(command.symbol, command.reason, exits=command.exits)
            return True, f"{cancelled} orders cancelled"
        if isinstance(command, CancelOrder):
            return self._execution.cancel_order(command.order_id, command.reason)
        if isinstance(command, ChangeRisk):
            applied, outcome = risk.reconfigure(command.changes)
            if applied:
                risk.on_equity(self._clock.now_ms())  # a limit lowered below where equity stands trips now
            return applied, outcome
        return self._manual(command)

    def _flatten_all(self, reason: str) -> str:
        cancelled = self._execution.cancel_all(None, reason)
        held = sorted(self._portfolio.open_positions())
        for symbol in held:
            self._execution.flatten(symbol)
        return f"flattening {', '.join(held) or 'nothing'} ({cancelled} working entries cancelled)"

    def _manual(self, order: ManualOrder) -> tuple[bool, str]:
        if order.symbol not in self._strategies:
            return False, f"unknown symbol {order.symbol!r}; trading {', '.join(self._strategies)}"
        market = order.type is MARKET
        last = self._last_close.get(order.symbol)
        if market:
            if last is None:
                return False, f"no price yet for {order.symbol}: a market order needs a closed candle first"
            price = to_decimal(last)
        elif order.type is LIMIT and order.price is not None:
            price = order.price
        else:
            return False, f"a manual {order.type.value} order is not supported here: send a market or a priced limit"
        command = OrderCommand(order.symbol, order.side, price, order.stop_loss, order.take_profit,
                               order.command_id, "manual", quantity=order.quantity)  # fmt: skip
        decision = self._risk.check(command, market=market)
        if not decision.accepted:
            return False, f"denied by the {decision.layer} layer: {decision.reason}"
        executed = command if decision.stop is None else command.with_stop(decision.stop)
        entry_id = self._execution.open(executed, decision.quantity, market=market)
        return True, f"order {entry_id} for {decision.quantity} {order.symbol} sent"

    def _handle(self, command: Command) -> None:
        if isinstance(command, Enter):
            decision = self._risk.check(command.command, market=command.market)
            if decision.accepted:
                # Execute the command as sized: with the stop rounded as it will rest.
                executed = command.command if decision.stop is None else command.command.with_stop(decision.stop)
                self._execution.open(executed, decision.quantity, market=command.market)
        elif isinstance(command, CancelEntry):
            self._execution.cancel_entry(command.signal_id, command.reason)
        elif isinstance(command, Flatten):
            self._execution.flatten(command.symbol)

    def _route(self, event: Event) -> None:
        """Order, position and risk events go to the strategy of their symbol."""
        symbol = _symbol_of(event)
        strategy = None if symbol is None else self._strategies.get(symbol)
        if strategy is not None:
            strategy.on_event(event)


def _symbol_of(event: Event) -> str | None:
    """The symbol of an order, entry, position or risk event (what a strategy follows), else None."""
    if isinstance(event, OrderEvent):
        return event.order.symbol
    if isinstance(event, EntryAccepted):
        return event.command.symbol
    if isinstance(event, PositionChanged | RiskRejected):
        return event.symbol
    return None
