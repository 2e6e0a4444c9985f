"""Orders and their state machine.

``NEW -> ACCEPTED | REJECTED``; ``ACCEPTED -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED``;
``PARTIALLY_FILLED -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED``. Anything else is a bug and raises.
An order is immutable: each transition returns a new one, and the venue publishes an event for it.

>>> from decimal import Decimal
>>> o = Order("o-1", "EURUSD", Side.BUY, OrderType.LIMIT, Decimal("1000"), price=Decimal("1.1"))
>>> o.to(OrderStatus.ACCEPTED).status
<OrderStatus.ACCEPTED: 'accepted'>
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from smc_agent.core.errors import SmcAgentError
from smc_agent.model.enums import Side

__all__ = [
    "ACCEPTED", "CANCELLED", "EXPIRED", "FILLED", "LIMIT", "MARKET", "NEW", "PARTIALLY_FILLED", "REJECTED", "STOP",
    "Order", "OrderStatus", "OrderType",
]  # fmt: skip


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


# Module constants for the hot paths (see smc_agent.model.enums on why).
MARKET, LIMIT, STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP
NEW, ACCEPTED, PARTIALLY_FILLED = OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED
FILLED, CANCELLED, REJECTED, EXPIRED = (
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
    OrderStatus.EXPIRED,
)

_NEXT = {
    NEW: {ACCEPTED, REJECTED},
    ACCEPTED: {
        PARTIALLY_FILLED,
        FILLED,
        CANCELLED,
        EXPIRED,
    },
    PARTIALLY_FILLED: {PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED},
}


class Order(msgspec.Struct, frozen=True, gc=False):
    """One order. ``price`` is the limit price; ``trigger`` the stop price; ``tag`` says its role
    in a bracket (``entry``, ``stop``, ``tp1``, ``tp2``, ``flatten``, ``manual``) and ``parent`` links it
    to its entry. ``expire_ms`` ends an unfilled order at that time (good till date), if set.

    A msgspec Struct: frozen, built in C (a tenth of a dataclass's cost; fills are a hot path), and
    encoded by the one event serialiser (:mod:`smc_agent.events.codec`) with its Decimals exact."""

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
    status: OrderStatus = NEW
    filled: Decimal = Decimal(0)
    expire_ms: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def active(self) -> bool:
        return self.status in (ACCEPTED, PARTIALLY_FILLED)

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
        if status not in _NEXT.get(self.status, ()):
            raise SmcAgentError(f"order {self.client_order_id}: illegal transition {self.status} -> {status}")
        # A direct call: dataclasses.replace costs several times more, and fills are a hot path.
        return Order(
            self.client_order_id, self.symbol, self.side, self.type, self.quantity if quantity is None else quantity,
            self.price if price is None else price, self.trigger if trigger is None else trigger, self.reduce_only,
            self.tag, self.parent, status, self.filled if filled is None else filled, self.expire_ms,
        )  # fmt: skip
