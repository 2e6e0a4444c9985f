"""The risk gate: every order command passes through it and is accepted with a size, or denied with a reason.

Risk is a gate, not advice. A strategy asks for a trade (:class:`OrderCommand`); the gate sizes it from
equity and the stop, and checks five layers in order, the first failure winning:

1. **trade**: the stop is on the right side of the entry, the targets beyond it; the size is
   ``risk_per_trade`` × equity / (stop distance + the expected round-trip costs a unit), so a stop-out
   loses ``risk_per_trade`` of equity with fees, spread and slippage included (see *Costs* below), cut to
   the market's ``max_leverage`` and rounded *down* to the lot size; it must be above zero and the
   instrument's minimum notional; costs above ``max_cost_share`` of the risk are refused
   (``costs_too_high``), and reward:risk to TP1 *after costs* must be at least ``min_rr``;
2. **symbol**: at most ``max_trades_per_day`` accepted entries per symbol per trading day, and a cooldown
   after a losing trade on that symbol;
3. **portfolio**: open positions, total exposure, and one direction per correlation group;
4. **day**: the daily loss limit (state REDUCING until the next trading day);
5. **account**: the drawdown kill switch and the manual kill (state HALTED until :meth:`RiskGate.reset`).

**Costs.** Each symbol's :class:`~smc_agent.venues.costs.CostModel` estimates the round trip of the
planned trade: the entry's fee (maker for a limit entry, taker and slippage for a market one) and the
stop's taker exit with slippage. With ``c`` those costs a unit, ``d`` the stop distance and ``g`` the
reward to TP1, the size is ``risk / (d + c)`` and the reward:risk checked is ``(g - c) / (d + c)``.
A model with a fixed part (a minimum commission, a flat brokerage) is solved by rescaling the size
until its loss fits. Without a cost model (a gate built alone) costs are zero and no leverage cap applies;
with ``count_costs`` off, costs are zero and the caps apply.

A denial publishes :class:`~smc_agent.events.RiskRejected` (so the journal stores it and the
dashboard shows it) and nothing else happens. The account layer also refuses entries while the operator
has paused trading, and while more than ``max_orders_per_minute`` orders went to the venue in the last
minute.

**What bypasses the gate, and why.** Only entries are sized and checked. Exits pass in every state,
because refusing to close risk is never safer: a reduce-only command is checked only for reducing an
open position; a bracket's stop and take-profits are placed by execution for a position the gate
already accepted, and are reduce-only at the venue; ``Flatten`` (a strategy's or the operator's, and
the kill switch's) closes a whole position. Cancelling an order never adds risk. Exits still count
towards the order rate, so a flood of them stops new entries.

The gate owns the trading state and changes it only when it looks at equity, at each :meth:`~RiskGate.check`
and at :meth:`~RiskGate.on_equity` (the kernel calls it after each candle), or on an operator's kill,
reset, pause and resume; each change is published once as :class:`~smc_agent.events.TradingStateChanged`.
Whenever anything the gate remembers changes (peak, day, the day's start, entries today, the last loss,
the state, the pause) it publishes a :class:`~smc_agent.events.RiskCheckpoint`, from which
:meth:`RiskGate.apply` restores it after a restart. The time comes from the injected clock only; a
clock timer starts each trading day at its midnight, whether or not a candle arrives then.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import msgspec

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Clock, Timer
from smc_agent.core.errors import ConfigError
from smc_agent.core.timefmt import format_time
from smc_agent.engine.ids import order_id
from smc_agent.engine.risk_config import RUNTIME_RISK, RiskConfig
from smc_agent.events import (
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
    RiskCheckpoint,
    RiskRejected,
    TradingStateChanged,
)
from smc_agent.model.commands import OrderCommand
from smc_agent.model.enums import BUY, RiskLayer, Side, TradingState
from smc_agent.model.instrument import DOWN, UP, Instrument
from smc_agent.venues.costs import CostModel

__all__ = ["AccountView", "LimitUsage", "OrderCommand", "RiskConfig", "RiskDecision", "RiskGate", "RiskLayer"]

_RATE_WINDOW_MS = 60_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIT = Decimal("1.000000001")  # a sized loss within a billionth of the budget has converged
COSTS_TOO_HIGH = "costs_too_high"


class RiskDecision(msgspec.Struct, frozen=True, gc=False):
    """The gate's answer: accepted with a quantity (lot-rounded), or denied by a layer for a reason."""

    accepted: bool
    quantity: Decimal
    layer: RiskLayer | None = None
    reason: str | None = None
    stop: Decimal | None = None  # the stop the size was computed for, rounded as it will rest
    rr: Decimal | None = None  # reward:risk to TP1 after the expected costs


class LimitUsage(msgspec.Struct, frozen=True, gc=False):
    """One limit and how much of it is used now; ``symbol`` for a limit of one symbol (entries a day)."""

    name: str
    limit: Decimal
    used: Decimal
    symbol: str | None = None


class AccountView(Protocol):
    """What the gate reads from whoever owns balances and positions (the portfolio)."""

    def equity(self) -> Decimal:
        """Balance plus the open positions' unrealised P&L, in the account currency."""
        ...

    def open_positions(self) -> Mapping[str, tuple[Side, Decimal, Decimal]]:
        """Open positions by symbol: (side, quantity, notional in the account currency)."""
        ...

    def approx_equity(self) -> tuple[float, float]:
        """Equity in floats, and the scale of its rounding error (below 1e-15 of it)."""
        ...


class RiskGate:
    """Sizes and accepts or denies every order command, and owns the trading state.

    The gate subscribes to :class:`~smc_agent.events.PositionChanged` to learn which trades lost
    (the realised P&L summed over a trade's fills, judged when it goes flat) for the loss cooldown.
    """

    def __init__(
        self,
        config: RiskConfig,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        bus: EventBus,
        account: AccountView,
        costs: Mapping[str, CostModel] | None = None,
    ) -> None:
        for symbol, instrument in instruments.items():
            if symbol != instrument.symbol:
                raise ConfigError(f"{symbol!r} maps to the instrument {instrument.symbol!r}", key="instruments")
        self._config = config
        # Sizing, reward:risk, entries a day and the loss cooldown may differ by symbol (RiskConfig.symbols).
        self._limits = {symbol: config.for_symbol(symbol) for symbol in instruments}
        self._instruments = dict(instruments)
        self._leverage = {s: config.max_leverage[str(m.kind)] for s, m in (costs or {}).items()}
        self._kinds = {s: m.kind for s, m in (costs or {}).items()}
        self._costs = dict(costs or {}) if config.count_costs else {}
        self._groups = {symbol: config.groups_of(symbol) for symbol in instruments}
        self._clock = clock
        self._bus = bus
        self._account = account
        self._zone = ZoneInfo(config.day_tz)
        self._state = TradingState.ACTIVE
        self._state_reason = "started"
        self._peak: Decimal | None = None
        self._day: date | None = None
        self._day_bounds = (0, 0)  # the current trading day as [start, end) in epoch ms
        self._drawdown_floor = Decimal(0)  # equity at or below which the kill switch trips
        self._day_floor = Decimal(0)  # equity at or below which the day's loss limit trips
        self._last_equity: Decimal | None = None
        self._quiet: tuple[float, float, float] | None = None  # see _band; None when it must be recomputed
        self._day_start: Decimal | None = None
        self._day_breach: str | None = None  # why today's loss limit was hit, if it was
        self._entries: dict[str, int] = {}  # accepted entries per symbol today
        self._trades: dict[str, tuple[Side, Decimal]] = {}  # open trade per symbol: side, realised P&L
        self._last_loss_ms: dict[str, int] = {}
        self._paused = False
        self._sent: deque[int] = deque()  # times of the orders sent in the last minute
        self._dirty = False  # something a checkpoint holds changed since the last one
        self._roll: Timer | None = None  # the timer that starts the next trading day
        # Entries accepted but not filled yet, by entry order id: (symbol, side, notional). The portfolio
        # layer counts them as positions, or entries accepted at one close could together pass every limit.
        self._working: dict[str, tuple[str, Side, Decimal]] = {}
        bus.subscribe(self._on_position, PositionChanged)
        bus.subscribe(self._on_submitted, OrderSubmitted)
        bus.subscribe(self._on_entry_done, OrderEvent)

    @property
    def state(self) -> TradingState:
        return self._state

    @property
    def state_reason(self) -> str:
        """Why the gate is in its current state (shown next to it on the dashboard)."""
        return self._state_reason

    @property
    def peak_equity(self) -> Decimal | None:
        return self._peak

    @property
    def day_start_equity(self) -> Decimal | None:
        return self._day_start

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def entries_today(self) -> dict[str, int]:
        return dict(self._entries)

    def usage(self) -> list[LimitUsage]:
        """How much of each limit is used now (the operator's view; it changes nothing). Open positions count
        the entries working, as the portfolio layer does; exposure is open notional over equity (a multiple, as
        ``max_total_exposure``); drawdown is the fall from the peak and the daily loss today's fall from the
        day's start (fractions of them); orders are those sent in the last minute."""
        equity = self._account.equity()
        positions = dict(self._account.open_positions())
        for held, side, value in self._working.values():
            positions.setdefault(held, (side, Decimal(0), value))
        exposure = sum((abs(p[2]) for p in positions.values()), Decimal(0))
        now, config = self._clock.now_ms(), self._config
        sent = sum(1 for at in self._sent if at > now - _RATE_WINDOW_MS)

        def fall(start: Decimal | None) -> Decimal:
            return max((start - equity) / start, Decimal(0)) if start else Decimal(0)

        found = [
            LimitUsage("open_positions", Decimal(config.max_open_positions), Decimal(len(positions))),
            LimitUsage("total_exposure", config.max_total_exposure, exposure / equity if equity > 0 else Decimal(0)),
            LimitUsage("max_drawdown", config.max_drawdown, fall(self._peak)),
            LimitUsage("daily_loss_limit", config.daily_loss_limit, fall(self._day_start)),
            LimitUsage("max_orders_per_minute", Decimal(config.max_orders_per_minute), Decimal(sent)),
        ]
        for symbol, limits in sorted(self._limits.items()):
            found.append(LimitUsage("max_trades_per_day", Decimal(limits.max_trades_per_day),
                                    Decimal(self._entries.get(symbol, 0)), symbol))  # fmt: skip
        return found

    def check(self, command: OrderCommand, *, market: bool = True) -> RiskDecision:
        """Accept ``command`` with a quantity, or deny it (publishing :class:`RiskRejected`); ``market``
        says whether the entry is a market order (taker, slips) or a limit (maker)."""
        now = self._clock.now_ms()
        equity = self._observe(now)
        try:
            if command.reduce_only:
                return self._check_exit(command, now)
            sized = self._size(command, equity, not market)
            if isinstance(sized, str):
                return self._deny(command, RiskLayer.TRADE, sized, now)
            quantity, notional, stop, rr = sized
            # The remaining layers in order; the first denial wins and later layers are not evaluated.
            layer, reason = RiskLayer.SYMBOL, self._symbol_denial(command.symbol, now)
            if reason is None:
                layer, reason = RiskLayer.PORTFOLIO, self._portfolio_denial(command, notional, equity)
            if reason is None:
                layer, reason = RiskLayer.DAY, self._day_denial()
            if reason is None:
                layer, reason = RiskLayer.ACCOUNT, self._account_denial(now)
            if reason is not None:
                return self._deny(command, layer, reason, now)
            self._entries[command.symbol] = self._entries.get(command.symbol, 0) + 1
            self._working[order_id(command.signal_id, "e")] = (command.symbol, command.side, notional)
            self._dirty = True
            return RiskDecision(True, quantity, stop=stop, rr=rr)
        finally:
            self._flush(now)

    def on_equity(self, now_ms: int | None = None) -> TradingState:
        """Read equity (after each candle): update the peak and the day's start, and change state if due.

        Most readings change nothing: same day, equity above every armed floor and not above the peak.
        The float approximation settles that with a margin a million times its rounding error; only a
        reading near a limit, at a new peak or on a new day is made exact (the account's Decimal equity).
        """
        now = self._clock.now_ms() if now_ms is None else now_ms
        if self._day_bounds[0] <= now < self._day_bounds[1]:
            low, high, span = self._quiet or self._band()
            approx, scale = self._account.approx_equity()
            margin = 1e-9 * (scale + span)
            if low + margin < approx < high - margin:
                return self._state
        self._observe(now)
        self._flush(now)
        return self._state

    def kill(self, reason: str = "manual kill switch") -> None:
        """Halt trading now: only exits pass until :meth:`reset`.

        The gate owns no positions: the kernel flattens them when the operator's kill asks for it.
        """
        now = self._clock.now_ms()
        self._change(TradingState.HALTED, reason, now)
        self._flush(now)

    def reset(self, reason: str = "manual reset") -> TradingState:
        """Lift a halt: the peak restarts at today's equity, and today's loss limit still applies."""
        if self._state is not TradingState.HALTED:
            return self._state
        now = self._clock.now_ms()
        equity = self._observe(now)
        self._set_peak(equity)
        new = TradingState.REDUCING if self._day_breach is not None else TradingState.ACTIVE
        self._change(new, f"{reason}: peak equity restarts at {_fmt(equity)}", now)
        self._flush(now)
        return self._state

    def pause(self, paused: bool) -> bool:
        """Refuse (``True``) or allow again (``False``) new entries; returns whether anything changed."""
        if paused is self._paused:
            return False
        self._paused, self._dirty = paused, True
        self._flush(self._clock.now_ms())
        return True

    @property
    def config(self) -> RiskConfig:
        return self._config

    def reconfigure(self, changes: Mapping[str, str]) -> tuple[bool, str]:
        """Apply an operator's change of limits (:data:`RUNTIME_RISK` keys, values as text), checked as the
        settings are: refused whole, with the reason, when a key needs a restart or a value is wrong. The floors
        follow the new limits; the kernel then looks at equity, so a lowered limit trips at once."""
        wrong = sorted(set(changes) - set(RUNTIME_RISK))
        if wrong:
            return False, f"{', '.join(wrong)}: cannot change while running (restart with the new settings)"
        try:
            values: dict[str, Any] = {key: _typed(key, text) for key, text in changes.items()}
            config = replace(self._config, **values)  # RiskConfig reads the text as a Decimal, and checks it
        except ConfigError as exc:
            return False, str(exc)
        self._config = config
        self._limits = {symbol: config.for_symbol(symbol) for symbol in self._instruments}
        if self._peak is not None:
            self._set_peak(self._peak)
        if self._day_start is not None:
            self._day_floor = (1 - config.daily_loss_limit) * self._day_start
        self._last_equity, self._quiet = None, None  # the next look checks every limit again
        return True, "risk limits now " + ", ".join(f"{key} {text}" for key, text in sorted(changes.items()))

    # -- journal ---------------------------------------------------------------------------------

    def checkpoint(self, now: int | None = None) -> RiskCheckpoint:
        """What the gate remembers, as the event that restores it."""
        at = self._clock.now_ms() if now is None else now
        return RiskCheckpoint(
            event_ms=at, known_ms=at, state=self._state, state_reason=self._state_reason, paused=self._paused,
            peak=self._peak, day=None if self._day is None else self._day.isoformat(), day_start=self._day_start,
            day_breach=self._day_breach, entries=dict(self._entries), last_loss_ms=dict(self._last_loss_ms),
            open_trades=dict(self._trades), working_entries=dict(self._working),
        )  # fmt: skip

    def snapshot(self, now: int) -> tuple[object, ...]:
        """What the gate remembers at ``now`` (its checkpoint without the time, and the orders of the
        last minute): what a journal replay must rebuild exactly."""
        fields = msgspec.structs.astuple(self.checkpoint(now))[2:-2]  # without the times, seq and session id
        return (*fields, tuple(t for t in self._sent if t > now - _RATE_WINDOW_MS))

    def replay(self, event: RiskCheckpoint | PositionChanged | OrderSubmitted) -> None:
        """Fold a journaled event into the gate, as if it had happened here (a restart, a journal replay)."""
        if isinstance(event, RiskCheckpoint):
            self.apply(event)
        elif isinstance(event, PositionChanged):
            self._judge(event)  # the checkpoint the live gate published after it follows in the journal
        else:
            self._on_submitted(event)

    def apply(self, checkpoint: RiskCheckpoint) -> None:
        """Restore what ``checkpoint`` holds (a restart, or a journal replay); publishes nothing."""
        self._state, self._state_reason, self._paused = checkpoint.state, checkpoint.state_reason, checkpoint.paused
        self._day = None if checkpoint.day is None else date.fromisoformat(checkpoint.day)
        self._day_start, self._day_breach = checkpoint.day_start, checkpoint.day_breach
        self._entries, self._last_loss_ms = dict(checkpoint.entries), dict(checkpoint.last_loss_ms)
        self._trades = dict(checkpoint.open_trades)
        self._working = dict(checkpoint.working_entries)
        self._peak = None
        if checkpoint.peak is not None:
            self._set_peak(checkpoint.peak)
        self._day_floor = (1 - self._config.daily_loss_limit) * (checkpoint.day_start or Decimal(0))
        # The day's bounds are recomputed at the next reading, which does not start a new day when the
        # restored one still runs (its counts and floor stay).
        self._day_bounds, self._last_equity, self._quiet = (0, 0), None, None
        self._dirty = False  # the gate now is the checkpoint: nothing is left to publish

    def resume(self, now: int) -> None:
        """After a restore, take up the trading day at ``now`` as the running gate had it: its bounds,
        and the timer that starts the next day at midnight even when no candle comes then. Publishes
        nothing: the restored checkpoint already holds the day."""
        self._day_bounds = self._bounds_of(now)
        if self._roll is not None:
            self._roll.cancel()
        self._roll = self._clock.call_at(self._day_bounds[1], self._on_midnight)

    def day_start_ms(self, now: int) -> int:
        """When the trading day containing ``now`` began (epoch ms)."""
        return self._bounds_of(now)[0]

    def _on_midnight(self) -> None:
        now = self._clock.now_ms()
        self._observe(now)
        self._flush(now)

    def _flush(self, now: int) -> None:
        if self._dirty:
            self._dirty = False
            self._bus.publish(self.checkpoint(now))

    # -- equity and state -------------------------------------------------------------------------

    def _observe(self, now: int) -> Decimal:
        """Read equity once: roll the trading day, raise the peak, and trip the limits that it breaks."""
        config = self._config
        equity = self._account.equity()
        if self._day_bounds[0] <= now < self._day_bounds[1] and equity == self._last_equity:
            return equity  # same day, same equity: the peak and every limit were checked already
        self._last_equity = equity
        if not self._day_bounds[0] <= now < self._day_bounds[1]:
            self._day_bounds = self._bounds_of(now)
            # The day rolls at midnight even when no candle comes then (a weekend, a quiet market).
            if self._roll is not None:
                self._roll.cancel()
            self._roll = self._clock.call_at(self._day_bounds[1], self._on_midnight)
            day = (_EPOCH + timedelta(milliseconds=self._day_bounds[0])).astimezone(self._zone).date()
            if self._day is None or day > self._day:
                self._dirty = True
                self._day, self._day_start, self._day_breach = day, equity, None
                self._day_floor = (1 - config.daily_loss_limit) * equity
                self._quiet = None
                self._entries.clear()
                if self._state is TradingState.REDUCING:
                    self._change(TradingState.ACTIVE, f"new trading day {day} ({config.day_tz}): entries allowed", now)
        peak = self._peak
        if peak is None or equity > peak:
            peak = self._set_peak(equity)
        if self._state is not TradingState.HALTED and equity <= self._drawdown_floor:
            reason = (
                f"max drawdown: equity {_fmt(equity)} is at or below {_pct(1 - config.max_drawdown)} "
                f"of the peak {_fmt(peak)} (max drawdown {_pct(config.max_drawdown)})"
            )
            self._change(TradingState.HALTED, reason, now)
        day_start = equity if self._day_start is None else self._day_start
        if self._day_breach is None and equity <= self._day_floor:
            self._quiet, self._dirty = None, True
            self._day_breach = (
                f"equity {_fmt(equity)} is at or below {_pct(1 - config.daily_loss_limit)} of the day's "
                f"starting equity {_fmt(day_start)} (daily loss limit {_pct(config.daily_loss_limit)})"
            )
            if self._state is TradingState.ACTIVE:
                self._change(TradingState.REDUCING, f"daily loss limit: {self._day_breach}", now)
        return equity

    def _set_peak(self, equity: Decimal) -> Decimal:
        # The floors are recomputed only when what they depend on moves, not at every reading.
        self._peak, self._dirty = equity, True
        self._drawdown_floor = (1 - self._config.max_drawdown) * equity
        self._quiet = None
        return equity

    def _band(self) -> tuple[float, float, float]:
        """(low, high, span): equity strictly between the armed floors and the peak changes nothing."""
        floors = [f for f, armed in ((self._drawdown_floor, self._state is not TradingState.HALTED),
                                     (self._day_floor, self._day_breach is None)) if armed]  # fmt: skip
        low = float(max(floors)) if floors else -math.inf
        high = -math.inf if self._peak is None else float(self._peak)
        self._quiet = (low, high, sum(abs(end) for end in (low, high) if math.isfinite(end)))
        return self._quiet

    def _bounds_of(self, now: int) -> tuple[int, int]:
        """The UTC epoch-ms interval of the trading day (in ``day_tz``) that contains ``now``."""
        local = (_EPOCH + timedelta(milliseconds=now)).astimezone(self._zone)
        start = datetime.combine(local.date(), time(0), self._zone)
        end = datetime.combine(local.date() + timedelta(days=1), time(0), self._zone)
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)

    def _change(self, new: TradingState, reason: str, now: int) -> None:
        if new is self._state:
            return
        old, self._state, self._state_reason = self._state, new, reason
        self._quiet, self._dirty = None, True
        self._bus.publish(TradingStateChanged(event_ms=now, known_ms=self._clock.now_ms(), old=old, new=new,
                                              reason=reason))  # fmt: skip

    def _on_position(self, event: PositionChanged) -> None:
        """Judge a trade when it ends (flat, or flipped): a net loss starts the symbol's cooldown.

        The P&L is summed over the trade's fills, so a trade that banked TP1 and then stopped out a
        little below its entry is judged as a whole, not by its last fill.
        """
        self._judge(event)
        self._flush(event.event_ms)

    def _judge(self, event: PositionChanged) -> None:
        """Follow the symbol's trade through one position change.

        Every change of the open trades is checkpointed: a checkpoint published while the fill was
        being delivered (its entry stopped working) was made before this position change reached the
        gate, so without a fresh one a journal replay would end on a state without the trade.
        """
        previous, pnl = self._trades.pop(event.symbol, (None, Decimal(0)))
        pnl += event.realized
        self._dirty = True  # the open trade was opened, moved, ended or flipped
        if event.side is not None and previous in (None, event.side):  # opened, or still open
            self._trades[event.symbol] = (event.side, pnl)
            return
        if pnl < 0:  # flat (or a close the gate did not see open: judged by what it saw)
            self._last_loss_ms[event.symbol] = event.event_ms
        if event.side is not None:  # flipped: the fill's remainder opens a new trade
            self._trades[event.symbol] = (event.side, Decimal(0))

    def _on_submitted(self, event: OrderSubmitted) -> None:
        self._sent.append(event.event_ms)

    def _on_entry_done(self, event: OrderEvent) -> None:
        """An accepted entry stops being a working one at its first fill (then it is a position) or when
        it ends unfilled."""
        ended = isinstance(event, OrderFilled | OrderCancelled | OrderRejected | OrderExpired)
        if ended and self._working.pop(event.order.client_order_id, None) is not None:
            self._dirty = True
            self._flush(event.event_ms)

    # -- the layers ------------------------------------------------------------------------------

    def _size(
        self, command: OrderCommand, equity: Decimal, maker: bool
    ) -> tuple[Decimal, Decimal, Decimal, Decimal] | str:
        """Layer 1: (quantity, notional, rounded stop, rr after costs) of a well-formed trade, or why not."""
        symbol, side, entry, stop = command.symbol, command.side, command.entry, command.stop
        instrument = self._instruments.get(symbol)
        if instrument is None:
            return f"no instrument is configured for {symbol}"
        if entry <= 0:
            return f"entry {entry} on {symbol} is not a positive price"
        if stop == entry:
            return f"stop {stop} equals the entry on {symbol}: the risk per unit must not be zero"
        above, below = ("above", "below") if side is BUY else ("below", "above")
        # Size from the stop as it will rest at the venue: rounded to the tick away from the entry
        # (see Instrument), so the money at risk never exceeds the budget.
        stop = instrument.round_price(stop, DOWN if side is BUY else UP)
        distance = (entry - stop) * side.sign
        if distance == 0:
            return f"stop {command.stop} rounds to the entry {entry} on {symbol}: the risk per unit must not be zero"
        if distance < 0:
            return f"stop {stop} is {above} the entry {entry} on {symbol}: a {side.name} needs its stop {below} it"
        if not command.targets:
            return f"no targets on {symbol}: an entry needs at least TP1"
        for n, target in enumerate(command.targets, 1):
            if (target - entry) * side.sign <= 0:
                return f"TP{n} {target} is not {above} the entry {entry} on {symbol} for a {side.name}"
        limits = self._limits.get(symbol, self._config)
        risk = limits.risk_per_trade * equity
        costs = self._costs.get(symbol)
        raw = risk / distance if costs is None else self._fit(costs, command, stop, distance, risk, maker)
        capped = ""
        leverage = self._leverage.get(symbol)
        if leverage is not None and raw * entry > leverage * equity:
            raw = leverage * equity / entry
            capped = f", cut to the {self._kinds[symbol]} leverage cap of {_fmt(leverage)}×"
        quantity = instrument.round_qty(raw)
        if quantity <= 0:
            return (
                f"size rounds to 0 on {symbol}: risking {_fmt(risk)} over a stop distance of {_fmt(distance)} "
                f"buys {_sig(raw)} units{capped}, less than the lot size {_fmt(instrument.lot_size)}"
            )
        if command.quantity is not None:  # a size asked for: never more than the budget allows
            if command.quantity > quantity:
                return (
                    f"quantity {_fmt(command.quantity)} on {symbol} risks more than "
                    f"{_pct(limits.risk_per_trade)} of equity: at most {_fmt(quantity)} over a stop "
                    f"distance of {_fmt(distance)}{capped}"
                )
            quantity = instrument.round_qty(command.quantity)
            if quantity <= 0:
                return (
                    f"quantity {_fmt(command.quantity)} on {symbol} rounds to 0 at the lot size {instrument.lot_size}"
                )
        notional = quantity * entry
        if notional < instrument.min_notional:
            return (
                f"notional {_fmt(notional)} ({_fmt(quantity)} × {entry}) on {symbol} is below the "
                f"instrument's minimum {_fmt(instrument.min_notional)}"
            )
        per_unit = Decimal(0)
        if costs is not None:
            per_unit = costs.round_trip(side, entry, stop, quantity, maker_entry=maker) / quantity
        if per_unit > self._config.max_cost_share * distance:
            return (
                f"{COSTS_TOO_HIGH}: expected round-trip costs of {_sig(per_unit)} a unit on {symbol} are "
                f"{_fmt(100 * per_unit / distance, ROUND_CEILING)}% of the stop distance {_fmt(distance)} "
                f"(max {_pct(self._config.max_cost_share)}; {costs.describe() if costs else ''})"
            )
        reward = (command.targets[0] - entry) * side.sign
        rr = (reward - per_unit) / (distance + per_unit)
        if rr < limits.min_rr:
            gross = f" after costs ({_fmt(reward / distance, ROUND_FLOOR)} before)" if per_unit else ""
            return (
                f"reward:risk to TP1 is {_fmt(rr, ROUND_FLOOR)}{gross}, below the minimum "
                f"{_fmt(limits.min_rr)} on {symbol}"
            )
        return quantity, notional, stop, rr

    @staticmethod
    def _fit(costs: CostModel, command: OrderCommand, stop: Decimal, distance: Decimal, risk: Decimal,
             maker: bool) -> Decimal:  # fmt: skip
        """The size whose stop-out loses ``risk`` with costs: ``risk / (distance + costs a unit)``, found
        by rescaling (one step when costs are proportional; a fixed charge takes one or two more)."""
        quantity = risk / distance
        for _ in range(4):
            loss = quantity * distance + costs.round_trip(command.side, command.entry, stop, quantity,
                                                          maker_entry=maker)  # fmt: skip
            if loss <= risk * _FIT:
                break
            quantity = quantity * risk / loss
        return quantity

    def _symbol_denial(self, symbol: str, now: int) -> str | None:
        config = self._limits.get(symbol, self._config)
        count = self._entries.get(symbol, 0)
        if count >= config.max_trades_per_day:
            return f"{_plural(count, 'trade')} already today on {symbol} (max {config.max_trades_per_day})"
        lost = self._last_loss_ms.get(symbol)
        if lost is not None and now < lost + config.cooldown_ms:
            tz = config.day_tz
            return (
                f"{symbol} closed at a loss at {format_time(lost, tz)}: no new entry for "
                f"{config.loss_cooldown_minutes} minutes, until {format_time(lost + config.cooldown_ms, tz)}"
            )
        return None

    def _portfolio_denial(self, command: OrderCommand, notional: Decimal, equity: Decimal) -> str | None:
        config, symbol = self._config, command.symbol
        positions = dict(self._account.open_positions())
        added = Decimal(0)  # working entries on symbols already held (a reversal, an addition): notional only
        for held, side, value in self._working.values():
            if held in positions:
                added += value
            else:
                positions[held] = (side, Decimal(0), value)
        if symbol not in positions and len(positions) >= config.max_open_positions:
            return (
                f"{_plural(len(positions), 'position')} already open ({', '.join(sorted(positions))}; "
                f"max {config.max_open_positions})"
            )
        existing = sum((abs(p[2]) for p in positions.values()), added)
        total = existing + notional
        if total > config.max_total_exposure * equity:
            ratio = _fmt(total / equity, ROUND_CEILING) if equity > 0 else "unbounded"
            return (
                f"exposure would be {ratio}× equity: open notional {_fmt(existing)} + this {_fmt(notional)} "
                f"= {_fmt(total)} over equity {_fmt(equity)} (max {_fmt(config.max_total_exposure)}×)"
            )
        cap = config.max_same_direction_per_group
        for group in self._groups.get(symbol, ()):
            same = sorted(s for s in group if s != symbol and s in positions and positions[s][0] is command.side)
            if len(same) >= cap:
                return (
                    f"{_plural(len(same), command.side.name + ' position')} already open in the correlated "
                    f"group {'/'.join(group)} ({', '.join(same)}; max {cap} in one direction)"
                )
        return None

    def _day_denial(self) -> str | None:
        if self._day_breach is None:
            return None
        return f"daily loss limit reached on {self._day}: {self._day_breach}; only exits until the next trading day"

    def _account_denial(self, now: int) -> str | None:
        if self._state is TradingState.HALTED:
            return f"trading is halted until a manual reset: {self._state_reason}; only exits pass"
        if self._paused:
            return "trading is paused by the operator: no new entries until resumed; exits pass"
        sent = self._sent
        while sent and sent[0] <= now - _RATE_WINDOW_MS:
            sent.popleft()
        cap = self._config.max_orders_per_minute
        if len(sent) >= cap:
            return f"{_plural(len(sent), 'order')} sent in the last minute (max {cap} a minute): entries wait"
        return None

    def _check_exit(self, command: OrderCommand, now: int) -> RiskDecision:
        """An exit passes in every state, for the whole open position, if it reduces one."""
        position = self._account.open_positions().get(command.symbol)
        if position is None or position[0] is command.side:
            opposite = command.side.opposite
            reason = f"reduce-only {command.side.name} on {command.symbol} has no {opposite.name} position to reduce"
            return self._deny(command, RiskLayer.TRADE, reason, now)
        return RiskDecision(True, position[1])

    def _deny(self, command: OrderCommand, layer: RiskLayer, reason: str, now: int) -> RiskDecision:
        event = RiskRejected(event_ms=now, known_ms=now, symbol=command.symbol, layer=layer, reason=reason,
                             command=command)  # fmt: skip
        self._bus.publish(event)
        return RiskDecision(False, Decimal(0), layer, reason)


def _typed(key: str, text: str) -> str | int:
    """A limit's value from its text: a count as a whole number; a decimal stays text, which RiskConfig reads
    (and checks) exactly."""
    if RiskConfig.__dataclass_fields__[key].type != "int":
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"must be a whole number, got {text!r}", key=key) from None


def _fmt(value: Decimal, rounding: str | None = None) -> str:
    """Plain digits, no exponent, no trailing zeros; with ``rounding``, to two decimals that way."""
    if rounding is not None:
        value = value.quantize(Decimal("0.01"), rounding=rounding)
    return format(value.normalize(), "f")


def _sig(value: Decimal) -> str:
    """Six significant digits, rounded down: enough to show how far below a lot a size fell."""
    with localcontext() as context:
        context.prec, context.rounding = 6, ROUND_FLOOR
        return _fmt(+value)


def _pct(fraction: Decimal) -> str:
    return f"{_fmt(fraction * 100)}%"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
