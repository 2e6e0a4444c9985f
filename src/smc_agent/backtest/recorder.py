"""Trades and the equity curve, rebuilt from events alone (as a journal replay would).

A trade opens when a fill takes the position away from flat and closes when fills bring it back;
its risk and planned reward-to-risk come from the command the risk gate accepted. Trades still open
at the end of the data are not in the list (their P&L is in the final equity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from smc_agent.backtest.trades import EquityPoint, Trade
from smc_agent.core.bus import EventBus
from smc_agent.core.events import OrderFilled
from smc_agent.engine.portfolio import Portfolio
from smc_agent.engine.risk import OrderCommand
from smc_agent.model.enums import Side
from smc_agent.smc.config import DEFAULT_KILLZONES, DEFAULT_SESSIONS, SessionWindow

__all__ = ["Recorder", "session_at"]


@dataclass(slots=True)
class _Open:
    trade_id: str
    side: Side
    entry_ms: int
    quantity: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    closed: Decimal = Decimal(0)
    proceeds: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)


class Recorder:
    def __init__(self, bus: EventBus, portfolio: Portfolio, commands: Mapping[str, OrderCommand]) -> None:
        self.trades: list[Trade] = []
        self.equity: list[EquityPoint] = []
        self._portfolio = portfolio
        self._commands = commands
        self._open: dict[str, _Open] = {}
        bus.subscribe(self._on_fill, OrderFilled)

    def after_candle(self, close_ms: int) -> None:
        self.equity.append(EquityPoint(close_ms, *self._portfolio.valuation()))

    def _on_fill(self, fill: OrderFilled) -> None:
        order = fill.order
        trade = self._open.get(order.symbol)
        if trade is None:
            trade = _Open(order.client_order_id.rsplit(":", 1)[0], order.side, fill.event_ms)
            self._open[order.symbol] = trade
        if order.side is trade.side:
            trade.quantity += fill.quantity
            trade.cost += fill.price * fill.quantity
        else:
            trade.closed += fill.quantity
            trade.proceeds += fill.price * fill.quantity
        trade.fees += fill.fee
        if trade.closed and trade.closed >= trade.quantity:
            del self._open[order.symbol]
            self.trades.append(self._finish(order.symbol, trade, fill.event_ms))

    def _finish(self, symbol: str, t: _Open, exit_ms: int) -> Trade:
        entry = t.cost / t.quantity
        exit_price = t.proceeds / t.closed
        pnl = t.side.sign * (t.proceeds - entry * t.closed) - t.fees
        command = self._commands.get(t.trade_id)
        stop_distance = abs(command.entry - command.stop) if command else None
        risk = abs(entry - command.stop) * t.quantity if command else Decimal(0)
        planned = abs(command.targets[0] - command.entry) / stop_distance if command and stop_distance else None
        return Trade(
            id=t.trade_id, symbol=symbol, side=t.side, setup=command.setup if command else "unknown",
            session=session_at(t.entry_ms), entry_ms=t.entry_ms, exit_ms=exit_ms, entry_price=entry,
            exit_price=exit_price, quantity=t.quantity, risk=risk, pnl=pnl, fees=t.fees,
            r_multiple=pnl / risk if risk else Decimal(0), stop_distance=stop_distance, planned_rr=planned,
        )  # fmt: skip


def session_at(ms: int, windows: tuple[SessionWindow, ...] = (*DEFAULT_KILLZONES, *DEFAULT_SESSIONS)) -> str:
    """The first window (killzones before sessions) that contains the instant, or ``"none"``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    for window in windows:
        local = moment.astimezone(ZoneInfo(window.tz))
        minute = local.hour * 60 + local.minute
        start, end = window.minutes()
        inside = start <= minute < end if end > start else (minute >= start or minute < end)
        if inside:
            return window.name
    return "none"
