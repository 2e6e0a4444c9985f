"""Reconciliation at start against the loopback fake Binance spot, on real BTC/USDT 5m candles.

Each test runs a first venue (the process before it went down), changes the exchange while no venue runs
(candles pass, someone cancels or places an order), then starts a second venue and reconciles it with the
journal's view: the orders as the first venue's events left them. The fake charges no fee here except where
a test says so, so positions are whole numbers of what was ordered; prices come from the source file.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from fakes.binance_spot import FakeBinanceSpot
from fakes.spot_rig import BTC, KEY, SECRET, START, USDT, Rig, close_of, first_touch, order, rig, run
from smc_agent.core.logs import configure_logging
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import OrderAccepted, OrderCancelled, OrderFilled, OrderRejected
from smc_agent.model.enums import Side
from smc_agent.model.orders import Order, OrderStatus, OrderType
from smc_agent.venues.reconcile import DifferenceKind, JournalView, reconcile


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path("crypto/BTC_USDT-5m_2023.json"))[:400]


@asynccontextmanager
async def exchange(btc: Candles, fee_rate: str = "0") -> AsyncIterator[FakeBinanceSpot]:
    async with FakeBinanceSpot(btc, start_index=START, speed=1e-6, api_key=KEY, api_secret=SECRET,
                               balances={USDT: "1000"}, fee_rate=fee_rate) as fake:  # fmt: skip
        yield fake


async def accepted(r: Rig, submitted: Order) -> Order:
    r.venue.submit(submitted)
    cid = submitted.client_order_id
    await r.until(lambda: any(e.order.client_order_id == cid for e in r.of(OrderAccepted)), f"{cid} accepted")  # type: ignore[attr-defined]
    (event,) = [e for e in r.of(OrderAccepted) if e.order.client_order_id == cid]  # type: ignore[attr-defined]
    assert isinstance(event, OrderAccepted)
    return event.order


def low_level(btc: Candles, rank: int) -> Decimal:
    lows = sorted(Decimal(repr(float(x))) for x in btc.low[START : START + 30])
    return lows[rank].quantize(Decimal("0.01"))


def test_a_fill_while_down_becomes_its_fill_event_and_the_position_agrees(btc: Candles) -> None:
    async def main() -> None:
        async with exchange(btc) as fake:
            level = low_level(btc, 3)
            touch, price = first_touch(btc, level, falls_to=True)
            async with rig(btc, {}, fake=fake) as before:
                resting = await accepted(before, order("lim", Side.BUY, OrderType.LIMIT, "0.002", price=str(level)))
            fake.jump(touch - START + 1)  # down while the candle crosses it
            async with rig(btc, {}, fake=fake) as after:
                result = await reconcile(after.venue, JournalView({"lim": resting}, {}, None))
                (fill,) = result.events
                assert isinstance(fill, OrderFilled)
                assert (fill.price, fill.quantity, fill.order.status) == (price, Decimal("0.002"), OrderStatus.FILLED)
                assert fill.order.client_order_id == "lim"
                assert [(d.kind, d.client_order_id) for d in result.differences] == [
                    (DifferenceKind.FILLED_WHILE_DOWN, "lim")]  # fmt: skip
                assert after.reported == []  # returned for the caller to publish, not reported twice
                assert after.venue.open_orders() == []

    run(main())


def test_an_order_cancelled_outside_is_cancelled_in_the_journal(btc: Candles) -> None:
    async def main() -> None:
        async with exchange(btc) as fake:
            async with rig(btc, {}, fake=fake) as before:
                resting = await accepted(before, order("gone", Side.BUY, OrderType.LIMIT, "0.001", price="10000"))
            fake.cancel_outside("gone")
            async with rig(btc, {}, fake=fake) as after:
                result = await reconcile(after.venue, JournalView({"gone": resting}, {}, None))
                (cancelled,) = result.events
                assert isinstance(cancelled, OrderCancelled)
                assert (cancelled.reason, cancelled.order.status) == ("cancelled at the exchange",
                                                                      OrderStatus.CANCELLED)  # fmt: skip
                assert [d.kind for d in result.differences] == [DifferenceKind.CANCELLED_OUTSIDE]

    run(main())


def test_an_order_unknown_to_the_journal_is_reported_not_adopted(btc: Candles) -> None:
    async def main() -> None:
        async with exchange(btc) as fake:
            fake.place_outside("BTCUSDT", "BUY", "0.001", "12000.00", "by-hand-1")
            async with rig(btc, {}, fake=fake) as after:
                result = await reconcile(after.venue, JournalView({}, {}, None))
                assert result.events == []
                (difference,) = result.differences
                assert (difference.kind, difference.client_order_id) == (DifferenceKind.UNKNOWN_ORDER, "by-hand-1")
                assert "buy limit 0.001 at 12000" in difference.detail
                assert after.venue.open_orders() == []  # not adopted: never cancelled or filled by the agent

    run(main())


def test_a_journal_that_agrees_gets_no_events_and_the_working_order_is_followed_from_then_on(btc: Candles) -> None:
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)

    async def main() -> None:
        async with exchange(btc) as fake:
            high = max(Decimal(repr(float(x))) for x in btc.high[START : START + 30])
            level = high.quantize(Decimal("0.01"))
            touch, price = first_touch(btc, level, falls_to=False)
            async with rig(btc, {}, fake=fake) as before:
                before.venue.submit(order("buy", Side.BUY, OrderType.MARKET, "0.01"))
                await before.until(lambda: bool(before.of(OrderFilled)), "the entry's fill")
                (fill,) = before.of(OrderFilled)
                # not reduce-only: the venue holds a take-profit itself; a plain limit sell rests at the exchange
                tp = await accepted(before, order("tp", Side.SELL, OrderType.LIMIT, "0.01", price=str(level)))
            async with rig(btc, {}, fake=fake) as after:
                view = JournalView({"tp": tp}, {BTC: Decimal("0.01")}, fill.event_ms)
                result = await reconcile(after.venue, view)
                assert (result.events, result.differences) == ([], [])
                assert [o.client_order_id for o in after.venue.open_orders()] == ["tp"]
                fake.jump(touch - START + 1)
                await after.until(lambda: bool(after.of(OrderFilled)), "the take-profit's fill")
                (tp_fill,) = after.of(OrderFilled)
                assert isinstance(tp_fill, OrderFilled)
                assert (tp_fill.order.client_order_id, tp_fill.price) == ("tp", price)

    try:
        run(main())
    finally:
        configure_logging("warning")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines if line["logger"] == "smc_agent.venues.reconcile"] == [
        "reconciled: the exchange agrees with the journal"]  # fmt: skip


def test_a_sent_order_the_exchange_never_got_and_a_base_fee_show_as_differences(btc: Candles) -> None:
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)

    async def main() -> None:
        async with exchange(btc, fee_rate="0.001") as fake:
            async with rig(btc, {}, fake=fake) as before:
                before.venue.submit(order("buy", Side.BUY, OrderType.MARKET, "0.01"))
                await before.until(lambda: bool(before.of(OrderFilled)), "the entry's fill")
                (fill,) = before.of(OrderFilled)
            lost = order("lost", Side.BUY, OrderType.LIMIT, "0.001", price="10000")  # journaled, never sent
            fake.jump(1)  # a candle later:
            fake.place_outside("BTCUSDT", "SELL", "0.003", "90000.00", "by-hand-2")  # rests
            fake.place_outside("BTCUSDT", "SELL", "0.006", "1000.00", "by-hand-3")  # fills at once
            async with rig(btc, {}, fake=fake) as after:
                result = await reconcile(after.venue, JournalView({"lost": lost}, {BTC: Decimal("0.01")},
                                                                  fill.event_ms))  # fmt: skip
                (rejected,) = result.events
                assert isinstance(rejected, OrderRejected)
                assert rejected.reason == "never reached the exchange"
                kinds = [(d.kind, d.symbol) for d in result.differences]
                assert kinds == [(DifferenceKind.NEVER_SENT, BTC), (DifferenceKind.UNKNOWN_ORDER, BTC),
                                 (DifferenceKind.UNKNOWN_FILL, BTC), (DifferenceKind.POSITION, BTC)]  # fmt: skip
                price = close_of(btc, START)
                assert result.differences[2].detail.startswith(f"sell 0.006 at {float(price)}")
                # 0.01 bought less the 0.00001 Binance kept as the fee, less 0.006 sold by hand
                assert (
                    result.differences[3].detail
                    == "the exchange holds 0.00399, the journal (with the fills above) 0.01"
                )

    try:
        run(main())
    finally:
        configure_logging("warning")
    logged = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sum(line["event"] == "reconciliation difference" for line in logged) == 4
