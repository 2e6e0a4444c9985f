"""From an accepted command to orders: the entry, then its bracket, kept right as fills arrive.

When the entry fills, a protective stop and the take-profits are placed as reduce-only orders: TP1
for ``tp1_fraction`` of the position (rounded down to the lot size) and TP2 for the rest, or a single
TP when there is one target. When TP1 fills and ``breakeven_after_tp1`` is on, the stop moves to the
entry price for what remains. The venue cancels whatever reduce-only order is left once the
position is flat. This layer only reacts to fill events, so it behaves the same against the simulated
venue and a real exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from smc_agent.core.bus import EventBus
from smc_agent.core.events import OrderFilled
from smc_agent.engine.risk import OrderCommand
from smc_agent.model.enums import BUY, SELL
from smc_agent.model.instrument import DOWN, UP, Instrument
from smc_agent.model.orders import FILLED, LIMIT, MARKET, STOP, Order
from smc_agent.venues import Venue

__all__ = ["Execution", "ExecutionConfig"]


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    tp1_fraction: Decimal = Decimal("0.5")
    breakeven_after_tp1: bool = True


@dataclass(slots=True)
class _Bracket:
    command: OrderCommand
    quantity: Decimal
    stop_id: str = ""
    stops: int = 0


class Execution:
    """Places entries and manages their brackets; one bracket per entry order."""

    def __init__(
        self, bus: EventBus, venue: Venue, instruments: Mapping[str, Instrument], config: ExecutionConfig
    ) -> None:
        self._venue = venue
        self._instruments = instruments
        self._config = config
        self._brackets: dict[str, _Bracket] = {}  # by entry order id
        self._flattens = 0
        bus.subscribe(self._on_fill, OrderFilled)

    def open(self, command: OrderCommand, quantity: Decimal, *, market: bool = False) -> str:
        """Submit the entry for an accepted command; return its client order id."""
        entry_id = f"{command.signal_id}:entry"
        order = Order(
            entry_id,
            command.symbol,
            command.side,
            MARKET if market else LIMIT,
            quantity,
            price=None if market else command.entry,
        )
        self._brackets[entry_id] = _Bracket(command, quantity)
        self._venue.submit(order)
        return entry_id

    def cancel_entry(self, signal_id: str, reason: str) -> bool:
        """Withdraw an entry that has not filled (its signal expired or was invalidated)."""
        return self._venue.cancel(f"{signal_id}:entry", reason)

    def flatten(self, symbol: str) -> None:
        """Close the whole position at the next open; the venue then cancels the bracket's remains."""
        position = self._venue.position(symbol)
        if position:
            self._flattens += 1
            side = SELL if position > 0 else BUY
            order = Order(f"flatten:{symbol}:{self._flattens}", symbol, side, MARKET, abs(position),
                          reduce_only=True, tag="flatten")  # fmt: skip
            self._venue.submit(order)

    def _on_fill(self, fill: OrderFilled) -> None:
        order = fill.order
        if order.status is not FILLED:
            return
        if order.tag == "entry" and order.client_order_id in self._brackets:
            self._protect(self._brackets[order.client_order_id], order)
        elif order.tag == "tp1" and self._config.breakeven_after_tp1 and order.parent in self._brackets:
            self._to_breakeven(self._brackets[order.parent], order)

    def _protect(self, bracket: _Bracket, entry: Order) -> None:
        command = bracket.command
        exit_side = SELL if command.side is BUY else BUY
        self._stop(bracket, entry, command.stop, entry.quantity)
        instrument = self._instruments[command.symbol]
        targets = command.targets
        first = instrument.round_qty(entry.quantity * self._config.tp1_fraction) if len(targets) > 1 else entry.quantity
        legs = [("tp1", targets[0], first)]
        if 0 < first < entry.quantity:
            legs.append(("tp2", targets[1], entry.quantity - first))
        else:
            legs = [("tp1", targets[0], entry.quantity)]
        for tag, price, qty in legs:
            self._venue.submit(
                Order(f"{command.signal_id}:{tag}", command.symbol, exit_side, LIMIT, qty, price=price,
                      reduce_only=True, tag=tag, parent=entry.client_order_id)
            )  # fmt: skip

    def _to_breakeven(self, bracket: _Bracket, tp1: Order) -> None:
        remaining = self._venue.position(bracket.command.symbol)
        if not remaining:
            return  # TP1 closed it all: the venue cancels the stop as "position closed"
        self._venue.cancel(bracket.stop_id, "moved to breakeven")
        self._stop(bracket, tp1, bracket.command.entry, abs(remaining), parent=tp1.parent)

    def _stop(self, bracket: _Bracket, source: Order, price: Decimal, qty: Decimal, parent: str | None = None) -> None:
        command = bracket.command
        bracket.stops += 1
        bracket.stop_id = f"{command.signal_id}:stop{bracket.stops}"
        exit_side = SELL if command.side is BUY else BUY
        # A protective stop rounds away from the market it protects (see Instrument).
        trigger = self._instruments[command.symbol].round_price(price, DOWN if exit_side is SELL else UP)
        self._venue.submit(
            Order(bracket.stop_id, command.symbol, exit_side, STOP, qty, trigger=trigger, reduce_only=True,
                  tag="stop", parent=parent or source.client_order_id)
        )  # fmt: skip
