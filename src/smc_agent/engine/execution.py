"""From an accepted command to orders: the entry, then its bracket, kept right as fills arrive.

Execution owns the bracket; it assumes nothing of the venue beyond accepting, cancelling and filling
orders, because exchanges differ on everything else:

* **Partial fills are protected at once.** Each fill of the entry, whole or partial, sets the stop to
  cover everything filled and not yet exited, and the take-profits to their share of it: TP1 takes
  ``tp1_fraction`` of the filled quantity (rounded down to the lot) and TP2 the rest, or a single TP
  takes all when there is one target or the split rounds to nothing. A leg whose quantity must change
  is replaced: the new order is placed *before* the old one is cancelled, so the position is never
  without its stop.
* **Breakeven.** When TP1 fills and ``breakeven_after_tp1`` is on, the stop moves to the entry price for
  what remains, again new stop first, then the cancel.
* **Siblings.** When a bracket's exits have taken all it filled, execution cancels its other legs and
  what is left of its entry; after a partial exit the stop is resized to what stays open. When a
  symbol's position is flat again (a flatten), it cancels every exit order left on it and what is left
  of its entries (reason ``"position closed"``). It does not rely on the venue for either: one symbol
  may hold several brackets, and a leg left working would close another bracket's share.
* **Ids** are short, deterministic and exchange-safe (:func:`~smc_agent.engine.ids.order_id`).

State is event-sourced: :meth:`Execution.apply` folds :class:`~smc_agent.events.EntryAccepted` and the
order and position events into the brackets, and is the only code that changes them; the live handler
applies each event and then reacts to it by placing or cancelling orders. A journal replay calls
:meth:`Execution.apply` alone and rebuilds the brackets exactly, with no order sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Clock
from smc_agent.engine.ids import order_id
from smc_agent.events import (
    EntryAccepted,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
)
from smc_agent.model.commands import OrderCommand
from smc_agent.model.enums import BUY, SELL
from smc_agent.model.instrument import DOWN, UP, Instrument
from smc_agent.model.orders import LIMIT, MARKET, STOP, Order, OrderType
from smc_agent.venues import POSITION_CLOSED, Venue

__all__ = ["Execution", "ExecutionConfig"]

_ZERO = Decimal(0)
_LEG_CODES = {"stop": "s", "tp1": "a", "tp2": "b"}  # with the leg's version, the end of its order id


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    tp1_fraction: Decimal = Decimal("0.5")
    breakeven_after_tp1: bool = True


@dataclass(slots=True)
class _Bracket:
    plan: EntryAccepted
    entry_active: bool = True  # the entry order may still fill
    filled: Decimal = _ZERO  # of the entry
    exited: Decimal = _ZERO  # by this bracket's exit legs
    legs: dict[str, Order] = field(default_factory=dict)  # working exits by id, in submission order
    by_tag: dict[str, Decimal] = field(default_factory=dict)  # filled quantity of each exit leg tag
    versions: dict[str, int] = field(default_factory=dict)  # orders placed per leg tag
    stop_price: Decimal | None = None  # where the stop rests (moves to the entry at breakeven)
    closed: bool = False  # the symbol went flat after this entry filled: what is left of it is cancelled

    @property
    def open(self) -> Decimal:
        return self.filled - self.exited

    def working(self, tag: str) -> Order | None:
        return next((o for o in self.legs.values() if o.tag == tag), None)


class Execution:
    """Places entries and manages their brackets; one bracket per accepted entry."""

    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        venue: Venue,
        instruments: Mapping[str, Instrument],
        config: ExecutionConfig,
        position: Callable[[str], Decimal],
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._venue = venue
        self._instruments = instruments
        self._config = config
        self._position = position  # the account's signed position in a symbol (the portfolio's book)
        self._brackets: dict[str, _Bracket] = {}  # by entry order id
        self._by_signal: dict[str, str] = {}  # signal id -> entry order id
        self._flattens: dict[str, int] = {}  # flatten orders placed per symbol (their ids count them)
        for kind in (EntryAccepted, OrderEvent, PositionChanged):
            bus.subscribe(self._on_event, kind)

    # -- commands ---------------------------------------------------------------------------------

    def open(self, command: OrderCommand, quantity: Decimal, *, market: bool = False) -> str:
        """Plan the bracket of an accepted command, then submit its entry; return the entry's id."""
        entry_id = order_id(command.signal_id, "e")
        now = self._clock.now_ms()
        config = self._config
        self._bus.publish(
            EntryAccepted(event_ms=now, known_ms=now, entry_id=entry_id, command=command, quantity=quantity,
                          market=market, tp1_fraction=config.tp1_fraction,
                          breakeven_after_tp1=config.breakeven_after_tp1)
        )  # fmt: skip
        self._venue.submit(
            Order(entry_id, command.symbol, command.side, MARKET if market else LIMIT, quantity,
                  price=None if market else command.entry, expire_ms=command.expire_ms)
        )  # fmt: skip
        return entry_id

    def cancel_entry(self, signal_id: str, reason: str) -> bool:
        """Withdraw an entry that has not filled (its signal expired or was invalidated)."""
        entry_id = self._by_signal.get(signal_id)
        return entry_id is not None and self._venue.cancel(entry_id, reason)

    def cancel_all(self, symbol: str | None, reason: str, *, exits: bool = False) -> int:
        """Cancel working entries (and with ``exits`` their stops and targets too); returns how many."""
        orders = [o for o in self._venue.open_orders(symbol) if exits or not o.reduce_only]
        return sum(self._venue.cancel(o.client_order_id, reason) for o in orders)

    def cancel_order(self, order_id: str, reason: str) -> tuple[bool, str]:
        """Cancel one working entry; a stop or target of an open position is refused (close the position)."""
        order = next((o for o in self._venue.open_orders() if o.client_order_id == order_id), None)
        if order is None:
            return False, f"no working order {order_id!r} (unknown, filled or already cancelled)"
        if order.reduce_only:
            return False, f"order {order_id} protects the {order.symbol} position: close the position instead"
        if not self._venue.cancel(order_id, reason):
            return False, f"order {order_id} can no longer be cancelled"
        return True, f"order {order_id} cancelled"

    def flatten(self, symbol: str) -> None:
        """Close the whole position at the next open; its exit orders are cancelled once it is flat."""
        position = self._position(symbol)
        if position:
            count = self._flattens.get(symbol, 0) + 1
            side = SELL if position > 0 else BUY
            self._venue.submit(Order(order_id(f"{symbol}:flatten:{count}", "f"), symbol, side, MARKET,
                                     abs(position), reduce_only=True, tag="flatten"))  # fmt: skip

    # -- state ------------------------------------------------------------------------------------

    def stops(self) -> dict[str, Decimal]:
        """Where each held symbol's stop rests (the latest filled bracket's, as it stands: at the entry after
        breakeven), for the operator's view of the risk left in a position."""
        return {b.plan.command.symbol: b.stop_price for b in self._brackets.values()
                if b.open > 0 and b.stop_price is not None and not b.closed}  # fmt: skip

    def snapshot(self) -> dict[str, tuple[object, ...]]:
        """Every bracket as plain values: what a journal replay must rebuild exactly."""
        return {
            entry_id: (b.plan.command, b.plan.quantity, b.entry_active, b.closed, b.filled, b.exited, b.stop_price,
                       tuple(b.legs.values()), tuple(b.by_tag.items()), tuple(b.versions.items()))
            for entry_id, b in self._brackets.items()
        } | {"": (tuple(self._flattens.items()),)}  # fmt: skip

    def apply(self, event: Event) -> None:
        """Fold one event into the brackets (the live handler and a journal replay alike)."""
        if isinstance(event, EntryAccepted):
            self._brackets[event.entry_id] = _Bracket(event, stop_price=event.command.stop)
            self._by_signal[event.command.signal_id] = event.entry_id
        elif isinstance(event, PositionChanged):
            if not event.quantity:
                for entry_id, b in list(self._brackets.items()):
                    if b.plan.command.symbol == event.symbol and b.filled:
                        b.closed = True
                        if not b.entry_active:
                            self._drop(entry_id)
        elif isinstance(event, OrderEvent):
            self._apply_order(event)

    def _apply_order(self, event: OrderEvent) -> None:
        order = event.order
        if order.tag == "flatten":
            if isinstance(event, OrderSubmitted):
                self._flattens[order.symbol] = self._flattens.get(order.symbol, 0) + 1
            return
        bracket = self._brackets.get(order.client_order_id)
        if bracket is not None:  # the entry
            if isinstance(event, OrderFilled):
                bracket.filled += event.quantity
            if isinstance(event, OrderRejected | OrderCancelled | OrderExpired) or not order.active:
                bracket.entry_active = isinstance(event, OrderSubmitted | OrderAccepted)
                if not bracket.entry_active and (bracket.closed or not bracket.filled):
                    self._drop(order.client_order_id)
            return
        bracket = self._brackets.get(order.parent or "")
        if bracket is None:
            return
        legs = bracket.legs
        if isinstance(event, OrderSubmitted):
            legs[order.client_order_id] = order
            bracket.versions[order.tag] = bracket.versions.get(order.tag, 0) + 1
            if order.tag == "stop":
                bracket.stop_price = order.trigger
        elif order.client_order_id in legs:
            if isinstance(event, OrderFilled):
                bracket.exited += event.quantity
                bracket.by_tag[order.tag] = bracket.by_tag.get(order.tag, _ZERO) + event.quantity
            if order.active:
                legs[order.client_order_id] = order
            else:
                del legs[order.client_order_id]

    def _drop(self, entry_id: str) -> None:
        bracket = self._brackets.pop(entry_id)
        self._by_signal.pop(bracket.plan.command.signal_id, None)

    # -- reactions (live only) --------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, PositionChanged) and not event.quantity:
            self._close_siblings(event.symbol)  # before apply() forgets the brackets it closes
        self.apply(event)
        if isinstance(event, OrderFilled):
            order = event.order
            bracket = self._brackets.get(order.client_order_id)
            if bracket is not None:
                self._protect(bracket)
                return
            bracket = self._brackets.get(order.parent or "")
            if bracket is None:
                return
            if bracket.open <= 0:
                self._close_bracket(bracket, POSITION_CLOSED)
                return
            if order.tag == "tp1" and bracket.plan.breakeven_after_tp1:
                bracket.stop_price = bracket.plan.command.entry
            self._protect(bracket)

    def _close_siblings(self, symbol: str) -> None:
        for bracket in [b for b in self._brackets.values() if b.plan.command.symbol == symbol]:
            if bracket.filled:
                self._close_bracket(bracket, POSITION_CLOSED)

    def _close_bracket(self, bracket: _Bracket, reason: str) -> None:
        """Cancel a filled bracket's working legs and what is left of its entry."""
        for leg in list(bracket.legs):
            self._venue.cancel(leg, reason)
        if bracket.entry_active:
            self._venue.cancel(bracket.plan.entry_id, reason)

    def _protect(self, bracket: _Bracket) -> None:
        """Bring the stop and the take-profits to what is filled and not yet exited."""
        plan, command = bracket.plan, bracket.plan.command
        if bracket.open <= 0:
            return
        instrument = self._instruments[command.symbol]
        exit_side = command.side.opposite
        # A protective stop rounds away from the market it protects (see Instrument).
        trigger = instrument.round_price(bracket.stop_price or command.stop, DOWN if exit_side is SELL else UP)
        self._replace(bracket, "stop", bracket.open, STOP, trigger)
        targets = command.targets
        first = instrument.round_qty(bracket.filled * plan.tp1_fraction) if len(targets) > 1 else bracket.filled
        split = 0 < first < bracket.filled
        shares = (("tp1", targets[0], first), ("tp2", targets[1], bracket.filled - first)) if split else (
            ("tp1", targets[0], bracket.filled),)  # fmt: skip
        for tag, price, share in shares:
            self._replace(bracket, tag, share - bracket.by_tag.get(tag, _ZERO), LIMIT, price)

    def _replace(self, bracket: _Bracket, tag: str, quantity: Decimal, kind: OrderType, level: Decimal) -> None:
        """Make the working ``tag`` leg rest for ``quantity`` at ``level``: place the new order, then
        cancel the old one (never the other way round)."""
        old = bracket.working(tag)
        if old is not None and old.quantity - old.filled == quantity and (old.trigger or old.price) == level:
            return
        if quantity > 0:
            command = bracket.plan.command
            leg_id = order_id(command.signal_id, f"{_LEG_CODES[tag]}{bracket.versions.get(tag, 0) + 1}")
            stop = kind is STOP
            self._venue.submit(
                Order(leg_id, command.symbol, command.side.opposite, STOP if stop else LIMIT, quantity,
                      price=None if stop else level, trigger=level if stop else None, reduce_only=True, tag=tag,
                      parent=bracket.plan.entry_id)
            )  # fmt: skip
        if old is not None:
            reason = "moved to breakeven" if tag == "stop" and old.trigger != level else "resized"
            self._venue.cancel(old.client_order_id, reason)
