"""Venues: where orders go. One small port, :class:`Venue`, and its implementations.

The core never knows which venue it talks to: the composition root picks the simulated venue for
backtests and paper trading and an exchange venue for live trading, and both answer the same five
calls. Events (accepted, rejected, filled, cancelled) come back on the bus, never as return values
the caller must interpret, so a journal sees exactly what the strategy saw.

>>> from smc_agent.core.bus import EventBus
>>> from smc_agent.core.clock import SimulatedClock
>>> venue: Venue = SimulatedVenue(EventBus(), SimulatedClock(), {}, FeeModel.profile("zero"),
...                               FixedBpsSlippage(Decimal(0)))
>>> venue.position("EURUSD")
Decimal('0')
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from smc_agent.core.events import CandleClosed
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

    def submit(self, order: Order) -> Order:
        """Send a new order; publishes OrderSubmitted then OrderAccepted or OrderRejected(reason)."""
        ...

    def cancel(self, client_order_id: str, reason: str) -> bool:
        """Cancel an active order (publishes OrderCancelled); False when unknown or no longer active."""
        ...

    def on_candle(self, candle: CandleClosed) -> None:
        """A candle of the entry timeframe closed: fill what it fills (a no-op where the exchange fills)."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Active orders, of one symbol or all, in submission order."""
        ...

    def position(self, symbol: str) -> Decimal:
        """Signed net quantity: > 0 long, < 0 short, 0 flat."""
        ...


def _conforms(venue: SimulatedVenue) -> Venue:
    return venue  # mypy proves here that the simulated venue implements the port
