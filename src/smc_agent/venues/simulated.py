"""The simulated venue: fills orders against closed candles, with fees, slippage and stated rules.

It is the venue of backtests and paper trading, a product rather than a test double: the same core
talks to it and to a real exchange through :class:`~smc_agent.venues.Venue`. It reads time only from
the clock it is given, does no I/O and is deterministic: the same orders and candles give the same
events, in the same order.

**Submission.** ``submit`` publishes :class:`OrderSubmitted` (the order as sent), then either
:class:`OrderAccepted` (the order normalised: quantity rounded *down* to the lot, a limit buy's price
down and a limit sell's up, a sell stop's trigger down and a buy stop's up) or :class:`OrderRejected`
whose reason starts with the :class:`RejectRule` it broke: unknown symbol, duplicate id, below lot size,
missing price or trigger, price not positive, below min notional (the quantity times the limit price,
the trigger, or for a market order the last close, unchecked before the first candle), or a
reduce-only order that would increase or flip the current position.

**Fills** (one ``on_candle`` per closed candle of the entry timeframe, per symbol, in time order; the
kernel hands the venue each candle as market data, before anything else reacts to it):

1. An order is evaluated from the first candle that *opens after* the latest candle the venue had seen
   (of any symbol) when it was submitted: a MARKET order sent at the close of candle t fills at the
   OPEN of t+1, plus slippage against the trader, taker fee. Counting candles rather than reading the
   clock keeps paper trading, where orders arrive a little after the close, equal to the backtest;
   it assumes one timeframe per venue (the entry timeframe) and candles of a symbol in time order.
2. LIMIT: a buy fills when ``low <= price``, a sell when ``high >= price``, at the limit price; if
   the candle opens beyond it in the trader's favour (a buy limit, open below it) at the open. Maker
   fee, no slippage.
3. STOP: a sell stop triggers when ``low <= trigger``, a buy stop when ``high >= trigger``, and fills
   at the trigger; a GAP through it fills at the OPEN (sell stop, ``open < trigger``: at the open).
   Taker fee plus slippage against the trader.
4. Order within a candle: first everything that fills at the open (markets, gapped stops, limits
   the open went through), then the touches inside the range: stops before limits, each in
   submission order. So when one candle touches both the stop and the take-profit of a position, the
   STOP fills first (pessimistic); the take-profit is then cancelled, because the position is gone.
   Which came first really is unknowable from the candle; settling it needs lower-timeframe data,
   which the venue does not use. (A take-profit the candle *opened* through did come first.)
5. An order submitted while a candle is being processed (a protective stop placed when the entry
   fills) is checked against that same candle only if it is a STOP: the range after the entry may
   have touched it (pessimistic). It fills at its trigger, or at the price of the fill that prompted
   it if that was already through the trigger. Limits and markets start from the next candle.
6. Fills are whole unless ``volume_share`` is set: then an entry (an order that is not reduce-only)
   fills at most that share of the candle's volume per candle (rounded down to the lot; the volume
   in the units of the quantity), and the rest rests for the next candle. Exits always fill whole:
   a model that left a stop half-filled in a gap would understate the loss. A reduce-only order
   larger than the position left fills the position only; one with nothing left to reduce is
   cancelled with the reason ``"position closed"`` when it would fill. Cancelling the other legs of
   a bracket is execution's job, as on an exchange.
7. Fill prices round to the tick against the trader (buys up, sells down). ``OrderFilled.slippage``
   is the per-unit distance from the reference price (open, limit or trigger) to the fill, rounding
   included; quantities are Decimal; the fee is Decimal in the quote currency, from the symbol's
   :class:`~smc_agent.venues.costs.CostModel` (commissions, taxes, a forex half spread).
8. An order with ``expire_ms`` is expired (:class:`OrderExpired`) by a clock timer at that time if it
   has not filled; when that time falls inside a candle, the order is gone before the candle is
   evaluated (the clock reaches each candle's close before the venue sees the candle).

>>> from smc_agent.core.bus import EventBus
>>> from smc_agent.core.clock import SimulatedClock
>>> from smc_agent.venues.costs import FeeModel, FixedBpsSlippage
>>> from smc_agent.model.enums import Side
>>> from smc_agent.model.orders import OrderType
>>> venue = SimulatedVenue(EventBus(), SimulatedClock(), {"X": Instrument("X", Decimal("0.1"), Decimal("1"))},
...                        FeeModel(Decimal(0), Decimal(10)), FixedBpsSlippage(Decimal(0)))
>>> venue.submit(Order("o-1", "X", Side.BUY, OrderType.MARKET, Decimal("2")))
>>> venue.open_orders()[0].status
<OrderStatus.ACCEPTED: 'accepted'>
>>> venue.on_candle(CandleClosed(event_ms=60, known_ms=60, symbol="X", timeframe="1m", time=0,
...                              open=100.0, high=101.0, low=99.0, close=100.5, volume=1.0))
>>> venue.position("X"), venue.open_orders()
(Decimal('2'), [])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Clock
from smc_agent.core.errors import SmcAgentError
from smc_agent.events import (
    CandleClosed,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from smc_agent.model.enums import BUY, SELL
from smc_agent.model.instrument import DOWN, UP, Instrument, to_decimal
from smc_agent.model.orders import (
    ACCEPTED,
    CANCELLED,
    EXPIRED,
    FILLED,
    LIMIT,
    MARKET,
    NEW,
    PARTIALLY_FILLED,
    REJECTED,
    STOP,
    Order,
)
from smc_agent.venues.costs import CostModel, SlippageModel

__all__ = ["POSITION_CLOSED", "RejectRule", "SimulatedVenue"]

POSITION_CLOSED = "position closed"
_RANK = {MARKET: 0, STOP: 1, LIMIT: 2}
_ZERO = Decimal(0)


class RejectRule(StrEnum):
    """The rule a rejected order broke: the first words of ``OrderRejected.reason``."""

    UNKNOWN_SYMBOL = "unknown symbol"
    DUPLICATE_ID = "duplicate client_order_id"
    LOT_SIZE = "below lot size"
    MISSING_PRICE = "missing price"
    MISSING_TRIGGER = "missing trigger"
    PRICE_NOT_POSITIVE = "price not positive"
    MIN_NOTIONAL = "below min notional"
    REDUCE_ONLY_INCREASE = "reduce-only would increase the position"
    REDUCE_ONLY_FLIP = "reduce-only would flip the position"


@dataclass(slots=True)
class _Resting:
    order: Order
    seq: int
    after: int | None  # latest candle open time seen at submission: evaluated from a later candle on
    during: int | None = None  # open time of its symbol's candle being processed when it arrived
    ref: Decimal | None = None  # the intrabar price then (the fill that prompted it)
    filled_in: int | None = None  # open time of the candle that last (partly) filled it: once per candle
    accepted_ms: int = 0  # when it was accepted (a restore sets its expiry timer again in that order)


class SimulatedVenue:
    """Orders rest here until a candle fills them; see the module docstring for every rule."""

    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        instruments: Mapping[str, Instrument],
        fees: CostModel | Mapping[str, CostModel],
        slippage: SlippageModel,
        *,
        volume_share: Decimal | None = None,
    ) -> None:
        if volume_share is not None and not 0 < volume_share <= 1:
            raise SmcAgentError(
                f"volume_share must be > 0 and <= 1 (a share of each candle's volume), got {volume_share}"
            )
        self._volume_share = volume_share
        self._bus = bus
        self._clock = clock
        self._instruments = instruments
        # One cost model for every symbol, or each symbol's own (its kind of market's fees).
        self._fees: CostModel | None = None if isinstance(fees, Mapping) else fees
        self._fees_of: Mapping[str, CostModel] = fees if isinstance(fees, Mapping) else {}
        self._slippage = slippage
        self._book: dict[str, _Resting] = {}  # active orders, in submission order
        # Per symbol, (a, b): a candle can fill a resting order only if its low <= a or its high >= b.
        # Recomputed when the symbol's next candle arrives after its orders changed (``_stale``).
        self._reach: dict[str, tuple[float, float]] = {}
        self._stale: set[str] = set()
        self._ids: set[str] = set()  # every id ever submitted
        self._positions: dict[str, Decimal] = {}
        self._fills: list[OrderFilled] = []
        self._last_close: dict[str, float] = {}  # converted to Decimal only when a market order needs it
        self._last_open: dict[str, int] = {}
        self._seq = 0
        self._watermark: int | None = None
        self._candle: CandleClosed | None = None
        self._intrabar: Decimal | None = None
        self._armed: set[int] = set()  # restored orders whose expiry timer is set again (see rearm)

    # -- the port ---------------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        """Validate and accept (or reject) ``order``: the outcome is an event, never a return value.

        A rejection is an event, not an exception; only an order that is not NEW raises (SmcAgentError),
        because resubmitting an order object is a bug in the caller, not a market condition.
        """
        if order.status is not NEW:
            raise SmcAgentError(f"order {order.client_order_id}: only a new order can be submitted, not {order.status}")
        checked = self._validate(order)
        self._ids.add(order.client_order_id)
        now = self._clock.now_ms()
        self._bus.publish(OrderSubmitted(event_ms=now, known_ms=now, order=order))
        if isinstance(checked, str):
            self._bus.publish(OrderRejected(event_ms=now, known_ms=now, order=order.to(REJECTED), reason=checked))
            return
        quantity, price, trigger = checked
        accepted = order.to(ACCEPTED, quantity=quantity, price=price, trigger=trigger)
        self._seq += 1
        resting = _Resting(accepted, self._seq, self._watermark)
        if self._candle is not None and self._candle.symbol == order.symbol:
            resting.during, resting.ref = self._candle.time, self._intrabar or to_decimal(self._candle.open)
        self._book[order.client_order_id] = resting
        self._stale.add(order.symbol)
        self._bus.publish(OrderAccepted(event_ms=now, known_ms=now, order=accepted))
        if order.expire_ms is not None:
            self._clock.call_at(order.expire_ms, lambda: self._expire(resting))

    def cancel(self, client_order_id: str, reason: str) -> bool:
        """Cancel an active order; False (and no event) when it is unknown or no longer active."""
        resting = self._book.pop(client_order_id, None)
        if resting is None:
            return False
        self._stale.add(resting.order.symbol)
        now = self._clock.now_ms()
        cancelled = resting.order.to(CANCELLED)
        self._bus.publish(OrderCancelled(event_ms=now, known_ms=now, order=cancelled, reason=reason))
        return True

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Active orders, of one symbol or all, in submission order."""
        return [r.order for r in self._book.values() if symbol is None or r.order.symbol == symbol]

    def position(self, symbol: str) -> Decimal:
        """The signed net quantity filled here: > 0 long, < 0 short, 0 flat."""
        return self._positions.get(symbol, _ZERO)

    def positions(self) -> dict[str, Decimal]:
        """Every non-flat position, signed."""
        return {symbol: held for symbol, held in self._positions.items() if held}

    def fills_since(self, ms: int) -> list[OrderFilled]:
        """The fills at or after ``ms``, in the order they happened."""
        return [fill for fill in self._fills if fill.event_ms >= ms]

    # -- recovery ---------------------------------------------------------------------------------

    def restore(self, event: CandleClosed | OrderEvent) -> None:
        """Fold one journaled event into the book, without publishing or filling (a restart): a candle
        the venue saw (of a symbol's entry timeframe), or an order's event. Folded in journal order, they
        leave the working orders (in submission order, each evaluated from the candle after the one seen
        when it arrived), the ids used, the positions, the fills and each symbol's last candle exactly
        as the run that wrote the journal did. Expiry timers are set again by :meth:`rearm`."""
        if isinstance(event, CandleClosed):
            self._last_open[event.symbol] = event.time
            self._last_close[event.symbol] = event.close
            if self._watermark is None or event.time > self._watermark:
                self._watermark = event.time
            self._stale.add(event.symbol)
        else:
            self._stale.add(event.order.symbol)
            self._restore_order(event)

    def _restore_order(self, event: OrderEvent) -> None:
        order = event.order
        key = order.client_order_id
        if isinstance(event, OrderSubmitted):
            self._ids.add(key)
        elif isinstance(event, OrderAccepted):
            self._seq += 1
            self._book[key] = _Resting(order, self._seq, self._watermark, accepted_ms=event.event_ms)
        elif isinstance(event, OrderFilled):
            self._fills.append(event)
            held = self._positions.get(order.symbol, _ZERO)
            self._positions[order.symbol] = held + event.quantity if order.side is BUY else held - event.quantity
            resting = self._book.get(key)
            if resting is not None and order.active:
                resting.order = order
            else:
                self._book.pop(key, None)
        else:  # rejected, cancelled, expired
            self._book.pop(key, None)

    def rearm(self, *, accepted_before: int | None = None) -> None:
        """Set the expiry timers of the restored working orders again (those accepted before
        ``accepted_before`` only, when given, and the rest on a later call): a restarted clock has no
        timers, and timers due at one moment fire in the order they were set."""
        for resting in self._book.values():
            order = resting.order
            if order.expire_ms is None or resting.seq in self._armed:
                continue
            if accepted_before is not None and resting.accepted_ms >= accepted_before:
                continue
            self._armed.add(resting.seq)
            self._clock.call_at(order.expire_ms, self._expiry(resting))

    def _expiry(self, resting: _Resting) -> Callable[[], None]:
        return lambda: self._expire(resting)

    def _expire(self, resting: _Resting) -> None:
        if self._live(resting):
            del self._book[resting.order.client_order_id]
            self._stale.add(resting.order.symbol)
            now = self._clock.now_ms()
            self._bus.publish(OrderExpired(event_ms=now, known_ms=now, order=resting.order.to(EXPIRED)))

    def on_candle(self, candle: CandleClosed) -> None:
        """Fill what ``candle`` fills, in the order the module docstring states."""
        symbol, opened = candle.symbol, candle.time
        last = self._last_open.get(symbol)
        if last is not None and opened <= last:
            raise SmcAgentError(f"{symbol}: candles must arrive in time order, got open {opened} after {last}")
        self._last_open[symbol] = opened
        if self._watermark is None or opened > self._watermark:
            self._watermark = opened
        # Most candles reach no resting order (stops and targets sit away from price): skip them.
        if symbol in self._stale:
            self._update_reach(symbol)
        reach = self._reach.get(symbol)
        if reach is not None and (candle.low <= reach[0] or candle.high >= reach[1]):
            self._candle, self._intrabar = candle, None
            try:
                self._evaluate(candle)
            finally:
                self._candle = self._intrabar = None
        self._last_close[candle.symbol] = candle.close

    # -- fills ------------------------------------------------------------------------------------

    def _evaluate(self, candle: CandleClosed) -> None:
        opening, high, low = to_decimal(candle.open), to_decimal(candle.high), to_decimal(candle.low)
        due = sorted(
            (r for r in self._book.values() if r.order.symbol == candle.symbol and _due(r, candle.time)),
            key=lambda r: (_RANK[r.order.type], r.seq),
        )
        for r in due:  # 1: at the open
            if self._live(r):
                base = _at_open(r.order, opening)
                if base is not None:
                    self._fill(r, base, candle)
        for r in due:  # 2: inside the range, stops before limits
            if self._live(r):
                base = _touched(r.order, high, low)
                if base is not None:
                    self._fill(r, base, candle)
        evaluated: set[int] = set()
        while True:  # 3: stops that arrived during this candle, until no new one does
            fresh = [
                r
                for r in self._book.values()
                if r.during == candle.time
                and r.order.symbol == candle.symbol
                and r.order.type is STOP
                and r.seq not in evaluated
            ]
            if not fresh:
                return
            for r in fresh:
                evaluated.add(r.seq)
                if self._live(r):
                    base = _at_open(r.order, opening if r.ref is None else r.ref)
                    base = _touched(r.order, high, low) if base is None else base
                    if base is not None:
                        self._fill(r, base, candle)

    def _live(self, resting: _Resting) -> bool:
        return self._book.get(resting.order.client_order_id) is resting

    def _fill(self, resting: _Resting, base: Decimal, candle: CandleClosed) -> None:
        order = resting.order
        if resting.filled_in == candle.time:
            return  # partly filled by this candle already: its share of the volume is used up
        quantity = order.quantity - order.filled
        if order.reduce_only:
            quantity = min(quantity, self._reducible(order))
            if quantity <= 0:
                self.cancel(order.client_order_id, POSITION_CLOSED)
                return
        elif self._volume_share is not None:
            share = self._instruments[order.symbol].round_qty(self._volume_share * to_decimal(candle.volume))
            quantity = min(quantity, share)
            if quantity <= 0:
                return
        resting.filled_in = candle.time
        maker = order.type is LIMIT
        raw = base if maker else base + self._slippage.per_unit(order.side, base, candle)
        price = self._instruments[order.symbol].round_price(raw, UP if order.side is BUY else DOWN)
        filled = order.filled + quantity
        after = order.to(FILLED if filled == order.quantity else PARTIALLY_FILLED, filled=filled)
        if after.active:
            resting.order = after
        else:
            del self._book[order.client_order_id]
            self._stale.add(order.symbol)
        held = self._positions.get(order.symbol, _ZERO)
        self._positions[order.symbol] = held + quantity if order.side is BUY else held - quantity
        self._intrabar = base
        now = self._clock.now_ms()
        fill = OrderFilled(
            event_ms=now, known_ms=now, order=after, price=price, quantity=quantity,
            fee=(self._fees or self._fees_of[order.symbol]).fill_fee(order.side, price, quantity, maker=maker),
            slippage=(price - base) * order.side.sign, maker=maker,
        )  # fmt: skip
        self._fills.append(fill)
        self._bus.publish(fill)

    def _update_reach(self, symbol: str) -> None:
        """Recompute the symbol's reach from its resting orders: a float pre-check, exact fills stay Decimal."""
        self._stale.discard(symbol)
        falls, rises, any_order = -math.inf, math.inf, False
        for r in self._book.values():
            order = r.order
            if order.symbol != symbol:
                continue
            any_order = True
            if order.type is MARKET:
                falls = math.inf
                continue
            level = float(order.trigger if order.type is STOP else order.price)  # type: ignore[arg-type]
            if (order.side is SELL) == (order.type is STOP):  # sell stop, buy limit: low reaches
                falls = max(falls, level)
            else:
                rises = min(rises, level)
        if any_order:
            self._reach[symbol] = (falls, rises)
        else:
            self._reach.pop(symbol, None)

    def _reducible(self, order: Order) -> Decimal:
        """How much of the position ``order`` could close: 0 when flat or on the position's side."""
        held = self._positions.get(order.symbol, _ZERO)
        return abs(held) if (held < 0 if order.side is BUY else held > 0) else _ZERO

    # -- validation -------------------------------------------------------------------------------

    def _validate(self, order: Order) -> tuple[Decimal, Decimal | None, Decimal | None] | str:
        """The normalised quantity, price and trigger, or the rejection reason (its rule, then the detail)."""
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            return f"{RejectRule.UNKNOWN_SYMBOL}: {order.symbol!r} is not an instrument of this venue"
        if order.client_order_id in self._ids:
            return f"{RejectRule.DUPLICATE_ID}: {order.client_order_id!r} was already submitted"
        quantity = instrument.round_qty(order.quantity)
        if quantity <= 0:
            return (
                f"{RejectRule.LOT_SIZE}: quantity {order.quantity} rounds down to {quantity}, "
                f"not a positive multiple of the lot size {instrument.lot_size}"
            )
        price, trigger = order.price, order.trigger
        if order.type is LIMIT:
            if price is None:
                return f"{RejectRule.MISSING_PRICE}: a limit order needs a price"
            price = instrument.round_price(price, DOWN if order.side is BUY else UP)
        elif order.type is STOP:
            if trigger is None:
                return f"{RejectRule.MISSING_TRIGGER}: a stop order needs a trigger price"
            trigger = instrument.round_price(trigger, UP if order.side is BUY else DOWN)
        level = price if order.type is LIMIT else trigger
        if order.type is not MARKET and (level is None or level <= 0):
            return f"{RejectRule.PRICE_NOT_POSITIVE}: {order.type} price {level} after rounding to the tick"
        if instrument.min_notional:
            last = self._last_close.get(order.symbol)
            reference = level if order.type is not MARKET else None if last is None else to_decimal(last)
            if reference is not None and quantity * reference < instrument.min_notional:
                return (
                    f"{RejectRule.MIN_NOTIONAL}: {quantity} x {reference} = {quantity * reference} "
                    f"< {instrument.min_notional}"
                )
        if order.reduce_only:
            held = self.position(order.symbol)
            if held * order.side.sign >= 0:
                return f"{RejectRule.REDUCE_ONLY_INCREASE}: {order.side} {quantity} with a position of {held}"
            if quantity > abs(held):
                return f"{RejectRule.REDUCE_ONLY_FLIP}: {order.side} {quantity} with a position of {held}"
        return quantity, price, trigger


def _due(resting: _Resting, open_ms: int) -> bool:
    return resting.after is None or resting.after < open_ms


def _at_open(order: Order, opening: Decimal) -> Decimal | None:
    """The open, when ``order`` fills at it: a market, a stop gapped through, a limit opened through."""
    if order.type is MARKET:
        return opening
    level = order.trigger if order.type is STOP else order.price
    assert level is not None  # validated on submission
    beyond = opening <= level if (order.side is SELL) == (order.type is STOP) else opening >= level
    return opening if beyond else None


def _touched(order: Order, high: Decimal, low: Decimal) -> Decimal | None:
    """The order's own level when the candle's range reaches it (stops and limits only)."""
    if order.type is MARKET:
        return None
    level = order.trigger if order.type is STOP else order.price
    assert level is not None  # validated on submission
    falls_to = (order.side is SELL) == (order.type is STOP)  # sell stop, buy limit
    return level if (low <= level if falls_to else high >= level) else None
