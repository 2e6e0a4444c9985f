"""Orders and their state machine.

``NEW -> ACCEPTED | REJECTED``; ``ACCEPTED -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED``;
``PARTIALLY_FILLED -> PARTIALLY_FILLED | FILLED | CANCELLED``. Anything else is a bug and raises.
An order is immutable: each transition returns a new one, and the venue publishes an event for it.

>>> from decimal import Decimal
>>> o = Order("o-1", "EURUSD", Side.BUY, OrderType.LIMIT, Decimal("1000"), price=Decimal("1.1"))
>>> o.to(OrderStatus.ACCEPTED).status
<OrderStatus.ACCEPTED: 'accepted'>
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from smc_agent.core.errors import SmcAgentError
from smc_agent.core.fastinit import fast_init
from smc_agent.model.enums import Side

__all__ = ["Order", "OrderStatus", "OrderType"]


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class OrderStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


_NEXT = {
    OrderStatus.NEW: {OrderStatus.ACCEPTED, OrderStatus.REJECTED},
    OrderStatus.ACCEPTED: {
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.EXPIRED,
    },
    OrderStatus.PARTIALLY_FILLED: {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED},
}


@fast_init
@dataclass(frozen=True, slots=True)
class Order:
    """One order. ``price`` is the limit price; ``trigger`` the stop price; ``tag`` says its role
    in a bracket (``entry``, ``stop``, ``tp1``, ``tp2``) and ``parent`` links it to its entry."""

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger: Decimal | None = None
    reduce_only: bool = False
    tag: str = "entry"
    parent: str | None = None
    status: OrderStatus = OrderStatus.NEW
    filled: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def active(self) -> bool:
        return self.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)

    def to(
        self,
        status: OrderStatus,
        *,
        filled: Decimal | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger: Decimal | None = None,
    ) -> Order:
        """The order after a transition; the venue passes the quantity and prices it normalised on accepting."""
        if status not in _NEXT.get(self.status, set()):
            raise SmcAgentError(f"order {self.client_order_id}: illegal transition {self.status} -> {status}")
        # A direct call: dataclasses.replace costs several times more, and fills are a hot path.
        return Order(
            self.client_order_id, self.symbol, self.side, self.type, self.quantity if quantity is None else quantity,
            self.price if price is None else price, self.trigger if trigger is None else trigger, self.reduce_only,
            self.tag, self.parent, status, self.filled if filled is None else filled,
        )  # fmt: skip
