"""Events: immutable facts about what happened, in the order it happened.

Every state change in the trading core is one of these, published on the bus: a candle closed, an
order was submitted, accepted, filled, cancelled or expired, a position or the balance moved, the risk
gate denied a command, changed the trading state or moved one of its counters, an entry was accepted
with its bracket plan, a signal was created or changed, a session started or stopped, an operator
command was handled. Nothing in the core keeps state that these events cannot rebuild: a journal of
them restores the portfolio, the brackets, the risk gate and the signals (a test proves it after
every candle of a real run).

Each event carries when it happened (``event_ms``) and when it became known (``known_ms``); in a
backtest both are the simulated clock's time. ``seq`` and ``session_id`` are stamped by the bus at
publication (:class:`~smc_agent.core.bus.EventBus`): ``seq`` counts every event of a session from 1,
in the order subscribers see them, so a journal append is idempotent and a WebSocket client can resume
from a number. Events are frozen msgspec Structs, tagged with their class name, so one serialiser
(:mod:`smc_agent.events.codec`) writes and reads all of them for the journal, the API and notifications.

>>> candle = CandleClosed(60_000, 60_000, "EURUSD", "1m", 0, 1.1, 1.2, 1.0, 1.15, 3.0)
>>> candle.close, candle.seq
(1.15, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from smc_agent.model.commands import OperatorCommand, OrderCommand
from smc_agent.model.enums import BalanceReason, Mode, RiskLayer, Side, TradingState
from smc_agent.model.orders import Order
from smc_agent.model.signal import Signal

__all__ = [
    "AnyEvent",
    "BalanceChanged",
    "CandleClosed",
    "CommandHandled",
    "EntryAccepted",
    "Event",
    "OrderAccepted",
    "OrderCancelled",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderRejected",
    "OrderSubmitted",
    "PositionChanged",
    "RiskCheckpoint",
    "RiskRejected",
    "SessionStarted",
    "SessionStopped",
    "SignalChanged",
    "TradingStateChanged",
    "stamper",
]


class _Stamp(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    # Keyword-only with defaults, so they sort after every subclass's own fields: a candle event
    # can still be built by position. The bus fills both in.
    seq: int = 0
    session_id: str = ""


class Event(_Stamp, frozen=True, gc=False, tag=True):
    event_ms: int
    known_ms: int


class CandleClosed(Event, frozen=True, gc=False):
    """A closed candle of a traded stream (symbol x timeframe); ``event_ms`` is its close time.

    Its fields may be passed by position (other events take theirs by keyword): a replay builds a
    million of these.
    """

    symbol: str
    timeframe: str
    time: int  # open time
    open: float
    high: float
    low: float
    close: float
    volume: float


class OrderEvent(Event, frozen=True, gc=False, kw_only=True):
    """An order's life: ``order`` is the order as it stands after the event."""

    order: Order


class OrderSubmitted(OrderEvent, frozen=True, gc=False, kw_only=True):
    """Sent to the venue (an intent: the journal holds it before any answer can arrive)."""


class OrderAccepted(OrderEvent, frozen=True, gc=False, kw_only=True):
    """The venue holds the order, normalised to its tick and lot."""


class OrderRejected(OrderEvent, frozen=True, gc=False, kw_only=True):
    reason: str


class OrderCancelled(OrderEvent, frozen=True, gc=False, kw_only=True):
    reason: str


class OrderExpired(OrderEvent, frozen=True, gc=False, kw_only=True):
    """Its ``expire_ms`` passed before it filled (what was filled stays filled)."""


class OrderFilled(OrderEvent, frozen=True, gc=False, kw_only=True):
    """A fill: ``order`` is the order after it. ``slippage`` is per unit, against the trader."""

    price: Decimal
    quantity: Decimal
    fee: Decimal
    slippage: Decimal
    maker: bool


class PositionChanged(Event, frozen=True, gc=False, kw_only=True):
    """The position after a fill; ``quantity`` 0 means flat. ``realized`` is this fill's realised P&L."""

    symbol: str
    side: Side | None
    quantity: Decimal
    average_price: Decimal
    realized: Decimal


class BalanceChanged(Event, frozen=True, gc=False, kw_only=True):
    balance: Decimal
    change: Decimal
    reason: BalanceReason


class RiskRejected(Event, frozen=True, gc=False, kw_only=True):
    """The risk gate refused an order command; nothing was sent to the venue."""

    symbol: str
    layer: RiskLayer
    reason: str
    command: OrderCommand


class TradingStateChanged(Event, frozen=True, gc=False, kw_only=True):
    old: TradingState
    new: TradingState
    reason: str


class RiskCheckpoint(Event, frozen=True, gc=False, kw_only=True):
    """Everything the risk gate remembers, published whenever any of it changes (a new peak, a new
    trading day, an entry counted, a loss, a state change, a pause), so a restart restores the gate
    exactly instead of re-arming the kill switch at a lower peak.

    ``working_entries`` are the entries accepted but not filled yet, which the portfolio limits count
    as positions. ``open_trades`` is the side and realised P&L so far of each symbol's open trade (the loss cooldown
    judges a trade as a whole when it ends); ``day`` is the trading day as an ISO date.
    """

    state: TradingState
    state_reason: str
    paused: bool
    peak: Decimal | None
    day: str | None
    day_start: Decimal | None
    day_breach: str | None
    entries: dict[str, int]
    last_loss_ms: dict[str, int]
    open_trades: dict[str, tuple[Side, Decimal]]
    working_entries: dict[str, tuple[str, Side, Decimal]]  # accepted, unfilled: entry id -> symbol, side, notional


class EntryAccepted(Event, frozen=True, gc=False, kw_only=True):
    """The gate accepted an entry and execution planned its bracket: published before the entry is
    submitted, so a journal holds the stop and targets before the venue can fill anything.

    ``command`` is the command as executed (its stop rounded as it will rest); TP1 takes
    ``tp1_fraction`` of the filled quantity (lot-rounded) when there are two targets; after TP1 the stop
    moves to the entry price when ``breakeven_after_tp1``.
    """

    entry_id: str
    command: OrderCommand
    quantity: Decimal
    market: bool
    tp1_fraction: Decimal
    breakeven_after_tp1: bool


class SignalChanged(Event, frozen=True, gc=False, kw_only=True):
    """A signal was created (version 1, pending) or changed: a new version, a new status (triggered,
    filled, expired, invalidated, closed with the R achieved). ``signal`` is the whole new state."""

    signal: Signal


class SessionStarted(Event, frozen=True, gc=False, kw_only=True):
    mode: Mode
    streams: tuple[str, ...]  # "SYMBOL@TIMEFRAME", in the session's tie-break order
    resumed: bool


class SessionStopped(Event, frozen=True, gc=False, kw_only=True):
    reason: str


class CommandHandled(Event, frozen=True, gc=False, kw_only=True):
    """An operator command and what came of it: ``accepted`` False with the reason when it was refused."""

    command: OperatorCommand
    accepted: bool
    outcome: str


AnyEvent = (
    CandleClosed
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderCancelled
    | OrderExpired
    | OrderFilled
    | PositionChanged
    | BalanceChanged
    | RiskRejected
    | TradingStateChanged
    | RiskCheckpoint
    | EntryAccepted
    | SignalChanged
    | SessionStarted
    | SessionStopped
    | CommandHandled
)


def stamper(session_id: str) -> Callable[[Event, int], Event]:
    """The bus's stamp for a session: the event with its sequence number and the session's id."""
    replace = msgspec.structs.replace

    def stamp(event: Event, seq: int) -> Event:
        return replace(event, seq=seq, session_id=session_id)

    return stamp
