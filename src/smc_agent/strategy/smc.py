"""The SMC strategy: trade every new A+ signal, one trade at a time per symbol.

A new signal (version 1, pending) becomes a limit entry at its entry price with its stop and targets.
If the signal expires or is invalidated before the entry fills, the entry is withdrawn. While a trade
(or an unfilled entry) is open on the symbol, new signals are not traded.

Every signal created or changed is published as :class:`~smc_agent.events.SignalChanged`, and so is
what trading makes of it: ``filled`` at the entry's first fill (with its price) and ``closed`` when the
position is flat again, with the R achieved (the realised P&L before fees over the money at risk
between the entry fill and the stop as it rested).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

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
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import CancelEntry, Command, Enter, Publish

__all__ = ["SmcStrategy"]


class _Trade:
    """The traded signal's entry and realised P&L, for its ``filled`` and ``closed`` records."""

    __slots__ = ("cost", "entry_id", "quantity", "realized", "stop")

    def __init__(self, entry_id: str, stop: Decimal) -> None:
        self.entry_id, self.stop = entry_id, stop
        self.quantity = self.cost = self.realized = Decimal(0)


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
        self._busy: str | None = None  # the signal whose entry or position is open
        self._trade: _Trade | None = None  # its accepted entry, once the gate accepted it
        self._publish: Publish = _nowhere

    def on_start(self, publish: Publish) -> None:
        """Signal events go out through ``publish``; the signal engine warms up on the candles themselves."""
        self._publish = publish

    def warm_up(self, candle: CandleClosed) -> None:
        self.signals.update(candle.time, candle.open, candle.high, candle.low, candle.close, candle.volume)

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        changed = self.signals.update(candle.time, candle.open, candle.high, candle.low, candle.close, candle.volume)
        commands: list[Command] = []
        for signal in changed:
            self._announce(signal, candle.event_ms)
            filled = self._trade is not None and self._trade.quantity > 0
            if signal.id == self._busy and not filled and signal.status in _ENDED:
                commands.append(CancelEntry(signal.id, f"signal {signal.status.value}"))
            elif self._busy is None and signal.version == 1 and signal.status is SignalStatus.PENDING:
                commands.append(Enter(_command(signal)))
                self._busy, self._trade = signal.id, None
        return commands

    def on_event(self, event: Event) -> None:
        trade = self._trade
        if isinstance(event, EntryAccepted):
            if event.command.signal_id == self._busy:
                self._trade = _Trade(event.entry_id, event.command.stop)
        elif isinstance(event, OrderFilled):
            if trade is not None and event.order.client_order_id == trade.entry_id:
                first = not trade.quantity
                trade.quantity += event.quantity
                trade.cost += event.price * event.quantity
                if first and self._busy is not None:
                    price = float(event.price)
                    self._announce(self.signals.settle(self._busy, SignalStatus.FILLED, event.event_ms,
                                                       fill_price=price), event.event_ms)  # fmt: skip
        elif isinstance(event, PositionChanged):
            if trade is not None and trade.quantity:
                trade.realized += event.realized
                if not event.quantity:
                    self._close(trade, event.event_ms)
        elif isinstance(event, OrderCancelled | OrderRejected | OrderExpired):
            if trade is not None and event.order.client_order_id == trade.entry_id and not trade.quantity:
                self._busy = self._trade = None
        elif isinstance(event, RiskRejected) and event.command.signal_id == self._busy:
            # The gate refused the entry: no order exists, so nothing else would free the symbol.
            self._busy = self._trade = None

    def _close(self, trade: _Trade, at_ms: int) -> None:
        if self._busy is not None:
            entry = trade.cost / trade.quantity
            risk = abs(entry - trade.stop) * trade.quantity
            r = float(trade.realized / risk) if risk else 0.0
            self._announce(self.signals.settle(self._busy, SignalStatus.CLOSED, at_ms, r_multiple=r), at_ms)
        self._busy = self._trade = None

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
