"""The routes that change the running engine: manual orders, cancelling, closing a position, the kill switch,
the reset, and pausing, resuming or stopping the agent. Each sends a command (:mod:`smc_agent.api.commands`).

Scopes: ``trade`` places and cancels orders, closes positions, kills and pauses (each only adds or removes risk
the caller could add or remove by trading); ``admin`` lifts a halt (reset), resumes after a pause (start) and
stops the agent, since those undo a safety stop or end the process. A refused command is 422 with the engine's
reason for an order (the risk gate's denial), else 409; an unknown order or symbol is 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from smc_agent.api import queries
from smc_agent.api.auth import Principal, require
from smc_agent.api.commands import Handled, audit, carry_out, command_id, running_agent
from smc_agent.engine.ids import order_id
from smc_agent.model.commands import CancelOrder, FlattenSymbol, Kill, ManualOrder, Pause, Reset, Resume
from smc_agent.model.enums import Side
from smc_agent.model.orders import OrderType

router = APIRouter(prefix="/api/v1", tags=["commands"])

Trader = Annotated[Principal, Depends(require("trade"))]
Admin = Annotated[Principal, Depends(require("admin"))]
_Price = Annotated[Decimal, Field(gt=0, description="a price; send it as a string to keep every digit")]


class OrderRequest(BaseModel):
    symbol: str = Field(min_length=1, max_length=64)
    side: Side
    type: OrderType = OrderType.MARKET
    quantity: Annotated[Decimal, Field(gt=0)] | None = Field(default=None, description="none: the risk gate sizes it")
    price: _Price | None = Field(default=None, description="a limit's price (a market order: the last close)")
    stop_loss: _Price = Field(description="required: the risk gate sizes and checks the trade by it")
    take_profit: _Price | list[_Price] | None = Field(default=None, description="one target, or several (TP1 first)")


class OrderCreated(BaseModel):
    order_id: str
    status: str = Field(description="the order's state when the engine had handled it (new, accepted, filled ...)")
    execution_time_ms: float = Field(description="from sending the command to the engine's answer")
    fill_price: str | None = Field(description="null until the order fills (a market order fills at the next open)")
    outcome: str


class Reason(BaseModel):
    reason: str = Field(default="operator", max_length=200)


class KillRequest(Reason):
    flatten: bool = Field(default=True, description="also close every position (else only halt new entries)")


class CommandResult(BaseModel):
    command_id: str
    accepted: bool
    outcome: str
    trading_state: str
    execution_time_ms: float


def _result(request: Request, handled: Handled) -> CommandResult:
    state = running_agent(request).system.risk.state.value
    return CommandResult(command_id=handled.event.command.command_id, accepted=handled.accepted,
                         outcome=handled.outcome, trading_state=state,
                         execution_time_ms=handled.elapsed_ms)  # fmt: skip


def _accepted(request: Request, handled: Handled) -> CommandResult:
    if not handled.accepted:
        raise HTTPException(409, handled.outcome)
    return _result(request, handled)


_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown"},
    409: {"description": "refused, or no engine is running"},
    504: {"description": "the engine did not answer in time"},
}


_DENIED: dict[int | str, dict[str, Any]] = {422: {"description": "invalid, or denied by the risk gate (the reason)"}}


@router.post("/orders/create", response_model=OrderCreated, responses={**_DENIED, **_REFUSED})
async def create_order(body: OrderRequest, request: Request, principal: Trader) -> OrderCreated:
    """A manual order through the risk gate, like a strategy's entry; a denial is 422 with the gate's reason."""
    agent = running_agent(request)
    wanted = body.take_profit
    targets = wanted if isinstance(wanted, list) else [] if wanted is None else [wanted]
    command = ManualOrder(command_id=command_id(), reason=f"api {principal.actor}", symbol=body.symbol,
                          side=body.side, type=body.type, stop_loss=body.stop_loss, take_profit=tuple(targets),
                          price=body.price, quantity=body.quantity)  # fmt: skip
    handled = await carry_out(request, principal, "order create", command, body.model_dump(mode="json"))
    if not handled.accepted:
        raise HTTPException(422, handled.outcome)
    entry = order_id(command.command_id, "e")  # the execution names an entry after its command
    row = queries.order(request.app.state.store, agent.session_id, entry)
    return OrderCreated(order_id=entry, status="new" if row is None else row["status"],
                        execution_time_ms=handled.elapsed_ms, fill_price=None if row is None else row["fill_price"],
                        outcome=handled.outcome)  # fmt: skip


@router.delete("/orders/{order_id}", response_model=CommandResult, responses=_REFUSED)
async def cancel_order(order_id: str, request: Request, principal: Trader) -> CommandResult:
    """Cancel one working entry (a position's stop or target is refused: close the position instead)."""
    agent = running_agent(request)
    if queries.order(request.app.state.store, agent.session_id, order_id) is None:
        raise HTTPException(404, f"no order {order_id!r} in session {agent.session_id}")
    command = CancelOrder(command_id=command_id(), reason=f"api {principal.actor}", order_id=order_id)
    return _accepted(request, await carry_out(request, principal, "order cancel", command, {"order_id": order_id}))


@router.post("/positions/{symbol:path}/close", response_model=CommandResult, responses=_REFUSED)
async def close_position(symbol: Annotated[str, Path(description="the position's symbol (its id)")],
                         request: Request, principal: Trader) -> CommandResult:  # fmt: skip
    """Close the position on ``symbol`` at the next open and cancel its working entries."""
    agent = running_agent(request)
    if symbol not in agent.system.symbols:
        raise HTTPException(404, f"no symbol {symbol!r} in this session; trading {', '.join(agent.system.symbols)}")
    command = FlattenSymbol(command_id=command_id(), reason=f"api {principal.actor}", symbol=symbol)
    return _accepted(request, await carry_out(request, principal, "position close", command, {"symbol": symbol}))


@router.post("/risk/kill", response_model=CommandResult, responses=_REFUSED)
async def kill(request: Request, principal: Trader, body: KillRequest | None = None) -> CommandResult:
    """The kill switch: halt (only exits pass until a reset) and, unless ``flatten`` is false, close everything."""
    body = body or KillRequest()
    command = Kill(command_id=command_id(), reason=body.reason, flatten=body.flatten)
    return _accepted(request, await carry_out(request, principal, "risk kill", command, body.model_dump()))


@router.post("/risk/reset", response_model=CommandResult, responses=_REFUSED)
async def reset(request: Request, principal: Admin, body: Reason | None = None) -> CommandResult:
    """Lift a halt: the drawdown peak restarts at the current equity."""
    body = body or Reason()
    command = Reset(command_id=command_id(), reason=body.reason)
    return _accepted(request, await carry_out(request, principal, "risk reset", command, body.model_dump()))


@router.post("/control/pause", response_model=CommandResult, responses=_REFUSED)
async def pause(request: Request, principal: Trader, body: Reason | None = None) -> CommandResult:
    """Take no new entries (signals are still computed, positions still managed) until start."""
    body = body or Reason()
    command = Pause(command_id=command_id(), reason=body.reason)
    return _accepted(request, await carry_out(request, principal, "control pause", command, body.model_dump()))


@router.post("/control/start", response_model=CommandResult, responses=_REFUSED)
async def start(request: Request, principal: Admin, body: Reason | None = None) -> CommandResult:
    """Take entries again after a pause (the agent itself is started by ``smc-agent run``)."""
    body = body or Reason()
    command = Resume(command_id=command_id(), reason=body.reason)
    return _accepted(request, await carry_out(request, principal, "control start", command, body.model_dump()))


class Stopping(BaseModel):
    outcome: str


@router.post("/control/stop", response_model=Stopping, status_code=202, responses=_REFUSED)
async def stop(request: Request, principal: Admin) -> Stopping:
    """Stop the agent as SIGTERM does: it finishes the current candle, commits and exits (the API with it)."""
    agent = running_agent(request)
    audit(request, principal, "control stop", {"session": agent.session_id})
    agent.stop()
    return Stopping(outcome="stopping: the current candle is finished and committed, then the agent exits")
