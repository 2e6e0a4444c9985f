"""Projections: the query tables a batch of events fills, in the transaction that stores the events.

One function per event type (:data:`PROJECTIONS`, a dict dispatch) turns an event into rows; the
journal writes each table's rows with one bulk statement per batch. Tables that keep the latest state
(orders, positions, cursors) are upserted, with a batch's rows for one key reduced to its last first
(PostgreSQL refuses to update a row twice in one statement). Decimals are written as ``str`` (exact).

>>> from decimal import Decimal
>>> from smc_agent.events import BalanceChanged
>>> from smc_agent.model.enums import BalanceReason
>>> rows = Rows("s", open_symbols=set())
>>> project(rows, [BalanceChanged(event_ms=5, known_ms=5, balance=Decimal("10.50"), change=Decimal("0.5"),
...                               reason=BalanceReason.FILL, seq=3)])
>>> rows.snapshots
[{'session_id': 's', 'seq': 3, 'event_ms': 5, 'balance': '10.50', 'equity': '10.50'}]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from smc_agent.events import (
    BalanceChanged,
    CandleClosed,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
    RiskRejected,
    SignalChanged,
    TradingStateChanged,
)
from smc_agent.model.enums import TradingState

__all__ = ["PROJECTIONS", "Row", "Rows", "open_symbols", "project"]

Row = dict[str, Any]

# TradingStateChanged's new state, as the risk_events table names it.
_STATE_KIND = {TradingState.HALTED: "halted", TradingState.REDUCING: "reducing", TradingState.ACTIVE: "reset"}


@dataclass
class Rows:
    """A batch's rows per table. ``open_symbols`` are the session's symbols with a position open, as
    the batch leaves them (a snapshot's equity is its balance only when there is none). With a
    ``venue`` (a session on live data), each candle is also a row of the candles table, under that venue:
    the market data that the session received, kept with the events it caused."""

    session_id: str
    open_symbols: set[str]
    venue: str | None = None
    candles: dict[tuple[str, str, int], Row] = field(default_factory=dict)
    cursors: dict[tuple[str, str], Row] = field(default_factory=dict)
    orders: dict[str, Row] = field(default_factory=dict)
    positions: dict[str, Row] = field(default_factory=dict)
    fills: list[Row] = field(default_factory=list)
    signals: list[Row] = field(default_factory=list)
    snapshots: list[Row] = field(default_factory=list)
    risk: list[Row] = field(default_factory=list)


def _candle(event: Event, rows: Rows) -> None:
    assert isinstance(event, CandleClosed)
    key = (event.symbol, event.timeframe)
    rows.cursors[key] = {"session_id": rows.session_id, "symbol": event.symbol, "timeframe": event.timeframe,
                         "close_ms": event.event_ms}  # fmt: skip
    if rows.venue is not None:
        # As Store.save_candles writes prices: the shortest text that reads back as the same float.
        rows.candles[(*key, event.time)] = {
            "venue": rows.venue, "symbol": event.symbol, "timeframe": event.timeframe, "open_ms": event.time,
            "open": repr(event.open), "high": repr(event.high), "low": repr(event.low), "close": repr(event.close),
            "volume": repr(event.volume),
        }  # fmt: skip


def _order(event: Event, rows: Rows) -> None:
    assert isinstance(event, OrderEvent)
    order = event.order
    rows.orders[order.client_order_id] = {
        "session_id": rows.session_id, "client_order_id": order.client_order_id, "venue_order_id": None,
        "symbol": order.symbol, "side": order.side.value, "type": order.type.value, "quantity": str(order.quantity),
        "price": None if order.price is None else str(order.price), "status": order.status.value, "tag": order.tag,
        "updated_ms": event.event_ms,
    }  # fmt: skip


def _fill(event: Event, rows: Rows) -> None:
    assert isinstance(event, OrderFilled)
    _order(event, rows)
    rows.fills.append({"session_id": rows.session_id, "seq": event.seq, "client_order_id": event.order.client_order_id,
                       "price": str(event.price), "quantity": str(event.quantity), "fee": str(event.fee),
                       "event_ms": event.event_ms})  # fmt: skip


def _position(event: Event, rows: Rows) -> None:
    assert isinstance(event, PositionChanged)
    rows.positions[event.symbol] = {
        "session_id": rows.session_id, "symbol": event.symbol, "side": None if event.side is None else event.side.value,
        "quantity": str(event.quantity), "average_price": str(event.average_price), "updated_ms": event.event_ms,
    }  # fmt: skip
    if event.quantity == 0:
        rows.open_symbols.discard(event.symbol)
    else:
        rows.open_symbols.add(event.symbol)


def _balance(event: Event, rows: Rows) -> None:
    assert isinstance(event, BalanceChanged)
    balance = str(event.balance)
    rows.snapshots.append({"session_id": rows.session_id, "seq": event.seq, "event_ms": event.event_ms,
                           "balance": balance, "equity": None if rows.open_symbols else balance})  # fmt: skip


def _denied(event: Event, rows: Rows) -> None:
    assert isinstance(event, RiskRejected)
    rows.risk.append({"session_id": rows.session_id, "seq": event.seq, "event_ms": event.event_ms, "kind": "denied",
                      "symbol": event.symbol, "reason": f"{event.layer.value}: {event.reason}"})  # fmt: skip


def _state(event: Event, rows: Rows) -> None:
    assert isinstance(event, TradingStateChanged)
    rows.risk.append({"session_id": rows.session_id, "seq": event.seq, "event_ms": event.event_ms,
                      "kind": _STATE_KIND[event.new], "symbol": None,
                      "reason": f"{event.old.value} -> {event.new.value}: {event.reason}"})  # fmt: skip


def _signal(event: Event, rows: Rows) -> None:
    assert isinstance(event, SignalChanged)
    signal = event.signal
    rows.signals.append({
        "session_id": rows.session_id, "seq": event.seq, "signal_id": signal.id, "version": signal.version,
        "status": signal.status.value, "symbol": signal.symbol, "setup": signal.setup, "side": signal.side.value,
        "evidence": list(signal.evidence), "outcome_r": None if signal.r_multiple is None else repr(signal.r_multiple),
        "event_ms": event.event_ms,
    })  # fmt: skip


PROJECTIONS: dict[type[Event], Callable[[Event, Rows], None]] = {
    CandleClosed: _candle,
    OrderSubmitted: _order,
    OrderAccepted: _order,
    OrderRejected: _order,
    OrderCancelled: _order,
    OrderExpired: _order,
    OrderFilled: _fill,
    PositionChanged: _position,
    BalanceChanged: _balance,
    RiskRejected: _denied,
    TradingStateChanged: _state,
    SignalChanged: _signal,
}


def project(rows: Rows, events: Iterable[Event]) -> None:
    """Add the rows of ``events`` (in order) to ``rows``; events with no projection add none."""
    get = PROJECTIONS.get
    for event in events:
        function = get(type(event))
        if function is not None:
            function(event, rows)


def open_symbols(positions: Sequence[tuple[str, str]]) -> set[str]:
    """The symbols of stored ``(symbol, quantity)`` position rows that are not flat."""
    return {symbol for symbol, quantity in positions if Decimal(quantity) != 0}
