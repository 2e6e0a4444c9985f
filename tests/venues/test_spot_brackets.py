"""Spot brackets at the live venue: the stop rests at the exchange, the take-profit is held by the venue.

On a spot account a resting stop locks the coins, so a take-profit for the same position would be refused for
insufficient balance. Against the loopback fake Binance spot (its clock standing still, so its last price is
the close of candle ``START - 1``), these tests follow a position bought at market with its stop and its
take-profit: the take-profit is accepted and held, a candle that reaches it lifts the stop and exits at market,
and a restart holds it again. Expected prices come from the source candles.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from fakes.binance_spot import FakeOrder, _Reject
from fakes.spot_rig import BTC, START, USDT, Rig, close_of, order, rig, run
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import CandleClosed, OrderAccepted, OrderCancelled, OrderEvent, OrderFilled, OrderRejected
from smc_agent.model.enums import Side
from smc_agent.model.orders import Order, OrderStatus, OrderType
from smc_agent.venues.reconcile import DifferenceKind, JournalView, reconcile


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path("crypto/BTC_USDT-5m_2023.json"))[:400]


def candle(c: Candles, i: int, *, high: float | None = None) -> CandleClosed:
    """Candle ``i`` of the source as the kernel hands it over (``high`` to make it reach a level)."""
    close_ms = int(c.time[i]) + 300_000
    return CandleClosed(event_ms=close_ms, known_ms=close_ms, symbol=BTC, timeframe="5m", time=int(c.time[i]),
                        open=float(c.open[i]), high=float(c.high[i]) if high is None else high, low=float(c.low[i]),
                        close=float(c.close[i]), volume=float(c.volume[i]))  # fmt: skip


async def bracket(r: Rig, last: Decimal) -> tuple[Order, Order]:
    """Buy 0.01 at market, then its stop 2% below and its take-profit 3% above the last price: as accepted."""
    r.venue.submit(order("e", Side.BUY, OrderType.MARKET, "0.01"))
    await r.until(lambda: bool(r.of(OrderFilled)), "the entry's fill")
    stop_at, tp_at = (
        (last * Decimal("0.98")).quantize(Decimal("0.01")),
        (last * Decimal("1.03")).quantize(Decimal("0.01")),
    )
    r.venue.submit(leg("s", OrderType.STOP, trigger=stop_at))
    r.venue.submit(leg("t", OrderType.LIMIT, price=tp_at))
    await r.until(lambda: len(r.of(OrderAccepted)) == 3, "both legs accepted")
    accepted = {e.order.client_order_id: e.order for e in r.of(OrderAccepted) if isinstance(e, OrderAccepted)}
    return accepted["s"], accepted["t"]


def leg(cid: str, kind: OrderType, *, price: Decimal | None = None, trigger: Decimal | None = None) -> Order:
    return Order(cid, BTC, Side.SELL, kind, Decimal("0.01"), price=price, trigger=trigger, reduce_only=True,
                 tag="stop" if kind is OrderType.STOP else "tp1", parent="e")  # fmt: skip


def test_the_take_profit_is_held_and_a_candle_that_reaches_it_lifts_the_stop_and_exits_at_market(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            last = close_of(btc, START - 1)
            stop, tp = await bracket(r, last)
            await r.venue.settle()
            at_exchange = {o.client_id: o for o in r.fake.orders.values()}
            assert set(at_exchange) == {"e", "s"}  # the take-profit was never sent: nothing refused it
            assert (at_exchange["s"].type, at_exchange["s"].status) == ("STOP_LOSS", "NEW")
            assert not r.of(OrderRejected)
            assert {o.client_order_id for o in r.venue.open_orders()} == {"s", "t"}

            r.venue.on_candle(candle(btc, START - 1, high=float(tp.price or 0) - 1))  # short of it: nothing
            await r.venue.settle()
            assert len(r.fake.orders) == 2
            r.venue.on_candle(candle(btc, START - 1, high=float(tp.price or 0)))  # reaches it
            await r.until(lambda: len(r.of(OrderFilled)) == 2, "the take-profit's exit")
            after = [e for e in r.reported if isinstance(e, OrderEvent) and e.order.client_order_id in ("s", "t")]
            assert [(type(e), e.order.client_order_id) for e in after if not isinstance(e, OrderAccepted)] == [
                (OrderCancelled, "s"), (OrderFilled, "t")]  # fmt: skip
            cancelled, filled = (e for e in after if not isinstance(e, OrderAccepted))
            assert isinstance(cancelled, OrderCancelled)
            assert cancelled.reason == "take-profit reached"
            assert isinstance(filled, OrderFilled)
            # The exit is at market: the fake's last price, below the take-profit by what the candle gave back; for
            # what the account holds (the buy's 0.1% fee was paid in BTC), which completes the take-profit.
            assert (filled.price, filled.quantity) == (last, Decimal("0.00999"))
            assert (filled.order.status, filled.order.quantity) == (OrderStatus.FILLED, Decimal("0.00999"))
            assert filled.slippage == (tp.price or 0) - last
            assert r.fake.orders[max(r.fake.orders)].type == "MARKET"
            assert r.fake.orders[max(r.fake.orders)].client_id == "t"
            assert {o.client_id: o.status for o in r.fake.orders.values()}["s"] == "CANCELED"
            assert r.fake.free["BTC"] == 0
            assert r.fake.locked.get("BTC", 0) == 0
            assert r.venue.open_orders() == []
            assert stop.trigger == (last * Decimal("0.98")).quantize(Decimal("0.01"))

    run(main())


def test_a_held_take_profit_cancelled_is_cancelled_without_a_request(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            await bracket(r, close_of(btc, START - 1))
            await r.venue.settle()
            requests = len(r.fake.requests)
            assert r.venue.cancel("t", "resized")
            (cancelled,) = r.of(OrderCancelled)
            assert isinstance(cancelled, OrderCancelled)
            assert (cancelled.order.client_order_id, cancelled.reason) == ("t", "resized")
            assert not r.venue.cancel("t", "again")
            assert len(r.fake.requests) == requests  # the exchange never knew it

    run(main())


def test_a_restart_holds_the_take_profit_again_and_the_journal_agrees(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as before:
            stop, tp = await bracket(before, close_of(btc, START - 1))
            (fill,) = before.of(OrderFilled)
            fake = before.fake
            async with rig(btc, {}, fake=fake) as after:
                view = JournalView({"s": stop, "t": tp}, {BTC: Decimal("0.01")}, fill.event_ms)
                result = await reconcile(after.venue, view)
                assert result.events == []
                # the one difference: the buy's fee, paid in BTC (see venues.reconcile)
                assert [(d.kind, d.detail) for d in result.differences] == [(DifferenceKind.POSITION,
                    "the exchange holds 0.00999, the journal (with the fills above) 0.01")]  # fmt: skip
                assert {o.client_order_id for o in after.venue.open_orders()} == {"s", "t"}
                after.venue.on_candle(candle(btc, START - 1, high=float(tp.price or 0)))
                await after.until(lambda: bool(after.of(OrderFilled)), "the take-profit's exit after the restart")
                assert [type(e) for e in after.reported] == [OrderCancelled, OrderFilled]

    run(main())


def test_an_exit_the_exchange_refuses_puts_the_stop_back_and_keeps_the_take_profit_for_the_next_candle(
    btc: Candles, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            stop, tp = await bracket(r, close_of(btc, START - 1))
            await r.venue.settle()
            place = r.fake._place

            def refuse_markets(params: dict[str, str]) -> FakeOrder:
                if params.get("type") == "MARKET":
                    raise _Reject(-2010, "Account has insufficient balance for requested action.")
                return place(params)

            monkeypatch.setattr(r.fake, "_place", refuse_markets)
            reported = len(r.reported)
            r.venue.on_candle(candle(btc, START - 1, high=float(tp.price or 0)))
            await r.until(lambda: [o.client_id for o in r.fake.orders.values()].count("s") == 2, "the stop again")
            await r.venue.settle()
            assert r.reported[reported:] == []  # the session saw nothing change: its stop is still there
            stops = [o for o in r.fake.orders.values() if o.client_id == "s"]
            assert [(o.status, o.type, o.stop) for o in stops] == [
                ("CANCELED", "STOP_LOSS", stop.trigger), ("NEW", "STOP_LOSS", stop.trigger)]  # fmt: skip
            assert r.venue.exchange_id("s") == str(stops[1].order_id)  # followed under its new exchange id
            assert {o.client_order_id for o in r.venue.open_orders()} == {"s", "t"}

            monkeypatch.setattr(r.fake, "_place", place)  # the next candle that reaches it takes it
            r.venue.on_candle(candle(btc, START - 1, high=float(tp.price or 0)))
            await r.until(lambda: len(r.of(OrderFilled)) == 2, "the take-profit's exit")
            assert [o.status for o in r.fake.orders.values() if o.client_id == "s"] == ["CANCELED", "CANCELED"]

    run(main())


def test_a_resized_stop_waits_for_the_old_ones_cancel_and_covers_the_whole_position(btc: Candles) -> None:
    """Execution places the new stop, then cancels the old one (never unprotected by its own doing); on spot the
    old stop locks its coins until the cancel is through, so the new one is sized after it."""

    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            trigger = (close_of(btc, START - 1) * Decimal("0.98")).quantize(Decimal("0.01"))
            r.venue.submit(order("e", Side.BUY, OrderType.MARKET, "0.02"))
            await r.until(lambda: bool(r.of(OrderFilled)), "the entry's fill")
            r.venue.submit(leg("s1", OrderType.STOP, trigger=trigger))  # for 0.01: the entry's first part
            await r.until(lambda: len(r.of(OrderAccepted)) == 2, "the first stop")
            r.venue.submit(Order("s2", BTC, Side.SELL, OrderType.STOP, Decimal("0.02"), trigger=trigger,
                                 reduce_only=True, tag="stop", parent="e"))  # fmt: skip
            assert r.venue.cancel("s1", "resized")
            await r.until(lambda: len(r.of(OrderAccepted)) == 3, "the second stop")
            await r.venue.settle()
            (resized,) = [e for e in r.of(OrderAccepted) if isinstance(e, OrderAccepted) and e.order.tag == "stop"
                          and e.order.client_order_id == "s2"]  # fmt: skip
            assert resized.order.quantity == Decimal("0.01998")  # all that is held: 0.02 less the 0.1% fee in BTC
            assert r.fake.free["BTC"] == 0

    run(main())
