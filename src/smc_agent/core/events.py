"""Events: immutable facts about what happened, in the order it happened.

Every state change in the trading core (an order accepted or filled, a position opened or closed, the
balance moved, the risk state changed) is one of these, published on the bus. Each carries when it
happened (``event_ms``) and when it became known (``known_ms``); in a backtest both are the simulated
clock's time. A journal of these events is enough to rebuild orders, positions and balances after a
restart, which is why nothing changes state without emitting one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from smc_agent.core.fastinit import fast_init
from smc_agent.model.enums import Side
from smc_agent.model.orders import Order

__all__ = [
    "BalanceChanged",
    "CandleClosed",
    "Event",
    "OrderAccepted",
    "OrderCancelled",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderSubmitted",
    "PositionChanged",
    "RiskRejected",
    "TradingStateChanged",
]


@dataclass(frozen=True, slots=True)
class Event:
    event_ms: int
    known_ms: int


@fast_init
@dataclass(frozen=True, slots=True)
class CandleClosed(Event):
    """A closed candle of the entry timeframe; ``event_ms`` is its close time.

    Its fields may be passed by position (other events take theirs by keyword): a replay builds a
    million of these, and keyword arguments cost a fifth of the construction.
    """

    symbol: str
    timeframe: str
    time: int  # open time
    open: float
    high: float
    low: float
    close: float
    volume: float


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSubmitted(Event):
    order: Order


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(Event):
    order: Order


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(Event):
    order: Order
    reason: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(Event):
    order: Order
    reason: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired(Event):
    order: Order


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(Event):
    """A fill: ``order`` is the order after it. ``slippage`` is per unit, against the trader."""

    order: Order
    price: Decimal
    quantity: Decimal
    fee: Decimal
    slippage: Decimal
    maker: bool


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionChanged(Event):
    """The position after a fill; ``quantity`` 0 means flat. ``realized`` is this fill's realised P&L."""

    symbol: str
    side: Side | None
    quantity: Decimal
    average_price: Decimal
    realized: Decimal


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceChanged(Event):
    balance: Decimal
    change: Decimal
    reason: str  # "fill", "fee", "deposit"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class RiskRejected(Event):
    """The risk gate refused an order command; nothing was sent to the venue."""

    symbol: str
    layer: str  # trade, symbol, portfolio, day, account
    reason: str
    command: object


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class TradingStateChanged(Event):
    old: str
    new: str
    reason: str
