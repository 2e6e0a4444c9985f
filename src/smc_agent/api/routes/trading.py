"""The session's positions, orders and portfolio risk, as the store's projections hold them.

What the store can tell (docs/api.md, "Portfolio"): the balance after each change and the equity when flat
(account_snapshots), each position's quantity and average price (positions), each order's latest state
(orders), what the risk gate did (risk_events). Not derivable: the equity and unrealised P&L while a position is
open (no mark price is stored), the exposure, the stops and the gate's limits in use: the portfolio of the running
engine's session (``smc-agent run``) reads those from the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from smc_agent.api import queries
from smc_agent.api.deps import Limit, Offset, Reader, SessionRow, StoreDep
from smc_agent.api.models import (
    DailyPnl,
    Drawdown,
    HeldPosition,
    LimitUsed,
    Order,
    OrderPage,
    Portfolio,
    Position,
    RiskEvent,
)
from smc_agent.model.orders import OrderStatus
from smc_agent.service.agent import Agent

router = APIRouter(prefix="/api/v1", tags=["trading"])


@router.get("/positions", response_model=list[Position])
async def positions(store: StoreDep, session: SessionRow, _: Reader) -> list[Position]:
    """Every symbol the session held, with its latest position (side null and quantity 0 when flat)."""
    return [Position(**row) for row in queries.positions(store, session["id"])]


@router.get("/orders", response_model=OrderPage)
async def orders(store: StoreDep, session: SessionRow, _: Reader, status: OrderStatus | None = None,
           symbol: str | None = None, limit: Limit = 100, offset: Offset = 0) -> OrderPage:  # fmt: skip
    """Each order as its latest event left it, the latest changed first."""
    page = queries.orders(store, session["id"], status=None if status is None else status.value, symbol=symbol,
                          limit=limit, offset=offset)  # fmt: skip
    return OrderPage(items=[Order(**row) for row in page.items], total=page.total, limit=limit, offset=offset)


@router.get("/risk/portfolio", response_model=Portfolio)
async def portfolio(request: Request, store: StoreDep, session: SessionRow, _: Reader,
              days: Annotated[int, Query(ge=1, le=366, description="days of P&L")] = 30,
              events: Annotated[int, Query(ge=0, le=1000, description="latest risk events")] = 50,
              ) -> Portfolio:  # fmt: skip
    """Open positions with their risk, the balance, each day's realised P&L, the drawdown, each risk limit and
    how much of it is used, and the risk gate's latest state and events. The running engine's session adds what
    only the engine knows (equity while a position is open, exposure, stops, the limits' use): read between two
    of its steps, on its own event loop, so every figure is of one moment."""
    session_id = session["id"]
    agent: Agent | None = request.app.state.agent
    live = agent.system if agent is not None and agent.session_id == session_id else None
    held = [row for row in queries.positions(store, session_id) if Decimal(row["quantity"]) != 0]
    balance = queries.latest_balance(store, session_id)
    risk = queries.risk_events(store, session_id, events)
    equity = None if balance is None or held else Decimal(balance["equity"] or balance["balance"])
    exposure, limits, stops, notionals = None, [], {}, {}
    if live is not None:
        equity = live.portfolio.equity()
        notionals = {symbol: abs(p[2]) for symbol, p in live.portfolio.open_positions().items()}
        exposure = str(sum(notionals.values(), Decimal(0)))
        stops = live.execution.stops()
        limits = [LimitUsed(name=u.name, limit=str(u.limit), used=str(u.used), symbol=u.symbol)
                  for u in live.risk.usage()]  # fmt: skip
    return Portfolio(session=session_id, balance=None if balance is None else balance["balance"],
                     equity=None if equity is None else str(equity), total_exposure=exposure,
                     open_positions=[_held(row, notionals, stops) for row in held],
                     daily_pnl=[DailyPnl(**row) for row in queries.daily_pnl(store, session_id, days)],
                     max_drawdown=_drawdown(queries.balances(store, session_id), equity),
                     risk_limits=limits, trading_state=queries.trading_state(store, session_id),
                     risk_events=[RiskEvent(**row) for row in risk])  # fmt: skip


def _held(row: dict[str, Any], notionals: dict[str, Decimal], stops: dict[str, Decimal]) -> HeldPosition:
    symbol, stop = row["symbol"], stops.get(row["symbol"])
    risk = None if stop is None else Decimal(row["quantity"]) * abs(Decimal(row["average_price"]) - stop)
    notional = notionals.get(symbol)
    return HeldPosition(**row, notional=None if notional is None else str(notional),
                        stop_price=None if stop is None else str(stop),
                        risk_to_stop=None if risk is None else str(risk))  # fmt: skip


def _drawdown(balances: list[Decimal], equity: Decimal | None) -> Drawdown | None:
    """The fall from the peak now and the largest so far, over the balance history and the equity now."""
    curve = balances + ([] if equity is None else [equity])
    if not curve:
        return None
    peak, worst, current = curve[0], Decimal(0), Decimal(0)
    for value in curve:
        peak = max(peak, value)
        current = (peak - value) / peak if peak > 0 else Decimal(0)
        worst = max(worst, current)
    return Drawdown(current=str(current), peak=str(worst))
