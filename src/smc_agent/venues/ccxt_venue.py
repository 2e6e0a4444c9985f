"""The live venue: orders at an exchange through ccxt, their outcomes reported back into the session.

Nothing awaits inside a session step, so :meth:`CcxtVenue.submit` does what it can synchronously and hands
the rest to an asyncio task: it publishes :class:`OrderSubmitted` on the bus, checks and rounds the order
against the exchange's markets, and either publishes :class:`OrderRejected` at once (a local rule broken,
its reason starting with the :class:`~smc_agent.venues.RejectRule`, as the simulated venue words it) or
starts a task that calls ``create_order``. What the exchange answers comes back through ``report`` (the
session's :meth:`~smc_agent.engine.session.Session.report`): :class:`OrderAccepted`, :class:`OrderRejected`
(``exchange rejected: -2010 Account has insufficient balance ...``, the exchange's code and message),
:class:`OrderFilled` per trade, :class:`OrderCancelled`, :class:`OrderExpired`. The venue knows nothing of
the session beyond that callable.

**Rounding** uses the exchange's market data: the quantity through ccxt's ``amount_to_precision`` (it
truncates, so down to the lot), a limit buy's price down and a limit sell's up, a sell stop's trigger down
and a buy stop's up (the simulated venue's directions: ccxt's ``price_to_precision`` rounds to nearest,
which would move a price against the trader half the time). Then ``limits.amount.min`` and, for limit and
stop orders, ``limits.cost.min`` (the notional); a market order's notional is the exchange's to judge
(the venue does not follow prices), so it comes back as the exchange's ``-1013 Filter failure: NOTIONAL``.

**Order types.** MARKET and LIMIT (GTC) as they are; STOP as the exchange's stop-market (ccxt's
``stopLossPrice``: Binance spot ``STOP_LOSS``). Brackets are not the exchange's business: execution
(:mod:`smc_agent.engine.execution`) sends each leg as its own reduce-only order and cancels the others
itself. Spot has no reduce-only flag, so the venue keeps the rule: a reduce-only SELL is sized to no more
than the free balance of the base asset, read from the exchange just before it is sent, because Binance
takes a buy's fee in the base asset (buy 1 BTC, hold 0.999) and an exit for the ordered quantity would be
refused for insufficient balance. The accepted order carries the smaller quantity. The balance is read once
the cancels in flight on the symbol are through: execution places a resized stop before it cancels the old
one, whose coins are locked until then (the position is without a resting stop for that moment).

**Take-profits are kept by the venue** (a spot bracket cannot rest at the exchange: its stop locks the
coins, so a take-profit for the same position is refused for insufficient balance). A reduce-only LIMIT
order is accepted at once and held, never sent; the stop alone rests at the exchange, so the position is
protected while the agent is down. The kernel hands the venue each closed entry candle (:meth:`on_candle`);
when one reaches a held take-profit (a sell's price within its high, a buy's within its low, the rule the
simulated venue fills a limit by), the venue cancels its bracket's stops at the exchange (``parent``: the
same entry), sends a MARKET order under the take-profit's client id for what is left of it, and reports
the stops cancelled (``take-profit reached``) and the take-profit filled at the market's price (its
``slippage`` the distance from the take-profit's price). Execution then protects what stays open as after
any take-profit fill. If a stop filled meanwhile, its fill is reported and the take-profit stays held (the
bracket's exit is execution's to settle); if the exit is refused, each stop is placed again under its own
client id (the exchange wants client ids unique among open orders only) and the take-profit stays held for
the next candle. A restart keeps holding a take-profit the exchange does not know (:meth:`catch_up`).
The exit's price is the market's after the candle's close, not the take-profit's: the cost of an exit that
the exchange cannot hold beside the stop, which a ticker-driven trigger would shorten.

**Idempotency.** The client order id (``clientOrderId``, Binance's ``newClientOrderId``) is the order's own
deterministic id. A network error or timeout on ``create_order`` is followed by a look-up by that id
(``origClientOrderId``) before anything is sent again, and an exchange answer of ``Duplicate order sent``
means the first attempt landed: either way the order found is the one accepted, never a second one.

**Status: polling.** Every ``poll_s`` the venue asks for each working order (``fetch_order``) and, when its
filled quantity has grown, for its trades (``fetch_my_trades`` by order id: each trade is one fill with its
own price and fee), and refreshes the balances. Binance spot also has a user-data stream (a listenKey and
``executionReport`` events); polling was chosen because it is the same for every ccxt exchange, needs no
listenKey keep-alive, survives a dropped socket with nothing to resync, and its lag (a few seconds) is
small against candles of a minute or more. A fill's fee is counted in the quote currency: a fee in the
base asset at the fill's price; a fee in a third asset (BNB) is not converted and is logged.

**The port's queries** (:meth:`open_orders`, :meth:`positions`, :meth:`fills_since`) answer from what the
venue has seen, synchronously; the exchange's own view, for reconciliation at start, is asked for by the
async ``fetch_*`` methods and :meth:`catch_up` (:mod:`smc_agent.venues.reconcile`).

Use (the composition root)::

    venue = CcxtVenue.connect("binance", keys, bus, clock, session.report, urls=settings_urls)
    await venue.start(["BTC/USDT"])   # markets and balances, then the polling task
    ...                               # the session runs; execution calls submit/cancel
    await venue.close()
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from smc_agent.core.bus import EventBus
from smc_agent.core.ccxt_client import apply_urls, make_client, market_steps
from smc_agent.core.clock import Clock
from smc_agent.core.errors import SmcAgentError
from smc_agent.core.logs import get_logger
from smc_agent.events import (
    CandleClosed,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from smc_agent.model.enums import BUY, SELL
from smc_agent.model.instrument import DOWN, UP, Instrument
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
    OrderStatus,
)
from smc_agent.venues.keys import ApiKeys
from smc_agent.venues.simulated import RejectRule

__all__ = ["CcxtVenue", "ExchangeOrder", "Report", "VenueTuning"]

Report = Callable[[Event], None]
_ZERO = Decimal(0)
_log = get_logger(__name__)
_DUPLICATE = "Duplicate order sent"


@dataclass(frozen=True, slots=True)
class VenueTuning:
    poll_s: float = 2.0  # between two rounds of order status and balance queries
    attempts: int = 3  # tries of one request that fails on the network before the order is given up
    retry_wait_s: float = 0.5


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An order as the exchange shows it (reconciliation compares these with the journal)."""

    client_order_id: str
    exchange_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    filled: Decimal
    price: Decimal | None
    status: str  # ccxt's: open, closed, canceled, expired, rejected


@dataclass(slots=True)
class _Tracked:
    order: Order  # as the last event reported left it
    exchange_id: str | None = None
    trades: set[str] = field(default_factory=set)  # the exchange's ids of the trades already reported
    cancel_reason: str | None = None  # a cancel was asked for (by us), with this reason
    held: bool = False  # a take-profit kept by the venue, not at the exchange (see the module docstring)
    taking: bool = False  # a held take-profit whose exit is under way
    lifted: bool = False  # a stop cancelled at the exchange for a take-profit's exit, not yet reported


class CcxtVenue:
    """Orders at an exchange; see the module docstring for what is sent, when and how outcomes come back."""

    def __init__(
        self, client: Any, bus: EventBus, clock: Clock, report: Report, *, tuning: VenueTuning = VenueTuning()
    ) -> None:
        self._ex, self._bus, self._clock, self._report, self._tuning = client, bus, clock, report, tuning
        self._orders: dict[str, _Tracked] = {}  # every order this run sent or adopted, by client id
        self._fills: list[OrderFilled] = []
        self._holdings: dict[str, Decimal] = {}  # asset -> free + locked, at the last refresh
        self._symbols: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelling: dict[str, asyncio.Task[None]] = {}  # cancels in flight, by client id
        self._poller: asyncio.Task[None] | None = None
        self._failing = False  # the last poll failed: logged once per change

    @classmethod
    def connect(
        cls,
        exchange: str,
        keys: ApiKeys,
        bus: EventBus,
        clock: Clock,
        report: Report,
        *,
        urls: Mapping[str, Any] | None = None,
        testnet: bool = False,
        rate_limit_ms: int | None = None,
        timeout_ms: int | None = None,
        tuning: VenueTuning = VenueTuning(),
    ) -> CcxtVenue:
        """A venue on a new ccxt client of ``exchange`` signed with ``keys`` (``urls`` as the feed's)."""
        client = make_client(exchange, testnet, rate_limit_ms, {"warnOnFetchOpenOrdersWithoutSymbol": False},
                             keys.credentials())  # fmt: skip
        if urls:
            apply_urls(client, urls)
        if timeout_ms is not None:
            client.timeout = timeout_ms
        return cls(client, bus, clock, report, tuning=tuning)

    async def start(self, symbols: Iterable[str]) -> None:
        """Load the markets and the balances, then start following the orders."""
        self._symbols = list(symbols)
        await self._ex.load_markets()
        unknown = [s for s in self._symbols if s not in self._ex.markets]
        if unknown:
            raise SmcAgentError(f"the exchange {self._ex.id} has no market {', '.join(unknown)}")
        await self.refresh_balances()
        self._poller = asyncio.create_task(self._poll())

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every request in flight has been answered (tests, and a clean shutdown)."""
        while self._tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._tasks), return_exceptions=True), timeout)

    async def close(self) -> None:
        for task in [*self._tasks, *([self._poller] if self._poller else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, *([self._poller] if self._poller else []), return_exceptions=True)
        await self._ex.close()

    # -- the port ---------------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        """Publish OrderSubmitted, reject at once on a local rule, else send it in a task (see the module)."""
        if order.status is not NEW:
            raise SmcAgentError(f"order {order.client_order_id}: only a new order can be submitted, not {order.status}")
        now = self._clock.now_ms()
        self._bus.publish(OrderSubmitted(event_ms=now, known_ms=now, order=order))
        checked = self._validate(order)
        if isinstance(checked, str):
            self._bus.publish(OrderRejected(event_ms=now, known_ms=now, order=order.to(REJECTED), reason=checked))
            return
        tracked = self._orders[order.client_order_id] = _Tracked(order, held=_holds(checked))
        if tracked.held:
            self._emit(tracked, OrderAccepted(event_ms=now, known_ms=now, order=order.to(
                ACCEPTED, quantity=checked.quantity, price=checked.price)))  # fmt: skip
            return
        self._spawn(self._send(tracked, checked))

    def cancel(self, client_order_id: str, reason: str) -> bool:
        """Ask the exchange to cancel; OrderCancelled is reported when it has. False when unknown or done."""
        tracked = self._orders.get(client_order_id)
        if (
            tracked is None
            or tracked.cancel_reason is not None
            or tracked.order.status not in (NEW, ACCEPTED, PARTIALLY_FILLED)
        ):
            return False  # fmt: skip
        tracked.cancel_reason = reason
        if tracked.held and not tracked.taking:
            now = self._clock.now_ms()
            self._emit(tracked, OrderCancelled(event_ms=now, known_ms=now, order=tracked.order.to(CANCELLED),
                                               reason=reason))  # fmt: skip
        elif tracked.exchange_id is not None:  # else the submission (or the exit) cancels it once it is accepted
            self._cancelling[client_order_id] = task = self._spawn(self._cancel(tracked))
            task.add_done_callback(lambda _: self._cancelling.pop(client_order_id, None))
        return True

    def on_candle(self, candle: CandleClosed) -> None:
        """A closed entry candle: each held take-profit its range reached is taken (see the module docstring)."""
        high, low = _dec(repr(candle.high)), _dec(repr(candle.low))
        for tracked in self._orders.values():
            order = tracked.order
            if not (tracked.held and order.active and order.symbol == candle.symbol) or tracked.taking:
                continue
            assert order.price is not None  # a held take-profit is a limit order
            if (high >= order.price) if order.side is SELL else (low <= order.price):
                tracked.taking = True
                self._spawn(self._take_profit(tracked))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [t.order for t in self._orders.values() if t.order.active and symbol in (None, t.order.symbol)]

    def positions(self) -> dict[str, Decimal]:
        """Spot: the base asset held (free and locked) of each traded symbol, at the last refresh."""
        held = {s: self._holdings.get(self._ex.markets[s]["base"], _ZERO) for s in self._symbols}
        return {s: q for s, q in held.items() if q}

    def fills_since(self, ms: int) -> list[OrderFilled]:
        return [f for f in self._fills if f.event_ms >= ms]

    # -- the exchange's view (reconciliation) -----------------------------------------------------

    async def refresh_balances(self) -> dict[str, Decimal]:
        balance = await self._ex.fetch_balance()
        self._holdings = {a: _dec(v) for a, v in (balance.get("total") or {}).items() if v}
        return dict(self._holdings)

    async def fetch_open_orders(self) -> list[ExchangeOrder]:
        """Every open order of the traded symbols at the exchange, ours or not."""
        found: list[ExchangeOrder] = []
        for symbol in self._symbols:
            found += [_exchange_order(o) for o in await self._ex.fetch_open_orders(symbol)]
        return found

    async def fetch_trades_since(self, ms: int) -> list[dict[str, Any]]:
        """The account's trades of the traded symbols at or after ``ms`` (ccxt's unified trades)."""
        trades: list[dict[str, Any]] = []
        for symbol in self._symbols:
            trades += await self._ex.fetch_my_trades(symbol, ms)
        return trades

    def exchange_id(self, client_order_id: str) -> str | None:
        """The exchange's id of one of our orders, once the exchange has answered for it."""
        tracked = self._orders.get(client_order_id)
        return None if tracked is None else tracked.exchange_id

    async def catch_up(self, order: Order) -> list[OrderEvent]:
        """The events that bring ``order`` (as the journal has it) to what the exchange says now, and follow
        it from here on if it is still working. They are returned, not reported: the caller publishes them.
        Empty when the exchange agrees; an order the exchange does not know is returned as cancelled."""
        tracked = self._orders.setdefault(order.client_order_id, _Tracked(order))
        info = await self._lookup(order)
        now = self._clock.now_ms()
        if info is None and _holds(order):  # a take-profit the venue held: it holds it again
            tracked.held = True
            if order.status is NEW:
                tracked.order = order.to(ACCEPTED)
                return [OrderAccepted(event_ms=now, known_ms=now, order=tracked.order)]
            return []
        if info is None:
            del self._orders[order.client_order_id]
            if order.status is NEW:  # journaled as sent, but it never got there
                return [OrderRejected(event_ms=now, known_ms=now, order=order.to(REJECTED),
                                      reason="never reached the exchange")]  # fmt: skip
            return [OrderCancelled(event_ms=now, known_ms=now, order=order.to(CANCELLED),
                                   reason="unknown at the exchange")]  # fmt: skip
        tracked.exchange_id = str(info["id"])
        accepted: list[OrderEvent] = []
        if order.status is NEW:  # it got there, and the answer was lost with the process
            tracked.order = order.to(ACCEPTED, quantity=_dec(info.get("amount") or order.quantity))
            accepted.append(OrderAccepted(event_ms=now, known_ms=now, order=tracked.order))
        return accepted + await self._progress(tracked, info)

    # -- sending ----------------------------------------------------------------------------------

    def _validate(self, order: Order) -> Order | str:
        """The order rounded to the market, or the reason it breaks a rule."""
        if order.client_order_id in self._orders:
            return f"{RejectRule.DUPLICATE_ID}: {order.client_order_id} was already sent"
        market = self._ex.markets.get(order.symbol)
        if market is None:
            return f"{RejectRule.UNKNOWN_SYMBOL}: the exchange has no market {order.symbol}"
        quantity = self._amount(order.symbol, order.quantity)
        limits = market.get("limits") or {}
        least = _dec((limits.get("amount") or {}).get("min") or 0)
        if quantity <= 0 or quantity < least:
            return (f"{RejectRule.LOT_SIZE}: quantity {order.quantity} rounds down to {quantity}; the market's "
                    f"step is {market['precision']['amount']} and its minimum {least}")  # fmt: skip
        instrument = Instrument(order.symbol, *market_steps(self._ex, order.symbol))
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
        notional = _dec((limits.get("cost") or {}).get("min") or 0)
        if level is not None and quantity * level < notional:
            return f"{RejectRule.MIN_NOTIONAL}: {quantity} x {level} = {quantity * level} < {notional}"
        return Order(order.client_order_id, order.symbol, order.side, order.type, quantity, price, trigger,
                     order.reduce_only, order.tag, order.parent, NEW, order.filled, order.expire_ms)  # fmt: skip

    def _amount(self, symbol: str, quantity: Decimal) -> Decimal:
        import ccxt

        try:
            return _dec(self._ex.amount_to_precision(symbol, str(quantity)))
        except ccxt.InvalidOrder:  # it rounds to nothing
            return _ZERO

    async def _send(self, tracked: _Tracked, order: Order) -> None:
        created = await self._create(order)
        if isinstance(created, str):
            self._reject(tracked, created)
            return
        info, order = created
        tracked.exchange_id = str(info["id"])
        now = self._clock.now_ms()
        self._emit(tracked, OrderAccepted(event_ms=now, known_ms=now, order=tracked.order.to(
            ACCEPTED, quantity=order.quantity, price=order.price, trigger=order.trigger)))  # fmt: skip
        for event in await self._progress(tracked, info):
            self._emit(tracked, event)
        if tracked.cancel_reason is not None and tracked.order.active:
            await self._cancel(tracked)

    async def _create(self, order: Order) -> tuple[dict[str, Any], Order] | str:
        """Place ``order`` (a reduce-only sell sized to the free balance): the exchange's order and the order
        as sent, or the reason it was refused."""
        import ccxt

        if order.reduce_only and order.side is SELL:
            # Execution places a leg's replacement before it cancels the old leg, in the same step; on spot the
            # old one locks the coins until its cancel is through, so the free balance is read after that.
            pending = [t for cid, t in self._cancelling.items() if self._orders[cid].order.symbol == order.symbol]
            if pending:
                await asyncio.wait(pending, timeout=self._tuning.attempts * 10.0)
            base = self._ex.markets[order.symbol]["base"]
            free = _dec(((await self._call(self._ex.fetch_balance)) or {}).get("free", {}).get(base) or 0)
            if free < order.quantity:
                quantity = self._amount(order.symbol, free)
                if quantity <= 0:
                    return f"insufficient balance: {free} {base} free for a reduce-only sell of {order.quantity}"
                _log.info("exit sized to the free balance", client_order_id=order.client_order_id,
                          ordered=str(order.quantity), free=str(free))  # fmt: skip
                order = _resized(order, quantity)
        info: dict[str, Any] | None = None
        for attempt in range(self._tuning.attempts):
            try:
                info = await self._ex.create_order(*_request(order))
                break
            except ccxt.BaseError as error:
                if not _unsettled(error):
                    if _DUPLICATE in str(error):
                        info = await self._call(self._lookup, order)
                        if info is not None:
                            break
                    return f"exchange rejected: {_exchange_reason(error)}"
                # a timeout or a 5xx: it may have landed, so look before sending it again
                _log.warning("order request failed", client_order_id=order.client_order_id, attempt=attempt + 1,
                             error=type(error).__name__)  # fmt: skip
                info = await self._call(self._lookup, order)
                if info is not None:
                    break
                await asyncio.sleep(self._tuning.retry_wait_s)
        if info is None:
            return f"exchange unreachable: no answer after {self._tuning.attempts} attempts"
        return info, order

    # -- take-profits held by the venue -----------------------------------------------------------

    async def _take_profit(self, tracked: _Tracked) -> None:
        """Free the coins the bracket's stops lock, then exit at market (see the module docstring)."""
        try:
            order = tracked.order
            stops = [t for t in self._orders.values() if t.order.type is STOP and t.order.active and t.exchange_id
                     and t.order.parent == order.parent and t.cancel_reason is None]  # fmt: skip
            lifted: list[_Tracked] = []
            for stop in stops:
                if not await self._lift(stop):
                    await self._replace_stops(lifted)  # the stop filled: execution settles the bracket
                    return
                lifted.append(stop)
            created = None if tracked.cancel_reason else await self._create(_exit(order))
            if not isinstance(created, tuple):
                _log.warning("take-profit not taken; its stops are placed again", client_order_id=order.client_order_id,
                             reason=created or tracked.cancel_reason)  # fmt: skip
                await self._replace_stops(lifted)
                return
            now = self._clock.now_ms()
            for stop in [t for t in lifted if t.order.active]:  # (not one execution's cancel reported)
                stop.lifted = False
                self._emit(stop, OrderCancelled(event_ms=now, known_ms=now, order=stop.order.to(CANCELLED),
                                                reason="take-profit reached"))  # fmt: skip
            info, sent = created
            if sent.quantity < order.remaining:  # sized to the free balance (a buy's fee paid in the base asset)
                tracked.order = _resized(order, order.filled + sent.quantity, order.status)
            tracked.exchange_id, tracked.held = str(info["id"]), False
            for event in await self._progress(tracked, info):
                self._emit(tracked, event)
        finally:
            tracked.taking = False
            if tracked.held and tracked.cancel_reason is not None and tracked.order.active:
                now = self._clock.now_ms()  # cancelled while its exit was under way, and never sent
                self._emit(tracked, OrderCancelled(event_ms=now, known_ms=now, order=tracked.order.to(CANCELLED),
                                                   reason=tracked.cancel_reason))  # fmt: skip

    async def _lift(self, stop: _Tracked) -> bool:
        """Cancel a stop at the exchange, unreported; False (its fills reported) when it had filled first."""
        import ccxt

        stop.lifted = True
        try:
            info = await self._call(self._ex.cancel_order, stop.exchange_id, stop.order.symbol)
        except ccxt.OrderNotFound:  # no longer open: it filled, or someone cancelled it
            info = None
        if info is None or info.get("filled") is None:
            info = await self._call(self._lookup, stop.order)
        if info is not None and info.get("status") == "canceled" and _dec(info.get("filled") or 0) <= stop.order.filled:
            return True
        stop.lifted = False
        for event in await self._progress(stop, info or {"status": "canceled"}):
            self._emit(stop, event)
        return False

    async def _replace_stops(self, lifted: list[_Tracked]) -> None:
        """Place each lifted stop again, under its own client id; one that cannot be is reported cancelled."""
        for stop in lifted:
            stop.lifted = False
            if stop.cancel_reason is not None or not stop.order.active:  # cancelled by execution meanwhile
                continue
            order = stop.order
            created = await self._create(_resized(order, order.quantity - order.filled))
            if isinstance(created, tuple):
                stop.exchange_id = str(created[0]["id"])
                continue
            _log.error("stop lost while taking profit", client_order_id=order.client_order_id, reason=created)
            now = self._clock.now_ms()
            self._emit(stop, OrderCancelled(event_ms=now, known_ms=now, order=order.to(CANCELLED),
                                            reason=f"not placed again: {created}"))  # fmt: skip

    async def _cancel(self, tracked: _Tracked) -> None:
        import ccxt

        order = tracked.order
        try:
            info = await self._call(self._ex.cancel_order, tracked.exchange_id, order.symbol)
        except ccxt.OrderNotFound:  # no longer open: it filled, or someone else cancelled it
            info = None
        if info is None or "filled" not in info or info.get("filled") is None:
            info = await self._call(self._lookup, order)
        if info is None:
            _log.warning("cancel not confirmed", client_order_id=order.client_order_id)
            return
        for event in await self._progress(tracked, info):
            self._emit(tracked, event)

    def _reject(self, tracked: _Tracked, reason: str) -> None:
        now = self._clock.now_ms()
        _log.warning("order rejected", client_order_id=tracked.order.client_order_id, reason=reason)
        self._emit(tracked, OrderRejected(event_ms=now, known_ms=now, order=tracked.order.to(REJECTED),
                                          reason=reason))  # fmt: skip

    # -- following --------------------------------------------------------------------------------

    async def _poll(self) -> None:
        import ccxt

        while True:
            await asyncio.sleep(self._tuning.poll_s)
            try:
                for tracked in [t for t in self._orders.values() if t.order.active and t.exchange_id and not t.lifted]:
                    info = await self._ex.fetch_order(tracked.exchange_id, tracked.order.symbol)
                    if tracked.lifted:  # its cancel is the take-profit's to report, or undo
                        continue
                    for event in await self._progress(tracked, info):
                        self._emit(tracked, event)
                await self.refresh_balances()
            except ccxt.BaseError as error:
                if not self._failing:
                    _log.warning("order status polling failing", error=type(error).__name__)
                self._failing = True
                continue
            if self._failing:
                _log.info("order status polling recovered")
            self._failing = False

    async def _progress(self, tracked: _Tracked, info: Mapping[str, Any]) -> list[OrderEvent]:
        """The fills and the end that ``info`` (ccxt's order) shows beyond what ``tracked`` has reported.

        Nothing is applied here: :meth:`_emit` applies each event as it reports it, :meth:`catch_up` as
        the caller publishes them (``tracked.order`` follows the returned events either way)."""
        order, events = tracked.order, list[OrderEvent]()
        filled = _dec(info.get("filled") or 0)
        now = self._clock.now_ms()
        if filled > order.filled:
            trades = await self._ex.fetch_my_trades(order.symbol, None, None, {"orderId": tracked.exchange_id})
            for trade in sorted(trades, key=lambda t: (t["timestamp"], str(t["id"]))):
                if str(trade["id"]) in tracked.trades or order.filled >= order.quantity:
                    continue
                tracked.trades.add(str(trade["id"]))
                event = self._fill_event(order, trade, now)
                order = event.order
                events.append(event)
        status = info.get("status")
        if order.active and status in ("canceled", "expired", "rejected"):
            if status == "expired":
                events.append(OrderExpired(event_ms=now, known_ms=now, order=order.to(EXPIRED)))
            else:
                reason = tracked.cancel_reason or "cancelled at the exchange"
                events.append(OrderCancelled(event_ms=now, known_ms=now, order=order.to(CANCELLED), reason=reason))
        if events:
            tracked.order = events[-1].order
        return events

    def _fill_event(self, order: Order, trade: Mapping[str, Any], now: int) -> OrderFilled:
        price, quantity = _dec(trade["price"]), _dec(trade["amount"])
        market = self._ex.markets[order.symbol]
        fee_info = trade.get("fee") or {}
        cost, currency = _dec(fee_info.get("cost") or 0), fee_info.get("currency")
        fee = cost * price if currency == market["base"] else cost
        if cost and currency not in (market["base"], market["quote"]):
            _log.warning("fee in a third asset not counted", client_order_id=order.client_order_id,
                         asset=currency, fee=str(cost))  # fmt: skip
            fee = _ZERO
        filled = order.filled + quantity
        after = order.to(FILLED if filled >= order.quantity else PARTIALLY_FILLED, filled=filled)
        slippage = _ZERO
        reference = order.trigger if order.type is STOP else order.price if _holds(order) else None
        if reference is not None:  # a stop's trigger, a held take-profit's price: the exit's slippage from it
            slippage = (price - reference) * order.side.sign
        return OrderFilled(event_ms=int(trade["timestamp"]), known_ms=now, order=after, price=price, quantity=quantity,
                           fee=fee, slippage=slippage, maker=trade.get("takerOrMaker") == "maker")  # fmt: skip

    def _emit(self, tracked: _Tracked, event: OrderEvent) -> None:
        tracked.order = event.order
        if isinstance(event, OrderFilled):
            self._fills.append(event)
        self._report(event)

    # -- helpers ----------------------------------------------------------------------------------

    async def _lookup(self, order: Order) -> dict[str, Any] | None:
        """The exchange's order with ``order``'s client id, or None when it has none."""
        import ccxt

        try:
            info: dict[str, Any] = await self._ex.fetch_order(
                "", order.symbol, {"clientOrderId": order.client_order_id}
            )
        except ccxt.OrderNotFound:
            return None
        return info

    async def _call(self, call: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
        """``call(*args)``, tried again on network errors (``attempts`` in all); the last error is raised."""
        import ccxt

        for attempt in range(self._tuning.attempts):
            try:
                return await call(*args)
            except ccxt.BaseError as error:
                if not _unsettled(error) or attempt + 1 == self._tuning.attempts:
                    raise
                await asyncio.sleep(self._tuning.retry_wait_s)
        return None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, work: Coroutine[Any, Any, None]) -> None:
        import ccxt

        try:
            await work
        except ccxt.BaseError as error:  # a request that failed every attempt: the poll picks the order up later
            _log.error("exchange request failed", error=type(error).__name__, reason=_exchange_reason(error))


def _request(order: Order) -> tuple[Any, ...]:
    """``create_order``'s arguments for ``order``."""
    params: dict[str, Any] = {"clientOrderId": order.client_order_id}
    price = None
    if order.type is LIMIT:
        kind, price = "limit", str(order.price)
    elif order.type is STOP:
        kind, params["stopLossPrice"] = "market", str(order.trigger)
    else:
        kind = "market"
    return order.symbol, kind, str(order.side), str(order.quantity), price, params


def _holds(order: Order) -> bool:
    """A take-profit (a reduce-only limit order): held by the venue, never sent as it is."""
    return order.reduce_only and order.type is LIMIT


def _exit(order: Order) -> Order:
    """A held take-profit's exit: a market order for what is left of it, under its client id."""
    return Order(order.client_order_id, order.symbol, order.side, MARKET, order.quantity - order.filled,
                 reduce_only=True, tag=order.tag, parent=order.parent)  # fmt: skip


def _resized(order: Order, quantity: Decimal, status: OrderStatus = NEW) -> Order:
    return Order(order.client_order_id, order.symbol, order.side, order.type, quantity, order.price, order.trigger,
                 order.reduce_only, order.tag, order.parent, status, order.filled, order.expire_ms)  # fmt: skip


def _exchange_order(info: Mapping[str, Any]) -> ExchangeOrder:
    price = info.get("price")
    return ExchangeOrder(str(info.get("clientOrderId") or ""), str(info["id"]), info["symbol"], info["side"],
                         info["type"], _dec(info.get("amount") or 0), _dec(info.get("filled") or 0),
                         None if not price else _dec(price), info["status"])  # fmt: skip


def _unsettled(error: Exception) -> bool:
    """True when a request's outcome is unknown: a network error or timeout, or Binance's -1001 (an internal
    error that ccxt maps as a plain ExchangeError when the URL is not Binance's own)."""
    import ccxt

    return isinstance(error, ccxt.OperationFailed) or '"code":-1001' in str(error)


def _exchange_reason(error: Exception) -> str:
    """The exchange's code and message from a ccxt error (``binance {"code":-1013,"msg":...}``), or its message
    when ccxt matched the message itself (``binance Account has insufficient balance ...``), else the error's
    kind (an HTTP error's text holds the URL, which a log line need not carry)."""
    text = str(error)
    start = text.find("{")
    if start >= 0:
        try:
            body = json.loads(text[start:])
            return f"{body['code']} {body['msg']}"
        except (ValueError, KeyError, TypeError):
            pass
    exchange, _, message = text.partition(" ")  # ccxt's "binance Account has insufficient balance ..."
    return message if exchange.isalnum() and message and "http" not in message else type(error).__name__


def _dec(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
