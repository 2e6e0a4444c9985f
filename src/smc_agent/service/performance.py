"""How the stored sessions traded: their closed trades, and win rate, expectancy and profit factor by setup,
side and trading session (``GET /api/v1/analytics/performance``).

A session's trades are rebuilt from its journal, not from the projections: the store keeps each order's
latest state and its fills, but not the stop an entry was planned with, which the risk (and so R) needs.
The entries (:class:`~smc_agent.events.EntryAccepted`, with the command's setup and stop) and the fills are
read back in order and given to the backtest's own :class:`~smc_agent.backtest.recorder.Recorder`, so a
paper trade is the same round trip, with the same P&L, fees and R, as a backtest's. A trade still open
when the session stopped is not counted. The trading session of a trade is the first of Asia, London and
New York (:data:`~smc_agent.smc.config.DEFAULT_SESSIONS`, in their own local time) holding its entry
time, ``none`` outside them; London comes before New York where they overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from smc_agent.backtest.metrics import Metrics, compute_metrics
from smc_agent.backtest.recorder import Recorder, SessionNamer
from smc_agent.backtest.trades import Trade
from smc_agent.core.bus import EventBus
from smc_agent.events import EntryAccepted, Event, OrderFilled
from smc_agent.events.codec import from_msgpack
from smc_agent.smc.config import DEFAULT_SESSIONS
from smc_agent.store import Store, schema

__all__ = ["GROUPS", "closed_trades", "performance"]

# The breakdowns, each by a name of the trade.
GROUPS: dict[str, Callable[[Trade], str]] = {
    "by_setup": lambda t: t.setup,
    "by_side": lambda t: t.side.value,
    "by_session": lambda t: t.session,
}
_KINDS = (EntryAccepted.__name__, OrderFilled.__name__)  # all that the trades are made of
_BALANCE = Decimal(1)  # the recorder's account: only its trades are read, never its equity


def _journaled(store: Store, session_id: str) -> Iterator[Event]:
    """The session's entries and fills, in the journal's order."""
    table = schema.events
    query = (select(table.c.payload).where(table.c.session_id == session_id, table.c.kind.in_(_KINDS))
             .order_by(table.c.seq))  # fmt: skip
    with store.reading("read the session's entries and fills") as connection:
        payloads = connection.execute(query).scalars().all()
    return (from_msgpack(payload) for payload in payloads)


def closed_trades(store: Store, session_id: str) -> list[Trade]:
    """The round trips the session closed, in the order they closed."""
    bus = EventBus()
    recorder = Recorder(bus, _BALANCE, {}, (0, 0.0), SessionNamer(DEFAULT_SESSIONS))
    for event in _journaled(store, session_id):
        bus.publish(event)
    return recorder.trades


def _summary(trades: Sequence[Trade]) -> dict[str, Any]:
    """The per-trade numbers of :func:`~smc_agent.backtest.metrics.compute_metrics` (its definitions: a win
    is ``pnl > 0``, profit factor is null when no trade lost); money as exact text."""
    metrics: Metrics = compute_metrics(trades, (), initial_balance=_BALANCE, prices_first=1, prices_last=1)
    money = (metrics.expectancy, metrics.net_profit)
    return {"trades": metrics.trades, "wins": metrics.wins, "win_rate": metrics.win_rate,
            "expectancy_r": metrics.expectancy_r, "expectancy": None if money[0] is None else str(money[0]),
            "profit_factor": metrics.profit_factor, "net_pnl": str(money[1])}  # fmt: skip


def performance(trades: Iterable[Trade]) -> dict[str, Any]:
    """All the trades' numbers, then each group's (sorted by name)."""
    listed = list(trades)
    document: dict[str, Any] = {"overall": _summary(listed)}
    for name, key in GROUPS.items():
        groups: dict[str, list[Trade]] = {}
        for trade in listed:
            groups.setdefault(key(trade), []).append(trade)
        document[name] = {value: _summary(group) for value, group in sorted(groups.items())}
    return document
