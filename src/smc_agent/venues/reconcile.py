"""Reconciliation at start: what the exchange did while the agent was down, as events and as differences.

The journal knows what the agent saw; the exchange knows what happened. Before a live session takes its
first candle, :func:`reconcile` compares them and returns:

* the **events** that bring the journal up to date, for the caller to publish (and so journal): each order
  the journal holds as working or sent is looked up by its client id (:meth:`CcxtVenue.catch_up`), giving
  the fills it had while we were down (one :class:`OrderFilled` per trade, with the trade's own price, fee
  and time), an :class:`OrderCancelled` for one cancelled outside the agent (``cancelled at the exchange``),
  an :class:`OrderExpired`, an :class:`OrderAccepted` for one whose answer was lost, an
  :class:`OrderRejected` (``never reached the exchange``) for one journaled as sent that the exchange never
  got, or an :class:`OrderCancelled` (``unknown at the exchange``) for one it no longer knows. The venue
  follows the orders still working from then on.
* the **differences**, each logged and returned for the store: every event above, plus what no event can
  settle and a person should look at: an open order at the exchange that the journal does not know
  (reported, never adopted: the agent does not manage what it did not place), a trade after the journal's
  last fill of an order it does not know, and a position (spot: the base asset held) that differs from the
  journal's once the missing fills are counted. On spot a buy's fee is paid in the base asset, so after a
  buy the exchange holds a little less than the journal's position: that shows as a position difference.

When everything agrees there are no events and no differences.

Use (the composition root, after the journal is restored and before the session runs)::

    result = await reconcile(venue, JournalView(open_orders, positions, last_fill_ms))
    for event in result.events:
        session.report(event)            # published and journaled by the session
    store.record_differences(result.differences)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from smc_agent.core.logs import get_logger
from smc_agent.events import (
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from smc_agent.model.orders import Order
from smc_agent.venues.ccxt_venue import CcxtVenue

__all__ = ["Difference", "DifferenceKind", "JournalView", "Reconciliation", "reconcile"]

_log = get_logger(__name__)
_ZERO = Decimal(0)


class DifferenceKind(StrEnum):
    FILLED_WHILE_DOWN = "filled while down"
    CANCELLED_OUTSIDE = "cancelled outside the agent"
    EXPIRED_WHILE_DOWN = "expired while down"
    ACCEPTED_WHILE_DOWN = "accepted while down"
    NEVER_SENT = "never reached the exchange"
    GONE = "unknown at the exchange"
    UNKNOWN_ORDER = "open order unknown to the journal"
    UNKNOWN_FILL = "trade of an order unknown to the journal"
    POSITION = "position differs"


@dataclass(frozen=True, slots=True)
class JournalView:
    """What the journal says: the orders working or sent (by client id), the signed positions by symbol,
    and the time of the last fill it holds (epoch ms; None when it holds none)."""

    open_orders: Mapping[str, Order]
    positions: Mapping[str, Decimal]
    last_fill_ms: int | None


@dataclass(frozen=True, slots=True)
class Difference:
    kind: DifferenceKind
    symbol: str
    client_order_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    events: list[OrderEvent]
    differences: list[Difference]


async def reconcile(venue: CcxtVenue, view: JournalView) -> Reconciliation:
    """Compare the exchange with ``view``; see the module docstring for what comes back."""
    events: list[OrderEvent] = []
    differences: list[Difference] = []
    for order in view.open_orders.values():
        caught = await venue.catch_up(order)
        events += caught
        differences += [_describe(event) for event in caught]
    for found in await venue.fetch_open_orders():
        if found.client_order_id not in view.open_orders:
            differences.append(Difference(DifferenceKind.UNKNOWN_ORDER, found.symbol, found.client_order_id or None,
                                          f"{found.side} {found.type} {found.quantity} at {found.price} "
                                          f"(exchange id {found.exchange_id})"))  # fmt: skip
    if view.last_fill_ms is not None:
        ours = {venue.exchange_id(cid) for cid in view.open_orders} - {None}
        for trade in await venue.fetch_trades_since(view.last_fill_ms + 1):
            if str(trade.get("order")) not in ours:
                detail = f"{trade['side']} {trade['amount']} at {trade['price']} (exchange order {trade.get('order')})"
                differences.append(Difference(DifferenceKind.UNKNOWN_FILL, trade["symbol"], None, detail))
    differences += _positions(view, events, await _holdings(venue))
    for difference in differences:
        _log.warning("reconciliation difference", kind=str(difference.kind), symbol=difference.symbol,
                     client_order_id=difference.client_order_id, detail=difference.detail)  # fmt: skip
    if not differences:
        _log.info("reconciled: the exchange agrees with the journal", orders=len(view.open_orders))
    return Reconciliation(events, differences)


async def _holdings(venue: CcxtVenue) -> dict[str, Decimal]:
    await venue.refresh_balances()
    return venue.positions()


def _positions(view: JournalView, events: list[OrderEvent], held: Mapping[str, Decimal]) -> list[Difference]:
    expected = dict(view.positions)
    for event in events:
        if isinstance(event, OrderFilled):
            symbol = event.order.symbol
            expected[symbol] = expected.get(symbol, _ZERO) + event.quantity * event.order.side.sign
    differences = []
    for symbol in sorted(set(expected) | set(held)):
        there, ours = held.get(symbol, _ZERO), expected.get(symbol, _ZERO)
        if there != ours:
            detail = f"the exchange holds {there}, the journal (with the fills above) {ours}"
            differences.append(Difference(DifferenceKind.POSITION, symbol, None, detail))
    return differences


def _describe(event: OrderEvent) -> Difference:
    order = event.order
    if isinstance(event, OrderFilled):
        kind, detail = DifferenceKind.FILLED_WHILE_DOWN, f"{event.quantity} at {event.price} ({order.status})"
    elif isinstance(event, OrderCancelled):
        gone = event.reason == "unknown at the exchange"
        kind, detail = (DifferenceKind.GONE if gone else DifferenceKind.CANCELLED_OUTSIDE), event.reason
    elif isinstance(event, OrderExpired):
        kind, detail = DifferenceKind.EXPIRED_WHILE_DOWN, f"filled {order.filled} of {order.quantity}"
    elif isinstance(event, OrderAccepted):
        kind, detail = DifferenceKind.ACCEPTED_WHILE_DOWN, f"{order.quantity} accepted"
    else:
        assert isinstance(event, OrderRejected)  # catch_up makes no other kind
        kind, detail = DifferenceKind.NEVER_SENT, event.reason
    return Difference(kind, order.symbol, order.client_order_id, detail)
