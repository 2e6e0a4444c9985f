"""The simulated venue on hand-built candles: exact prices, quantities, fees and event sequences."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import SimulatedClock
from smc_agent.core.errors import SmcAgentError
from smc_agent.events import (
    CandleClosed,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from smc_agent.model.enums import Side
from smc_agent.model.instrument import Instrument
from smc_agent.model.orders import Order, OrderStatus, OrderType
from smc_agent.venues import FeeModel, FixedBpsSlippage, RejectRule, SimulatedVenue, SlippageModel

M = 60_000
BUY, SELL = Side.BUY, Side.SELL
FILLED, PARTIAL = OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED
INSTRUMENTS = {
    "TEST": Instrument("TEST", D("0.01"), D("0.1"), min_notional=D("10")),
    "OTHER": Instrument("OTHER", D("0.01"), D("0.1")),
}


def bar(i: int, o: float, h: float, lo: float, c: float, symbol: str = "TEST") -> CandleClosed:
    return CandleClosed(
        event_ms=(i + 1) * M, known_ms=(i + 1) * M, symbol=symbol, timeframe="1m", time=i * M,
        open=float(o), high=float(h), low=float(lo), close=float(c), volume=1.0,
    )  # fmt: skip


def market(cid: str, side: Side, qty: str, **kw: Any) -> Order:
    return Order(cid, kw.pop("symbol", "TEST"), side, OrderType.MARKET, D(qty), **kw)


def limit(cid: str, side: Side, qty: str, price: str, **kw: Any) -> Order:
    return Order(cid, "TEST", side, OrderType.LIMIT, D(qty), price=D(price), **kw)


def stop(cid: str, side: Side, qty: str, trigger: str, **kw: Any) -> Order:
    return Order(cid, "TEST", side, OrderType.STOP, D(qty), trigger=D(trigger), **kw)


class Sim:
    """A venue on a simulated clock, recording every event it publishes."""

    def __init__(self, slippage_bps: str = "0", slippage: SlippageModel | None = None) -> None:
        self.bus = EventBus()
        self.clock = SimulatedClock()
        self.events: list[Any] = []
        self.bus.subscribe(self._record)
        model = slippage or FixedBpsSlippage(D(slippage_bps))
        self.venue = SimulatedVenue(self.bus, self.clock, INSTRUMENTS, FeeModel(D(2), D(5)), model)

    def _record(self, event: Any) -> None:
        assert event.event_ms == event.known_ms == self.clock.now_ms()  # stamped by the injected clock
        self.events.append(event)

    def candle(self, i: int, o: float, h: float, lo: float, c: float, symbol: str = "TEST") -> None:
        self.clock.advance_to((i + 1) * M)
        self.venue.on_candle(bar(i, o, h, lo, c, symbol))

    def trail(self) -> list[tuple[Any, ...]]:
        """The events since the last call, as compact tuples."""
        out: list[tuple[Any, ...]] = []
        for e in self.events:
            oid = e.order.client_order_id
            if isinstance(e, OrderFilled):
                out.append(("filled", oid, e.price, e.quantity, e.fee, e.slippage, e.maker, e.order.status))
            elif isinstance(e, OrderRejected | OrderCancelled):
                out.append(("rejected" if isinstance(e, OrderRejected) else "cancelled", oid, e.reason))
            else:
                assert isinstance(e, OrderSubmitted | OrderAccepted)
                out.append(("submitted" if isinstance(e, OrderSubmitted) else "accepted", oid))
        self.events.clear()
        return out

    def long(self, qty: str = "1") -> None:
        """Open a long at 100 with a market order filled on candle 1; the clock ends at its close."""
        self.candle(0, 100, 100, 100, 100)
        self.venue.submit(market("e", BUY, qty))
        self.candle(1, 100, 100.2, 99.8, 100)
        self.trail()


def test_market_order_fills_at_the_next_open_with_slippage_and_taker_fee() -> None:
    sim = Sim(slippage_bps="10")
    sim.candle(0, 100, 101, 99, 100.5)
    sim.venue.submit(market("m1", BUY, "1"))
    assert sim.trail() == [("submitted", "m1"), ("accepted", "m1")]
    sim.candle(1, 100.03, 101, 99, 100.5)  # 100.03 + 10 bps = 100.13003, rounded up to 100.14
    assert sim.trail() == [("filled", "m1", D("100.14"), D("1"), D("0.05007"), D("0.11"), False, FILLED)]
    sim.venue.submit(market("m2", SELL, "1"))
    sim.candle(2, 100.03, 101, 99, 100.5)  # 100.03 - 0.10003 = 99.92997, rounded down to 99.92
    assert sim.trail()[2:] == [("filled", "m2", D("99.92"), D("1"), D("0.04996"), D("0.11"), False, FILLED)]
    assert sim.venue.position("TEST") == 0


def test_submission_rounds_quantity_down_and_prices_away_from_harm() -> None:
    sim = Sim()
    sent = [
        limit("bl", BUY, "1.27", "99.537"),
        limit("sl", SELL, "1.27", "99.531"),
        stop("ss", SELL, "1", "98.019"),
        stop("bs", BUY, "1", "101.001"),
    ]
    for order in sent:
        sim.venue.submit(order)
    held = [e.order for e in sim.events if isinstance(e, OrderAccepted)]
    assert [(o.quantity, o.price, o.trigger) for o in held] == [
        (D("1.2"), D("99.53"), None),
        (D("1.2"), D("99.54"), None),
        (D("1.0"), None, D("98.01")),
        (D("1.0"), None, D("101.01")),
    ]
    assert [e.order for e in sim.events if isinstance(e, OrderSubmitted)] == sent  # as sent
    assert [e.order for e in sim.events if isinstance(e, OrderAccepted)] == held == sim.venue.open_orders()


def test_limit_fills_at_its_price_when_touched_and_at_the_open_when_opened_through() -> None:
    sim = Sim(slippage_bps="10")  # a maker fill never slips
    sim.candle(0, 100, 100, 100, 100)
    sim.venue.submit(limit("b", BUY, "2", "99.50"))
    sim.venue.submit(limit("s", SELL, "2", "101.00"))
    sim.trail()
    sim.candle(1, 100, 100.99, 99.51, 100)
    assert sim.trail() == []
    sim.candle(2, 100, 101.00, 99.50, 100)
    assert sim.trail() == [
        ("filled", "b", D("99.50"), D("2"), D("0.0398"), D("0"), True, FILLED),
        ("filled", "s", D("101.00"), D("2"), D("0.0404"), D("0"), True, FILLED),
    ]
    sim.venue.submit(limit("b2", BUY, "1", "99.50"))
    sim.venue.submit(limit("s2", SELL, "1", "101.00"))
    sim.trail()
    sim.candle(3, 99.00, 99.20, 98.80, 99.1)  # opens below the buy limit: fills at the open
    sim.candle(4, 102.00, 102.5, 101.5, 102)  # opens above the sell limit: fills at the open
    assert sim.trail() == [
        ("filled", "b2", D("99.00"), D("1"), D("0.0198"), D("0"), True, FILLED),
        ("filled", "s2", D("102.00"), D("1"), D("0.0204"), D("0"), True, FILLED),
    ]


def test_stop_fills_at_the_trigger_when_touched_and_at_the_open_on_a_gap() -> None:
    sim = Sim(slippage_bps="10")
    sim.candle(0, 100, 100, 100, 100)
    sim.venue.submit(stop("s1", SELL, "1", "98.00"))
    sim.trail()
    sim.candle(1, 99, 99.5, 97.9, 98.5)  # touched: 98 - 0.098 = 97.902 -> 97.90
    assert sim.trail() == [("filled", "s1", D("97.90"), D("1"), D("0.04895"), D("0.10"), False, FILLED)]
    sim.venue.submit(stop("s2", SELL, "1", "98.00"))
    sim.candle(2, 97.00, 97.5, 96.5, 97)  # gapped: at the open, 97 - 0.097 = 96.903 -> 96.90
    assert sim.trail()[2:] == [("filled", "s2", D("96.90"), D("1"), D("0.04845"), D("0.10"), False, FILLED)]
    sim.venue.submit(stop("b1", BUY, "1", "101.00"))
    sim.candle(3, 102.00, 102.5, 101.5, 102)  # gapped up: 102 + 0.102 = 102.102 -> 102.11
    assert sim.trail()[2:] == [("filled", "b1", D("102.11"), D("1"), D("0.051055"), D("0.11"), False, FILLED)]


def test_when_a_candle_touches_stop_and_take_profit_the_stop_fills_first() -> None:
    sim = Sim()
    sim.long()
    sim.venue.submit(limit("tp", SELL, "1", "102", reduce_only=True))
    sim.venue.submit(stop("sl", SELL, "1", "98", reduce_only=True))
    sim.trail()
    sim.candle(2, 100, 103, 97, 100)
    assert sim.trail() == [
        ("filled", "sl", D("98"), D("1.0"), D("0.049"), D("0"), False, FILLED),
        ("cancelled", "tp", "position closed"),
    ]
    assert sim.venue.position("TEST") == 0
    assert sim.venue.open_orders() == []


def test_a_take_profit_the_candle_opens_through_comes_before_the_stop() -> None:
    sim = Sim()
    sim.long()
    sim.venue.submit(stop("sl", SELL, "1", "98", reduce_only=True))
    sim.venue.submit(limit("tp", SELL, "1", "102", reduce_only=True))
    sim.trail()
    sim.candle(2, 103, 104, 97, 100)
    assert sim.trail() == [
        ("filled", "tp", D("103"), D("1.0"), D("0.0206"), D("0"), True, FILLED),
        ("cancelled", "sl", "position closed"),
    ]


def test_reduce_only_orders_are_clipped_and_cancelled_when_they_would_fill_nothing() -> None:
    """The venue clips a reduce-only order to the position and cancels one with nothing left to reduce
    when a candle reaches it; withdrawing a bracket's other legs is execution's job, not the venue's."""
    sim = Sim()
    sim.long()
    sim.venue.submit(limit("tp1", SELL, "0.5", "102", reduce_only=True))
    sim.venue.submit(stop("sl", SELL, "1", "98", reduce_only=True))
    sim.trail()
    sim.candle(2, 100, 102.5, 99, 102)
    assert sim.trail() == [("filled", "tp1", D("102"), D("0.5"), D("0.0102"), D("0"), True, FILLED)]
    sim.candle(3, 99, 99.5, 97.5, 98)  # the full-size stop closes only the half that is left
    assert sim.trail() == [("filled", "sl", D("98"), D("0.5"), D("0.0245"), D("0"), False, PARTIAL)]
    assert [(o.client_order_id, o.filled) for o in sim.venue.open_orders()] == [("sl", D("0.5"))]
    sim.candle(4, 98, 98.5, 97.0, 97.5)  # flat: the rest of the stop finds nothing to reduce
    assert sim.trail() == [("cancelled", "sl", "position closed")]
    assert sim.venue.open_orders() == []


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (market("r", BUY, "1", symbol="NOPE"), "unknown symbol: 'NOPE' is not an instrument of this venue"),
        (limit("r", BUY, "0.05", "100"), "below lot size: quantity 0.05 rounds down to 0.0, not a positive "
                                         "multiple of the lot size 0.1"),
        (limit("r", BUY, "0.1", "50"), "below min notional: 0.1 x 50.00 = 5.000 < 10"),
        (market("r", BUY, "0.1"), "below min notional: 0.1 x 80.0 = 8.00 < 10"),  # at the last close
        (Order("r", "TEST", BUY, OrderType.LIMIT, D(1)), "missing price: a limit order needs a price"),
        (Order("r", "TEST", BUY, OrderType.STOP, D(1)), "missing trigger: a stop order needs a trigger price"),
        (limit("r", SELL, "1", "-1"), "price not positive: limit price -1.00 after rounding to the tick"),
        (limit("e", BUY, "1", "100"), "duplicate client_order_id: 'e' was already submitted"),
        (limit("r", SELL, "2", "101", reduce_only=True), "reduce-only would flip the position: sell 2.0 with a "
                                                         "position of 1.0"),
        (limit("r", BUY, "1", "99", reduce_only=True), "reduce-only would increase the position: buy 1.0 with "
                                                       "a position of 1.0"),
    ],
)  # fmt: skip
def test_rejections_name_the_rule(order: Order, reason: str) -> None:
    sim = Sim()
    sim.long()
    sim.candle(2, 100, 100, 80, 80)
    sim.venue.submit(order)
    cid = order.client_order_id
    assert sim.trail() == [("submitted", cid), ("rejected", cid, reason)]
    assert reason.startswith(tuple(RejectRule))
    assert sim.venue.open_orders() == []


def test_reduce_only_with_no_position_is_rejected() -> None:
    sim = Sim()
    sim.venue.submit(stop("r", SELL, "1", "98", reduce_only=True))
    assert sim.trail()[1] == ("rejected", "r", "reduce-only would increase the position: sell 1.0 with a position of 0")


def _protect(sim: Sim, stop_at: str, tp_at: str) -> None:
    """Place a reduce-only stop and take-profit the moment the entry fills, as execution does."""

    def on_fill(event: OrderFilled) -> None:
        if event.order.tag == "entry":
            sim.venue.submit(stop("sl", SELL, "1", stop_at, reduce_only=True, tag="stop"))
            sim.venue.submit(limit("tp", SELL, "1", tp_at, reduce_only=True, tag="tp1"))

    sim.bus.subscribe(on_fill, OrderFilled)


def test_a_protective_stop_placed_on_the_entry_fill_is_checked_against_the_same_candle() -> None:
    sim = Sim()
    _protect(sim, "99.00", "100.50")
    sim.candle(0, 100, 100, 100, 100)
    sim.venue.submit(market("e", BUY, "1"))
    sim.trail()
    sim.candle(1, 100, 100.6, 98.9, 99.5)  # the take-profit was touched too, but it starts next candle
    assert sim.trail() == [
        ("filled", "e", D("100"), D("1.0"), D("0.05"), D("0"), False, FILLED),
        ("submitted", "sl"), ("accepted", "sl"), ("submitted", "tp"), ("accepted", "tp"),
        ("filled", "sl", D("99.00"), D("1.0"), D("0.0495"), D("0"), False, FILLED),
    ]  # fmt: skip
    assert [o.client_order_id for o in sim.venue.open_orders()] == ["tp"]  # execution withdraws it, not the venue


def test_a_take_profit_placed_on_the_entry_fill_waits_for_the_next_candle() -> None:
    sim = Sim()
    _protect(sim, "99.00", "100.50")
    sim.candle(0, 100, 100, 100, 100)
    sim.venue.submit(market("e", BUY, "1"))
    sim.candle(1, 100, 100.6, 99.2, 100.2)
    assert [t[:2] for t in sim.trail() if t[0] in ("filled", "cancelled")] == [("filled", "e")]
    sim.candle(2, 100.2, 100.7, 100, 100.6)
    assert sim.trail() == [
        ("filled", "tp", D("100.50"), D("1.0"), D("0.0201"), D("0"), True, FILLED),
    ]


def test_a_protective_stop_already_through_fills_at_the_entry_price() -> None:
    sim = Sim()
    _protect(sim, "99.50", "101.00")
    sim.candle(0, 100, 100, 100, 100)
    sim.venue.submit(limit("e", BUY, "1", "99.00"))
    sim.trail()
    sim.candle(1, 100, 100.2, 98.5, 99.8)
    fills = [t for t in sim.trail() if t[0] == "filled"]
    assert fills == [
        ("filled", "e", D("99.00"), D("1"), D("0.0198"), D("0"), True, FILLED),
        ("filled", "sl", D("99.00"), D("1.0"), D("0.0495"), D("0"), False, FILLED),
    ]


def test_cancel_publishes_once_and_is_a_no_op_for_unknown_or_inactive_orders() -> None:
    sim = Sim()
    sim.venue.submit(limit("b", BUY, "1", "90"))
    sim.trail()
    assert sim.venue.cancel("b", "signal expired") is True
    assert sim.trail() == [("cancelled", "b", "signal expired")]
    assert sim.venue.cancel("b", "again") is False
    assert sim.venue.cancel("nope", "never existed") is False
    assert sim.trail() == []


def test_an_order_sent_after_another_symbols_candle_waits_for_the_next_candle() -> None:
    sim = Sim()
    sim.candle(0, 100, 100, 100, 100)
    sim.candle(0, 50, 50, 50, 50, symbol="OTHER")
    sim.candle(1, 100, 100, 100, 100)  # TEST's candle 1 closed: now OTHER's candle 1 is in the past
    sim.venue.submit(market("o", BUY, "1", symbol="OTHER"))
    sim.candle(1, 51, 51, 51, 51, symbol="OTHER")
    assert [t[0] for t in sim.trail()] == ["submitted", "accepted"]
    sim.candle(2, 52, 52, 52, 52, symbol="OTHER")
    assert sim.trail() == [("filled", "o", D("52"), D("1.0"), D("0.026"), D("0"), False, FILLED)]
    assert (sim.venue.position("OTHER"), sim.venue.position("TEST")) == (D("1.0"), 0)


def test_candles_out_of_order_are_refused() -> None:
    sim = Sim()
    sim.candle(1, 100, 100, 100, 100)
    with pytest.raises(SmcAgentError, match="time order"):
        sim.venue.on_candle(bar(1, 100, 100, 100, 100))


def test_the_same_inputs_give_the_same_events() -> None:
    def run() -> list[Any]:
        sim = Sim(slippage_bps="3")
        _protect(sim, "99.00", "100.50")
        sim.candle(0, 100, 100, 100, 100)
        sim.venue.submit(market("e", BUY, "1"))
        for i, (o, h, lo) in enumerate([(100.0, 100.6, 99.2), (100.2, 100.7, 98.0)], start=1):
            sim.candle(i, o, h, lo, o)
        return sim.events

    assert run() == run()
