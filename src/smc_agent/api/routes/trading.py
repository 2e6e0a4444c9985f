"""The session's positions, orders and portfolio risk, as the store's projections hold them.

What the store can tell (docs/api.md, "Portfolio"): the balance after each change and the equity when flat
(account_snapshots), each position's quantity and average price (positions), each order's latest state
(orders), what the risk gate did (risk_events). Not derivable: the equity and unrealised P&L while a position is
open (no mark price is stored), and the gate's limits in effect (they are in the session's settings document).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query

from smc_agent.api import queries
from smc_agent.api.deps import Limit, Offset, Reader, SessionRow, StoreDep
from smc_agent.api.models import DailyPnl, Order, OrderPage, Portfolio, Position, RiskEvent
from smc_agent.model.orders import OrderStatus

router = APIRouter(prefix="/api/v1", tags=["trading"])


@router.get("/positions", response_model=list[Position])
def positions(store: StoreDep, session: SessionRow, _: Reader) -> list[Position]:
    """Every symbol the session held, with its latest position (side null and quantity 0 when flat)."""
    return [Position(**row) for row in queries.positions(store, session["id"])]


@router.get("/orders", response_model=OrderPage)
def orders(store: StoreDep, session: SessionRow, _: Reader, status: OrderStatus | None = None,
           symbol: str | None = None, limit: Limit = 100, offset: Offset = 0) -> OrderPage:  # fmt: skip
    """Each order as its latest event left it, the latest changed first."""
    page = queries.orders(store, session["id"], status=None if status is None else status.value, symbol=symbol,
                          limit=limit, offset=offset)  # fmt: skip
    return OrderPage(items=[Order(**row) for row in page.items], total=page.total, limit=limit, offset=offset)


@router.get("/risk/portfolio", response_model=Portfolio)
def portfolio(store: StoreDep, session: SessionRow, _: Reader,
              days: Annotated[int, Query(ge=1, le=366, description="days of P&L")] = 30,
              events: Annotated[int, Query(ge=0, le=1000, description="latest risk events")] = 50,
              ) -> Portfolio:  # fmt: skip
    """Open positions, the balance, each day's realised P&L and the risk gate's latest state and events."""
    session_id = session["id"]
    held = [Position(**row) for row in queries.positions(store, session_id) if Decimal(row["quantity"]) != 0]
    balance = queries.latest_balance(store, session_id)
    risk = queries.risk_events(store, session_id, events)
    return Portfolio(session=session_id, balance=None if balance is None else balance["balance"],
                     equity=None if balance is None or held else balance["equity"], open_positions=held,
                     daily_pnl=[DailyPnl(**row) for row in queries.daily_pnl(store, session_id, days)],
                     trading_state=queries.trading_state(store, session_id),
                     risk_events=[RiskEvent(**row) for row in risk])  # fmt: skip
