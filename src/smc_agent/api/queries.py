"""What the API reads from the store: plain rows of its tables, one function per question, never a write.

Money, prices and quantities stay the exact text the store keeps (a ``Decimal``'s ``str``). A session is
chosen by id or, by default, the latest started; :class:`NotFound` says which one is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, func, select

from smc_agent.store import Store, schema

__all__ = [
    "NotFound",
    "Page",
    "balances",
    "candles",
    "daily_pnl",
    "feeds",
    "latest_balance",
    "market_symbols",
    "orders",
    "positions",
    "risk_events",
    "session",
    "sessions",
    "signal_versions",
    "signals",
    "trading_state",
]

Row = dict[str, Any]


class NotFound(LookupError):
    """What was asked for is not in the store; the message says what."""


@dataclass(frozen=True)
class Page:
    items: list[Row]
    total: int
    limit: int
    offset: int


def _rows(connection: Connection, query: Select[Any]) -> list[Row]:
    return [dict(row._mapping) for row in connection.execute(query)]


def _page(connection: Connection, query: Select[Any], limit: int, offset: int) -> Page:
    total = int(connection.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one())
    return Page(_rows(connection, query.limit(limit).offset(offset)), total, limit, offset)


def sessions(store: Store) -> list[Row]:
    table = schema.sessions
    query = select(table.c.id, table.c.mode, table.c.started_ms, table.c.stopped_ms).order_by(
        table.c.started_ms.desc(), table.c.id)  # fmt: skip
    with store.reading("list the sessions") as connection:
        return _rows(connection, query)


def session(store: Store, session_id: str | None) -> Row:
    """The session ``session_id``, or the latest one; NotFound when there is none."""
    table = schema.sessions
    query = select(table.c.id, table.c.mode, table.c.started_ms, table.c.stopped_ms)
    query = query.where(table.c.id == session_id) if session_id else query.order_by(table.c.started_ms.desc())
    with store.reading("find the session") as connection:
        row = connection.execute(query.limit(1)).first()
    if row is None:
        raise NotFound(f"no session {session_id!r} in the store" if session_id else "the store holds no session yet")
    return dict(row._mapping)


def feeds(store: Store, session_id: str) -> list[Row]:
    """Each feed's latest health in the session (a session on files has none)."""
    table = schema.feed_health
    latest = select(func.max(table.c.id)).where(table.c.session_id == session_id).group_by(table.c.feed)
    query = select(table.c.feed, table.c.health, table.c.previous, table.c.reason, table.c.at_ms).where(
        table.c.id.in_(latest.scalar_subquery())).order_by(table.c.feed)  # fmt: skip
    with store.reading("read the feeds' health") as connection:
        return _rows(connection, query)


_SIGNAL = schema.signals
_SIGNAL_COLUMNS = (_SIGNAL.c.signal_id, _SIGNAL.c.version, _SIGNAL.c.status, _SIGNAL.c.symbol, _SIGNAL.c.setup,
                   _SIGNAL.c.side, _SIGNAL.c.outcome_r, _SIGNAL.c.event_ms)  # fmt: skip


def signals(store: Store, session_id: str, *, symbol: str | None, status: str | None, setup: str | None,
            since_ms: int | None, limit: int, offset: int) -> Page:  # fmt: skip
    """Each signal as its latest version has it, newest first; the filters apply to that version."""
    latest = (select(func.max(_SIGNAL.c.seq)).where(_SIGNAL.c.session_id == session_id)
              .group_by(_SIGNAL.c.signal_id).scalar_subquery())  # fmt: skip
    query = select(*_SIGNAL_COLUMNS).where(_SIGNAL.c.session_id == session_id, _SIGNAL.c.seq.in_(latest))
    for column, value in ((_SIGNAL.c.symbol, symbol), (_SIGNAL.c.status, status), (_SIGNAL.c.setup, setup)):
        if value is not None:
            query = query.where(column == value)
    if since_ms is not None:
        query = query.where(_SIGNAL.c.event_ms >= since_ms)
    with store.reading("list the signals") as connection:
        return _page(connection, query.order_by(_SIGNAL.c.event_ms.desc(), _SIGNAL.c.seq.desc()), limit, offset)


def signal_versions(store: Store, session_id: str, signal_id: str) -> list[Row]:
    """Every version of the signal, oldest first, with its evidence; NotFound when it has none."""
    query = select(*_SIGNAL_COLUMNS, _SIGNAL.c.evidence).where(
        _SIGNAL.c.session_id == session_id, _SIGNAL.c.signal_id == signal_id).order_by(_SIGNAL.c.seq)  # fmt: skip
    with store.reading("read the signal") as connection:
        rows = _rows(connection, query)
    if not rows:
        raise NotFound(f"no signal {signal_id!r} in session {session_id}")
    return rows


def positions(store: Store, session_id: str) -> list[Row]:
    table = schema.positions
    query = select(table.c.symbol, table.c.side, table.c.quantity, table.c.average_price, table.c.updated_ms).where(
        table.c.session_id == session_id).order_by(table.c.symbol)  # fmt: skip
    with store.reading("read the positions") as connection:
        return _rows(connection, query)


def orders(store: Store, session_id: str, *, status: str | None, symbol: str | None, limit: int,
           offset: int) -> Page:  # fmt: skip
    table = schema.orders
    query = select(*(c for c in table.c if c.name != "session_id")).where(table.c.session_id == session_id)
    if status is not None:
        query = query.where(table.c.status == status)
    if symbol is not None:
        query = query.where(table.c.symbol == symbol)
    with store.reading("list the orders") as connection:
        page = _page(connection, query.order_by(table.c.updated_ms.desc(), table.c.client_order_id), limit, offset)
        fills = _fills(connection, session_id, [row["client_order_id"] for row in page.items])
    for row in page.items:
        row.update(_filled(fills.get(row["client_order_id"], [])))
    return page


def _fills(connection: Connection, session_id: str, client_order_ids: list[str]) -> dict[str, list[Row]]:
    """The fills of these orders, by order, oldest first."""
    table = schema.fills
    query = select(table.c.client_order_id, table.c.price, table.c.quantity).where(
        table.c.session_id == session_id, table.c.client_order_id.in_(client_order_ids))  # fmt: skip
    query = query.order_by(table.c.seq)
    found: dict[str, list[Row]] = {}
    for row in _rows(connection, query):
        found.setdefault(row["client_order_id"], []).append(row)
    return found


def _filled(fills: list[Row]) -> Row:
    """An order's ``filled_quantity`` and ``fill_price`` (the fills' average; None before a fill). One fill's price
    is its own text, exactly as stored; several average in Decimal."""
    if len(fills) <= 1:
        return {"filled_quantity": fills[0]["quantity"] if fills else "0",
                "fill_price": fills[0]["price"] if fills else None}  # fmt: skip
    filled = sum((Decimal(f["quantity"]) for f in fills), Decimal(0))
    price = sum((Decimal(f["price"]) * Decimal(f["quantity"]) for f in fills), Decimal(0)) / filled
    return {"filled_quantity": str(filled), "fill_price": str(price)}


def latest_balance(store: Store, session_id: str) -> Row | None:
    table = schema.account_snapshots
    query = select(table.c.event_ms, table.c.balance, table.c.equity).where(table.c.session_id == session_id)
    with store.reading("read the balance") as connection:
        row = connection.execute(query.order_by(table.c.seq.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)


def balances(store: Store, session_id: str) -> list[Decimal]:
    """The session's balance after each change, oldest first (the equity of every flat moment among them)."""
    table = schema.account_snapshots
    query = select(table.c.balance).where(table.c.session_id == session_id).order_by(table.c.seq)
    with store.reading("read the balances") as connection:
        return [Decimal(text) for text in connection.execute(query).scalars()]


def daily_pnl(store: Store, session_id: str, days: int) -> list[Row]:
    """The realised P&L of each UTC day with a balance change (the last ``days``, oldest first): the day's last
    balance less the one it started with (the previous day's last; on the first day, the session's initial
    balance from its settings document, ``engine.initial_balance``)."""
    table = schema.account_snapshots
    query = select(table.c.event_ms, table.c.balance).where(table.c.session_id == session_id).order_by(table.c.seq)
    settings_query = select(schema.sessions.c.settings).where(schema.sessions.c.id == session_id)
    with store.reading("read the balances") as connection:
        rows = connection.execute(query).all()
        settings = connection.execute(settings_query).scalar()
    engine = settings.get("engine") if isinstance(settings, dict) else None
    initial = engine.get("initial_balance") if isinstance(engine, dict) else None
    ends: dict[str, str] = {}
    for row in rows:
        ends[datetime.fromtimestamp(row.event_ms / 1000, UTC).date().isoformat()] = row.balance
    result, before = [], None if initial is None else str(initial)
    for day, end in ends.items():
        pnl = None if before is None else str(Decimal(end) - Decimal(before))
        result.append({"day": day, "start_balance": before, "end_balance": end, "pnl": pnl})
        before = end
    return result[-days:]


def risk_events(store: Store, session_id: str, limit: int) -> list[Row]:
    table = schema.risk_events
    query = select(table.c.event_ms, table.c.kind, table.c.symbol, table.c.reason).where(
        table.c.session_id == session_id).order_by(table.c.seq.desc()).limit(limit)  # fmt: skip
    with store.reading("read the risk events") as connection:
        return _rows(connection, query)


def trading_state(store: Store, session_id: str) -> str:
    """The risk gate's state as its latest change left it: active (the default, or after a reset), halted, reducing."""
    table = schema.risk_events
    query = select(table.c.kind).where(table.c.session_id == session_id,
                                       table.c.kind.in_(("halted", "reducing", "reset")))  # fmt: skip
    with store.reading("read the trading state") as connection:
        kind = connection.execute(query.order_by(table.c.seq.desc()).limit(1)).scalar()
    return "active" if kind in (None, "reset") else str(kind)


def market_symbols(store: Store, session_id: str) -> list[Row]:
    """The session's streams (its cursors: symbol, timeframe, last close) and the stored candles of each venue."""
    cursors, table = schema.cursors, schema.candles
    stored = select(table.c.venue, table.c.symbol, table.c.timeframe, func.count().label("candles"),
                    func.max(table.c.open_ms).label("last_open_ms")).group_by(
        table.c.venue, table.c.symbol, table.c.timeframe)  # fmt: skip
    streams = select(cursors.c.symbol, cursors.c.timeframe, cursors.c.close_ms).where(
        cursors.c.session_id == session_id)  # fmt: skip
    with store.reading("list the symbols") as connection:
        return [{**row, "source": "session"} for row in _rows(connection, streams)] + [
            {**row, "source": "candles"} for row in _rows(connection, stored)]  # fmt: skip


def candles(store: Store, symbol: str, timeframe: str, limit: int, venue: str | None) -> list[Row]:
    """The last ``limit`` stored candles of the stream, oldest first."""
    table = schema.candles
    query = select(table.c.venue, table.c.open_ms, table.c.open, table.c.high, table.c.low, table.c.close,
                   table.c.volume).where(table.c.symbol == symbol, table.c.timeframe == timeframe)  # fmt: skip
    if venue is not None:
        query = query.where(table.c.venue == venue)
    with store.reading("read the candles") as connection:
        rows = _rows(connection, query.order_by(table.c.open_ms.desc()).limit(limit))
    return rows[::-1]


def order(store: Store, session_id: str, client_order_id: str) -> Row | None:
    """One order as its latest event left it, with ``filled_quantity`` and ``fill_price`` (None before a fill)."""
    table = schema.orders
    with store.reading("read an order") as connection:
        found = connection.execute(select(table.c.status, table.c.symbol).where(
            table.c.session_id == session_id, table.c.client_order_id == client_order_id)).first()  # fmt: skip
        if found is None:
            return None
        fills = _fills(connection, session_id, [client_order_id]).get(client_order_id, [])
    return {"status": found.status, "symbol": found.symbol, **_filled(fills)}


def candle_series(store: Store, symbol: str) -> list[Row]:
    """The stored candle series of ``symbol``: each venue and timeframe with its count of candles."""
    table = schema.candles
    query = (select(table.c.venue, table.c.timeframe, func.count().label("candles"))
             .where(table.c.symbol == symbol).group_by(table.c.venue, table.c.timeframe)
             .order_by(table.c.venue, table.c.timeframe))  # fmt: skip
    with store.reading("list the candle series") as connection:
        return _rows(connection, query)
