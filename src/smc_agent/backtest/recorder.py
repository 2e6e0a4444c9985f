"""Trades and the equity curve, from events alone (as a journal replay would give them).

The recorder subscribes to the bus and reads nothing else: :class:`~smc_agent.events.EntryAccepted`
tells it each entry's command (its risk, planned reward and setup), fills make the trades, position and
balance changes give the account's holdings, and each candle of a traded stream marks them.

A trade opens when a fill takes a symbol's position away from flat and closes when fills bring it back;
its id is the id of the signal (or command) whose entry opened it. Trades still open at the end are not
in the list (their P&L is in the final equity).

The curve has one point per candle close time, with the account as it stood once everything that candle
caused had happened: a candle's point is written when the next candle (or :meth:`Recorder.finish`)
arrives, so the fills it made are in it. With several symbols, candles closing at the same time give
one point, after the last of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from smc_agent.backtest.trades import EquityCurve, MarkedCurve, RecordedCurve, Trade
from smc_agent.core.bus import EventBus
from smc_agent.engine.portfolio import value_of
from smc_agent.events import BalanceChanged, CandleClosed, EntryAccepted, OrderFilled, PositionChanged
from smc_agent.model.commands import OrderCommand
from smc_agent.model.enums import Side
from smc_agent.model.instrument import to_decimal
from smc_agent.smc.config import DEFAULT_KILLZONES, DEFAULT_SESSIONS, SessionWindow
from smc_agent.smc.tz_offsets import ZoneOffsets

__all__ = ["Recorder", "SessionNamer"]

_ZERO = Decimal(0)


@dataclass(slots=True)
class _Open:
    trade_id: str
    symbol: str
    side: Side
    entry_ms: int
    quantity: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    closed: Decimal = Decimal(0)
    proceeds: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)


class Recorder:
    """Trades from fills, and the account's equity at each close of the traded streams.

    ``entry_timeframes`` names each traded symbol's stream (symbol -> timeframe); ``sessions`` names
    each trade's entry session. The curve starts at ``opening``: the time and price (of the first
    symbol) at which the account holds only ``initial_balance``.
    """

    def __init__(
        self,
        bus: EventBus,
        initial_balance: Decimal,
        entry_timeframes: Mapping[str, str],
        opening: tuple[int, float],
        sessions: SessionNamer | None = None,
    ) -> None:
        self.trades: list[Trade] = []
        self._entry = dict(entry_timeframes)
        self._single = next(iter(self._entry)) if len(self._entry) == 1 else None
        self._sessions = sessions or SessionNamer()
        self._commands: dict[str, OrderCommand] = {}  # by entry order id
        self._by_trade: dict[str, OrderCommand] = {}  # by signal (trade) id
        self._market_entries: set[str] = set()  # signal (trade) ids whose entry was a market order
        self._open: dict[str, _Open] = {}
        self._balance = initial_balance
        self._held: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed quantity, average price)
        self._marks: dict[str, float] = {}
        self._pending: CandleClosed | None = None  # the candle whose point is not written yet
        self._changed = True  # holdings moved since the curve last took them
        self._marked: MarkedCurve | None = MarkedCurve() if self._single is not None else None
        self._recorded = RecordedCurve()
        self._point(*opening)
        bus.subscribe(self._on_candle, CandleClosed)
        bus.subscribe(self._on_entry, EntryAccepted)
        bus.subscribe(self._on_fill, OrderFilled)
        bus.subscribe(self._on_position, PositionChanged)
        bus.subscribe(self._on_balance, BalanceChanged)

    @property
    def equity(self) -> EquityCurve:
        return self._marked if self._marked is not None else self._recorded

    def finish(self) -> None:
        """Write the last candle's point (the run is over)."""
        if self._pending is not None:
            self._point(self._pending.event_ms, self._pending.close, self._pending.symbol)
            self._pending = None

    def _on_candle(self, candle: CandleClosed) -> None:
        if self._entry.get(candle.symbol) != candle.timeframe:
            return
        pending, marked = self._pending, self._marked
        self._pending = candle
        if pending is None:
            return
        if marked is None:
            self._point(pending.event_ms, pending.close, pending.symbol)
        else:  # one symbol: every candle of a long backtest comes here, so the short way
            self._mark_one(marked, pending.event_ms, pending.close)

    def _point(self, time_ms: int, close: float, symbol: str | None = None) -> None:
        if symbol is not None:
            self._marks[symbol] = close
        marked = self._marked
        if marked is not None:
            self._mark_one(marked, time_ms, close)
            return
        held = [(q, a, to_decimal(self._marks[s])) for s, (q, a) in self._held.items() if q and s in self._marks]
        equity, exposure = value_of(self._balance, held)
        curve = self._recorded
        if curve.times and curve.times[-1] == time_ms:  # another symbol's candle at the same close
            curve.values[-1], curve.exposures[-1] = equity, exposure
        else:
            curve.record(time_ms, equity, exposure)

    def _mark_one(self, curve: MarkedCurve, time_ms: int, close: float) -> None:
        if self._changed:
            quantity, average = self._held.get(self._single or "", (_ZERO, _ZERO))
            curve.hold(self._balance, quantity, average)
            self._changed = False
        curve.mark(time_ms, close)

    def _on_entry(self, event: EntryAccepted) -> None:
        self._commands[event.entry_id] = self._by_trade[event.command.signal_id] = event.command
        if event.market:
            self._market_entries.add(event.command.signal_id)

    def _on_position(self, event: PositionChanged) -> None:
        signed = event.quantity if event.side is Side.BUY else -event.quantity
        self._held[event.symbol] = (signed, event.average_price)
        self._changed = True

    def _on_balance(self, event: BalanceChanged) -> None:
        self._balance = event.balance
        self._changed = True

    def _on_fill(self, fill: OrderFilled) -> None:
        """Book a fill on its bracket's trade: an entry's own fills and its legs' (``parent``) fills.

        One symbol may hold several brackets at once, so trades are keyed by their entry, not by symbol.
        A fill that no bracket owns (a flatten) closes the trades open on its symbol, oldest first, and
        what is left of it opens a trade of its own.
        """
        order = fill.order
        key = order.parent or order.client_order_id
        trade = self._open.get(key)
        command = self._commands.get(key)
        if trade is None and command is not None and order.side is command.side:
            trade = self._open[key] = _Open(command.signal_id, order.symbol, order.side, fill.event_ms)
        if trade is not None:
            self._book(key, trade, fill, fill.quantity)
            return
        left = fill.quantity
        for open_key, t in list(self._open.items()):
            if left and t.symbol == order.symbol and t.side is not order.side:
                taken = min(left, t.quantity - t.closed)
                self._book(open_key, t, fill, taken)
                left -= taken
        if left:
            key = order.client_order_id
            self._book(key, self._open.setdefault(key, _Open(key, order.symbol, order.side, fill.event_ms)), fill, left)

    def _book(self, key: str, trade: _Open, fill: OrderFilled, quantity: Decimal) -> None:
        """``quantity`` of ``fill`` (with its share of the fee) on ``trade``; finish it once all is out."""
        if fill.order.side is trade.side:
            trade.quantity += quantity
            trade.cost += fill.price * quantity
        else:
            trade.closed += quantity
            trade.proceeds += fill.price * quantity
        trade.fees += fill.fee if quantity == fill.quantity else fill.fee * quantity / fill.quantity
        if trade.closed and trade.closed >= trade.quantity:
            del self._open[key]
            self.trades.append(self._finish(trade.symbol, trade, fill.event_ms))

    def _finish(self, symbol: str, t: _Open, exit_ms: int) -> Trade:
        entry = t.cost / t.quantity
        exit_price = t.proceeds / t.closed
        pnl = t.side.sign * (t.proceeds - entry * t.closed) - t.fees
        command = self._by_trade.get(t.trade_id)
        stop_distance = abs(command.entry - command.stop) if command else None
        risk = abs(entry - command.stop) * t.quantity if command else Decimal(0)
        planned: list[Decimal] = []  # TP1's and TP2's distances in stop distances
        if command and stop_distance:
            planned = [abs(target - command.entry) / stop_distance for target in command.targets[:2]]
        return Trade(
            id=t.trade_id, symbol=symbol, side=t.side, setup=command.setup if command else "unknown",
            session=self._sessions(t.entry_ms), entry_ms=t.entry_ms, exit_ms=exit_ms, entry_price=entry,
            exit_price=exit_price, quantity=t.quantity, risk=risk, pnl=pnl, fees=t.fees,
            r_multiple=pnl / risk if risk else Decimal(0), stop_distance=stop_distance,
            planned_rr=planned[0] if planned else None, planned_rr2=planned[1] if len(planned) > 1 else None,
            market_entry=t.trade_id in self._market_entries,
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
