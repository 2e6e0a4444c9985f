"""Trades and the equity curve, rebuilt from events alone (as a journal replay would).

A trade opens when a fill takes the position away from flat and closes when fills bring it back;
its risk and planned reward-to-risk come from the command the risk gate accepted. Trades still open
at the end of the data are not in the list (their P&L is in the final equity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from smc_agent.backtest.trades import MarkedCurve, Trade
from smc_agent.core.bus import EventBus
from smc_agent.core.errors import SmcAgentError
from smc_agent.core.events import CandleClosed, OrderFilled
from smc_agent.engine.portfolio import Portfolio, Position
from smc_agent.engine.risk import OrderCommand
from smc_agent.model.enums import Side
from smc_agent.smc.config import DEFAULT_KILLZONES, DEFAULT_SESSIONS, SessionWindow
from smc_agent.smc.tz_offsets import ZoneOffsets

__all__ = ["Recorder", "SessionNamer"]


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
    """Trades from fills, and the equity at each close of one instrument's candles.

    ``sessions`` names each trade's entry session. The curve holds the portfolio's balance and position
    as of each fill and the candle closes (see :class:`MarkedCurve`); it starts at ``opening``: the
    time and price at which the account holds only its initial balance.
    """

    def __init__(
        self,
        bus: EventBus,
        portfolio: Portfolio,
        commands: Mapping[str, OrderCommand],
        symbol: str,
        opening: tuple[int, float],
        sessions: SessionNamer | None = None,
    ) -> None:
        self.trades: list[Trade] = []
        self.equity = MarkedCurve()
        self._portfolio = portfolio
        self._commands = commands
        self._symbol = symbol
        self._sessions = sessions or SessionNamer()
        self._open: dict[str, _Open] = {}
        self._revision = -1
        self._hold()
        self.equity.mark(*opening)
        bus.subscribe(self._on_fill, OrderFilled)

    def after_candle(self, candle: CandleClosed) -> None:
        if self._portfolio.revision != self._revision:
            self._hold()
        self.equity.mark(candle.event_ms, candle.close)

    def _hold(self) -> None:
        portfolio = self._portfolio
        self._revision = portfolio.revision
        position = portfolio.positions.get(self._symbol) or Position()
        self.equity.hold(portfolio.balance, position.quantity, position.average_price)

    def _on_fill(self, fill: OrderFilled) -> None:
        order = fill.order
        if order.symbol != self._symbol:
            raise SmcAgentError(f"the recorder values {self._symbol} alone, but {order.symbol} was filled")
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
            session=self._sessions(t.entry_ms), entry_ms=t.entry_ms, exit_ms=exit_ms, entry_price=entry,
            exit_price=exit_price, quantity=t.quantity, risk=risk, pnl=pnl, fees=t.fees,
            r_multiple=pnl / risk if risk else Decimal(0), stop_distance=stop_distance, planned_rr=planned,
        )  # fmt: skip


class SessionNamer:
    """Names the first window (killzones before sessions) that contains an instant, or ``"none"``.

    Local time comes from each zone's table of offset changes, the one the calendar kernel reads, so a
    trade is labelled by the same clock as the analysis, at a bisect per zone rather than a datetime.

    >>> SessionNamer()(1_704_186_000_000)  # 2024-01-02 09:00 UTC: 04:00 in New York, in the London killzone
    'london_kz'
    """

    def __init__(self, windows: Sequence[SessionWindow] = (*DEFAULT_KILLZONES, *DEFAULT_SESSIONS)) -> None:
        zones = {w.tz: ZoneOffsets(w.tz) for w in windows}
        self._windows = [(w.name, zones[w.tz], *w.minutes()) for w in windows]

    def __call__(self, ms: int) -> str:
        for name, zone, start, end in self._windows:
            minute = (ms + zone.at(ms)) // 60_000 % 1440
            if (start <= minute < end) if end > start else (minute >= start or minute < end):
                return name
        return "none"
