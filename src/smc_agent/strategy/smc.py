"""The SMC strategy: trade every new A+ signal, as many at once as the risk gate allows.

A new signal (version 1, pending) becomes a limit entry at its entry price with its stop and targets;
the risk gate caps the trades a day per symbol (two by default). Only the best signal of one candle
and direction is traded (the order-block and FVG entries of one break are one idea, not two), and a
signal against a trade still open or working on the symbol is not traded: the account nets one
position per symbol. A signal that is not traded ends ``invalidated`` with the reason. If a traded
signal expires or is invalidated before its entry fills, the entry is withdrawn.

The signal's lifecycle follows the venue (:meth:`SignalEngine.follow`). Every signal created or
changed is published as :class:`~smc_agent.events.SignalChanged`, and so is what trading makes of it:
``triggered`` at the entry's first fill (with its price), ``filled`` once the whole entry has filled,
``invalidated`` when the gate refuses the entry, and ``closed`` when the trade is flat again, with the
R achieved (the realised P&L of its own exits before fees over the money at risk between the entry
fill and the stop as it rested).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.signals import Signal, SignalEngine, SignalStatus
from smc_agent.events import (
    CandleClosed,
    EntryAccepted,
    Event,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    PositionChanged,
    RiskRejected,
    SignalChanged,
)
from smc_agent.model.commands import OrderCommand
from smc_agent.model.enums import Side
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import CancelEntry, Command, Enter, Publish

__all__ = ["SmcStrategy"]


class _Trade:
    """One traded signal's entry and exits, for its ``triggered``, ``filled`` and ``closed`` records."""

    __slots__ = ("accepted", "cost", "entry_id", "exited", "quantity", "realized", "sign", "stop")

    def __init__(self, entry_id: str, sign: int, stop: Decimal, accepted: Decimal) -> None:
        self.entry_id, self.sign, self.stop, self.accepted = entry_id, sign, stop, accepted
        self.quantity = self.cost = self.exited = self.realized = Decimal(0)

    def exit(self, price: Decimal, quantity: Decimal) -> Decimal:
        """Book an exit of up to what is open at ``price``; returns the quantity it took."""
        taken = min(quantity, self.quantity - self.exited)
        self.realized += self.sign * (price - self.cost / self.quantity) * taken
        self.exited += taken
        return taken


class SmcStrategy:
    kind = "smc"  # its name in smc_agent.strategy.registry

    def __init__(
        self,
        symbol: str,
        timeframe: str,
        htfs: Sequence[str],
        config: AnalysisConfig | None = None,
        *,
        tz: str | None = None,
    ) -> None:
        self.symbol = symbol
        self.signals = SignalEngine(timeframe, htfs, config, symbol=symbol, tz=tz)
        self._sides: dict[str, Side] = {}  # traded signals still working or open, and their side
        self._trades: dict[str, _Trade] = {}  # of those, the ones the gate accepted, by signal id
        self._by_entry: dict[str, str] = {}  # entry order id -> signal id
        self._publish: Publish = _nowhere

    def on_start(self, publish: Publish) -> None:
        """Signal events go out through ``publish``; the signal engine warms up on the candles themselves."""
        self._publish = publish

    def warm_up(self, candle: CandleClosed) -> None:
        self.signals.update(candle.time, candle.open, candle.high, candle.low, candle.close, candle.volume)

    def restore(self, event: Event) -> None:
        """Fold one journaled event of this symbol into the strategy, publishing and commanding nothing
        (a restart). Its entry candles rebuild the detectors and the signals' candle lifecycle (the
        update runs where the live one did: after the candle's timers, before its fills reach the
        strategy, which for a signal pending then change nothing the update looks at); the signals'
        journaled states, and the entries accepted or refused for them, restore what trading decided;
        the order and position events rebuild each trade's bookkeeping as :meth:`on_event` built it."""
        if isinstance(event, CandleClosed):
            self.warm_up(event)
        elif isinstance(event, SignalChanged):
            self.signals.restore(event.signal)
        else:
            if isinstance(event, EntryAccepted | RiskRejected) and self.signals.knows(event.command.signal_id):
                # The strategy traded this signal at that close: it followed it and took its side.
                self.signals.follow(event.command.signal_id)
                self._sides[event.command.signal_id] = event.command.side
            publish, self._publish = self._publish, _nowhere
            try:
                self.on_event(event)
            finally:
                self._publish = publish

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        changed = self.signals.update(candle.time, candle.open, candle.high, candle.low, candle.close, candle.volume)
        commands: list[Command] = []
        new: list[Signal] = []
        for signal in changed:
            self._announce(signal, candle.event_ms)
            trade = self._trades.get(signal.id)
            if signal.id in self._sides and not (trade and trade.quantity) and signal.status in _ENDED:
                commands.append(CancelEntry(signal.id, f"signal {signal.status.value}"))
            elif signal.version == 1 and signal.status is SignalStatus.PENDING:
                new.append(signal)
        for side in (Side.BUY, Side.SELL):
            ranked = sorted((s for s in new if s.side is side), key=lambda s: -s.quality)
            for k, signal in enumerate(ranked):
                reason: str | None = "another_setup_traded" if k else self._conflict(side)
                if reason:
                    self._settle(signal.id, SignalStatus.INVALIDATED, candle.event_ms, reason=reason)
                    continue
                self.signals.follow(signal.id)
                self._sides[signal.id] = side
                commands.append(Enter(_command(signal)))
        return commands

    def on_event(self, event: Event) -> None:
        if isinstance(event, EntryAccepted):
            command = event.command
            if command.signal_id in self._sides:
                sign = command.side.sign
                self._trades[command.signal_id] = _Trade(event.entry_id, sign, command.stop, event.quantity)
                self._by_entry[event.entry_id] = command.signal_id
        elif isinstance(event, OrderFilled):
            self._on_fill(event)
        elif isinstance(event, PositionChanged):
            if not event.quantity:  # flat: whatever was open on the symbol is closed
                for open_id, trade in list(self._trades.items()):
                    if trade.quantity:
                        self._close(open_id, trade, event.event_ms)
        elif isinstance(event, OrderCancelled | OrderRejected | OrderExpired):
            signal_id = self._by_entry.get(event.order.client_order_id)
            if signal_id is not None:
                trade = self._trades[signal_id]
                if not trade.quantity:
                    self._forget(signal_id)
                else:  # what filled is the trade; the rest will not come
                    trade.accepted = trade.quantity
                    self._close_if_out(signal_id, trade, event.event_ms)
        elif isinstance(event, RiskRejected) and event.command.signal_id in self._sides:
            # The gate refused the entry: no order exists, and the signal will not trade.
            self._sides.pop(event.command.signal_id)
            self._settle(event.command.signal_id, SignalStatus.INVALIDATED, event.event_ms, reason="risk_rejected")

    def _on_fill(self, event: OrderFilled) -> None:
        order = event.order
        signal_id = self._by_entry.get(order.client_order_id)
        if signal_id is not None:  # an entry
            trade = self._trades[signal_id]
            first = not trade.quantity
            trade.quantity += event.quantity
            trade.cost += event.price * event.quantity
            if first:
                self._settle(signal_id, SignalStatus.TRIGGERED, event.event_ms, fill_price=float(event.price))
            if trade.quantity >= trade.accepted:
                average = float(trade.cost / trade.quantity)
                self._settle(signal_id, SignalStatus.FILLED, event.event_ms, fill_price=average)
            return
        owner = self._by_entry.get(order.parent or "")
        if owner is not None:  # one of a trade's own exits
            trade = self._trades[owner]
            trade.exit(event.price, event.quantity)
            self._close_if_out(owner, trade, event.event_ms)
            return
        # An exit of the whole position (a flatten): the trades open on the symbol, oldest first.
        left = event.quantity
        for trade in self._trades.values():
            if left and trade.quantity and trade.sign != order.side.sign:
                left -= trade.exit(event.price, left)

    def _conflict(self, side: Side) -> str | None:
        """Why a new signal on ``side`` may not trade now: a trade against it is working or open."""
        return "opposite_trade_open" if any(s is not side for s in self._sides.values()) else None

    def _close_if_out(self, signal_id: str, trade: _Trade, at_ms: int) -> None:
        """Close a trade whose entry is done and whose exits took all of it (others may stay open)."""
        if trade.quantity >= trade.accepted and trade.exited >= trade.quantity:
            self._close(signal_id, trade, at_ms)

    def _close(self, signal_id: str, trade: _Trade, at_ms: int) -> None:
        entry = trade.cost / trade.quantity
        risk = abs(entry - trade.stop) * trade.quantity
        r = float(trade.realized / risk) if risk else 0.0
        self._settle(signal_id, SignalStatus.CLOSED, at_ms, r_multiple=r)
        self._forget(signal_id)

    def _forget(self, signal_id: str) -> None:
        trade = self._trades.pop(signal_id, None)
        if trade is not None:
            self._by_entry.pop(trade.entry_id, None)
        self._sides.pop(signal_id, None)

    def _settle(self, signal_id: str, status: SignalStatus, at_ms: int, **outcome: Any) -> None:
        self._announce(self.signals.settle(signal_id, status, at_ms, **outcome), at_ms)

    def _announce(self, signal: Signal, at_ms: int) -> None:
        self._publish(SignalChanged(event_ms=at_ms, known_ms=at_ms, signal=signal))


_ENDED = (SignalStatus.EXPIRED, SignalStatus.INVALIDATED)


def _nowhere(event: Event) -> None:
    """Where events go before :meth:`SmcStrategy.on_start` names the bus."""


def _command(signal: Signal) -> OrderCommand:
    return OrderCommand(
        symbol=signal.symbol,
        side=signal.side,
        entry=to_decimal(signal.entry),
        stop=to_decimal(signal.stop),
        targets=tuple(to_decimal(t) for t in signal.targets),
        signal_id=signal.id,
        setup=signal.setup,
    )
