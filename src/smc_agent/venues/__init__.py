"""Venues: where orders go. One small port, :class:`Venue`, and its implementations.

The core never knows which venue it talks to: the composition root picks the simulated venue for
backtests and paper trading and an exchange venue for live trading, and both answer the same calls.
Outcomes (accepted, rejected, filled, cancelled, expired) come back as events on the bus, never as
return values the caller must interpret, so a journal sees exactly what the strategy saw. The queries
(open orders, positions, fills since a time) are what reconciliation after a restart compares with
the journal. Market data is not the port's business: the simulated venue takes each candle from the
kernel as a market-data listener; an exchange fills on its own.

>>> from smc_agent.core.bus import EventBus
>>> from smc_agent.core.clock import SimulatedClock
>>> venue: Venue = SimulatedVenue(EventBus(), SimulatedClock(), {}, FeeModel.profile("zero"),
...                               FixedBpsSlippage(Decimal(0)))
>>> venue.positions()
{}
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from smc_agent.events import OrderFilled
from smc_agent.model.orders import Order
from smc_agent.venues.costs import (
    FEE_PROFILES,
    AtrSeries,
    AtrSlippage,
    AtrSource,
    FeeModel,
    FixedBpsSlippage,
    SlippageModel,
    SpreadSlippage,
)
from smc_agent.venues.simulated import POSITION_CLOSED, RejectRule, SimulatedVenue

__all__ = [
    "FEE_PROFILES",
    "POSITION_CLOSED",
    "AtrSeries",
    "AtrSlippage",
    "AtrSource",
    "FeeModel",
    "FixedBpsSlippage",
    "RejectRule",
    "SimulatedVenue",
    "SlippageModel",
    "SpreadSlippage",
    "Venue",
]


class Venue(Protocol):
    """Where orders are sent and fills come from; every outcome is published as an event."""

    def submit(self, order: Order) -> None:
        """Send a new order; publishes OrderSubmitted, then OrderAccepted or OrderRejected(reason) when known."""
        ...

    def cancel(self, client_order_id: str, reason: str) -> bool:
        """Cancel an active order (publishes OrderCancelled); False when unknown or no longer active."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Active orders, of one symbol or all, in submission order."""
        ...

    def positions(self) -> dict[str, Decimal]:
        """Every non-flat position at the venue, signed: > 0 long, < 0 short."""
        ...

    def fills_since(self, ms: int) -> list[OrderFilled]:
        """The fills at or after ``ms`` (epoch ms), in the order they happened."""
        ...


def _conforms(venue: SimulatedVenue) -> Venue:
    return venue  # mypy proves here that the simulated venue implements the port
