"""The account: balance, positions and equity, changed only by fill events.

One quote currency and netted positions per symbol, margin-style (as for futures, CFDs and forex):
opening a position moves no cash; closing it realises its P&L into the balance; every fee is paid
from the balance. Equity is the balance plus the unrealised P&L at the last mark. Each change is
published (:class:`PositionChanged`, :class:`BalanceChanged`), so a journal can rebuild the account.

>>> from smc_agent.core.bus import EventBus
>>> account = Portfolio(EventBus(), Decimal("10000"))
>>> account.equity()
Decimal('10000')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from smc_agent.core.bus import EventBus
from smc_agent.events import BalanceChanged, OrderFilled, PositionChanged
from smc_agent.model.enums import BUY, SELL, BalanceReason, Side
from smc_agent.model.instrument import to_decimal

__all__ = ["Portfolio", "Position", "value_of"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    quantity: Decimal = Decimal(0)  # signed: > 0 long, < 0 short
    average_price: Decimal = Decimal(0)
    last: float | Decimal = Decimal(0)  # the latest price: a candle close (float) or a fill price

    @property
    def mark(self) -> Decimal:
        """The latest price as a Decimal (a close as written, see :func:`to_decimal`), made when asked."""
        return to_decimal(self.last)


def value_of(balance: Decimal, held: Iterable[tuple[Decimal, Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    """Equity and exposure of a balance and open positions given as (signed quantity, average price, mark):
    the balance plus each position's unrealised P&L, and the sum of their notionals at the marks."""
    unrealized = notional = Decimal(0)
    for quantity, average_price, mark in held:
        unrealized += (mark - average_price) * quantity
        notional += abs(quantity) * mark
    return balance + unrealized, notional


class Portfolio:
    """Balance and positions, from fills only (it never asks the venue)."""

    def __init__(self, bus: EventBus, initial_balance: Decimal) -> None:
        self._bus = bus
        self.balance = initial_balance
        self.fees_paid = Decimal(0)
        self.positions: dict[str, Position] = {}
        self._valuation: tuple[Decimal, Decimal] | None = None  # until the next mark or fill
        # Float copies for approx_equity, refreshed at each fill: the balance, (position, quantity,
        # average price) of each open one, and the mark-free part of the error scale.
        self._balance_f = float(initial_balance)
        self._open_f: list[tuple[Position, float, float]] = []
        self._scale_f = abs(self._balance_f)
        self.revision = 0  # counts the fills applied: what the balance and positions are a function of
        bus.subscribe(self._on_fill, OrderFilled)

    def snapshot(self) -> tuple[Decimal, Decimal, dict[str, tuple[Decimal, Decimal, Decimal]]]:
        """Balance, fees paid, and (signed quantity, average price, mark) of every symbol traded:
        what a journal replay must rebuild exactly."""
        return (
            self.balance,
            self.fees_paid,
            {s: (p.quantity, p.average_price, p.mark) for s, p in self.positions.items()},
        )

    def equity(self) -> Decimal:
        return self.valuation()[0]

    def position_of(self, symbol: str) -> Decimal:
        """The signed quantity held in ``symbol``: > 0 long, < 0 short, 0 flat."""
        position = self.positions.get(symbol)
        return _ZERO if position is None else position.quantity

    def open_positions(self) -> Mapping[str, tuple[Side, Decimal, Decimal]]:
        """Symbol -> (side, quantity, notional at the last mark) for every non-flat position."""
        return {
            symbol: (BUY if p.quantity > 0 else SELL, abs(p.quantity), abs(p.quantity) * p.mark)
            for symbol, p in self.positions.items()
            if p.quantity
        }

    def valuation(self) -> tuple[Decimal, Decimal]:
        """Equity and exposure (open notional) in one pass: what the equity curve records per candle.

        Kept until the next mark or fill, because the risk gate and the recorder both ask after every candle.
        """
        if self._valuation is None:
            held = [(p.quantity, p.average_price, p.mark) for p in self.positions.values() if p.quantity]
            self._valuation = value_of(self.balance, held)
        return self._valuation

    def approx_equity(self) -> tuple[float, float]:
        """Equity in floats, and the scale of its rounding error (balance plus gross prices × quantities).

        The error is below 1e-15 of the scale. The risk gate reads this after every candle and asks
        for the exact :meth:`equity` only when the approximation is near a limit or a new peak.
        """
        equity, scale = self._balance_f, self._scale_f
        for position, quantity, average in self._open_f:
            last = float(position.last)
            equity += (last - average) * quantity
            scale += abs(last * quantity)
        return equity, scale

    def mark(self, symbol: str, price: float | Decimal) -> None:
        """Value an open position at a new price (the candle close); flat symbols cost nothing."""
        position = self.positions.get(symbol)
        if position is not None and position.quantity:
            position.last = price
            self._valuation = None

    def _on_fill(self, fill: OrderFilled) -> None:
        for event in self.apply_fill(fill):
            self._bus.publish(event)

    def apply_fill(self, fill: OrderFilled) -> tuple[PositionChanged, BalanceChanged]:
        """Book ``fill`` and return the position and balance changes it makes (published by the live
        portfolio; a journal replay already holds them, so it only books)."""
        order = fill.order
        self._valuation = None
        position = self.positions.get(order.symbol)
        if position is None:
            position = self.positions[order.symbol] = Position(last=fill.price)
        signed = fill.quantity if order.side is BUY else -fill.quantity
        realized = _ZERO
        old = position.quantity
        if old and (old > 0) != (signed > 0):  # reduces (or flips) the position
            closed = min(abs(signed), abs(old))
            realized = (fill.price - position.average_price) * closed * (1 if old > 0 else -1)
        new = old + signed
        if new == 0:
            position.average_price = _ZERO
        elif old == 0 or (old > 0) != (new > 0):  # opened, or flipped: the rest opens at the fill price
            position.average_price = fill.price
        elif (old > 0) == (signed > 0):  # added to: weighted average
            position.average_price = (position.average_price * abs(old) + fill.price * abs(signed)) / abs(new)
        position.quantity = new
        position.last = fill.price
        change = realized - fill.fee
        self.balance += change
        self.fees_paid += fill.fee
        self.revision += 1
        self._balance_f = float(self.balance)
        self._open_f = [(p, float(p.quantity), float(p.average_price)) for p in self.positions.values() if p.quantity]
        self._scale_f = abs(self._balance_f)
        for _, quantity, average in self._open_f:
            self._scale_f += abs(quantity * average)
        side = None if new == 0 else (BUY if new > 0 else SELL)
        at, known = fill.event_ms, fill.known_ms
        moved = PositionChanged(
            event_ms=at, known_ms=known, symbol=order.symbol, side=side, quantity=abs(new),
            average_price=position.average_price, realized=realized,
        )  # fmt: skip
        return moved, BalanceChanged(event_ms=at, known_ms=known, balance=self.balance, change=change,
                                     reason=BalanceReason.FILL)  # fmt: skip
