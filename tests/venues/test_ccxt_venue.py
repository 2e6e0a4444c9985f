"""The live venue against the loopback fake Binance spot, on real BTC/USDT 5m candles.

The real ccxt client signs its requests; :class:`fakes.binance_spot.FakeBinanceSpot` checks them and answers in
Binance's format. The fake's clock stands still (``speed`` is a millionth of a candle a second) and moves only by
``fake.jump``, so every expected price is read from the source file at a known candle, never from the venue.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import aiohttp
import ccxt.async_support
import pytest
from pydantic import SecretStr

from fakes.binance_spot import FakeBinanceSpot
from fakes.spot_rig import BTC, FAST, KEY, SECRET, START, TIMEOUT, USDT, close_of, first_touch, order, rig, run
from smc_agent.core.bus import EventBus
from smc_agent.core.clock import SimulatedClock
from smc_agent.core.logs import configure_logging
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from smc_agent.events.codec import to_json
from smc_agent.model.enums import Side
from smc_agent.model.orders import OrderStatus, OrderType
from smc_agent.venues import RejectRule
from smc_agent.venues.ccxt_venue import CcxtVenue
from smc_agent.venues.keys import ApiKeys


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Candles:
    candles = load_candles(shared_data_path("crypto/BTC_USDT-5m_2023.json"))
    assert (candles.symbol, candles.timeframe) == (BTC, "5m")
    return candles[:400]


# -- the fake's signed endpoints --------------------------------------------------------------------------


def _signed_query(params: dict[str, str], secret: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


def test_signed_endpoints_refuse_a_bad_key_or_signature_in_binance_format(btc: Candles) -> None:
    async def main() -> None:
        async with FakeBinanceSpot(btc, start_index=START, speed=1e-6, api_key=KEY, api_secret=SECRET,
                                   balances={USDT: "100"}) as fake, aiohttp.ClientSession() as http:  # fmt: skip
            url = f"{fake.rest_url}/account?"
            good = _signed_query({"timestamp": "1700000000000"}, SECRET)
            async with http.get(url + good, headers={"X-MBX-APIKEY": KEY}) as answer:
                assert answer.status == 200
                assert {"asset": "USDT", "free": "100.00000000", "locked": "0.00000000"} in (await answer.json())[
                    "balances"]  # fmt: skip
            async with http.get(url + _signed_query({"timestamp": "1"}, "wrong"), headers={"X-MBX-APIKEY": KEY}) as a:
                assert (a.status, await a.json()) == (
                    400,
                    {"code": -1022, "msg": "Signature for this request is not valid."},
                )
            async with http.get(url + good, headers={"X-MBX-APIKEY": "someone-else"}) as answer:
                assert answer.status == 401
                assert (await answer.json())["code"] == -2015
            async with http.get(url + good) as answer:  # no key header at all
                assert answer.status == 401

    run(main())


def test_the_fake_rejects_orders_with_binances_codes(btc: Candles) -> None:
    """Raw signed POSTs, the form body signed as Binance wants (no client-side rounding in the way)."""

    async def main() -> None:
        async with FakeBinanceSpot(btc, start_index=START, speed=1e-6, api_key=KEY, api_secret=SECRET,
                                   balances={USDT: "100"}) as fake, aiohttp.ClientSession() as http:  # fmt: skip
            last = close_of(btc, START - 1)
            base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                    "price": f"{(last * Decimal('0.9')).quantize(Decimal('0.01'))}"}  # fmt: skip
            cases = [
                ({"quantity": "0.000015"}, -1013, "Filter failure: LOT_SIZE"),  # not a multiple of the step
                ({"quantity": "0.001", "price": "15000.005"}, -1013, "Filter failure: PRICE_FILTER"),
                ({"quantity": "0.00010"}, -1013, "Filter failure: NOTIONAL"),  # about 1.5 USDT < 5
                ({"quantity": "0.000000001"}, -1111, "Parameter 'quantity' has too much precision."),
                ({"quantity": "0.1"}, -2010, "Account has insufficient balance for requested action."),
            ]
            for extra, code, msg in cases:
                body = _signed_query(base | extra | {"timestamp": "1700000000000"}, SECRET)
                form = {"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"}
                async with http.post(f"{fake.rest_url}/order", data=body, headers=form) as answer:
                    expected = (400, {"code": code, "msg": msg})
                    assert (answer.status, await answer.json()) == expected, extra
            assert fake.placed == 0

    run(main())


# -- the venue ---------------------------------------------------------------------------------------------


def test_market_buy_fills_at_the_last_close_with_the_fee_taken_in_base(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            r.venue.submit(order("e1", Side.BUY, OrderType.MARKET, "0.01"))
            assert [type(e) for e in r.published] == [OrderSubmitted]  # synchronously; the rest comes later
            await r.until(lambda: bool(r.of(OrderFilled)), "the fill")
            price = close_of(btc, START - 1)
            accepted, fill = r.of(OrderAccepted)[0], r.of(OrderFilled)[0]
            assert isinstance(accepted, OrderAccepted)
            assert isinstance(fill, OrderFilled)
            assert accepted.order.quantity == Decimal("0.01")
            assert (fill.price, fill.quantity, fill.order.status) == (price, Decimal("0.01"), OrderStatus.FILLED)
            # 0.1% of 0.01 BTC, paid in BTC, counted in USDT at the fill's price
            assert fill.fee == Decimal("0.00001") * price
            assert not fill.maker
            assert r.fake.free["BTC"] == Decimal("0.00999")
            assert r.fake.free[USDT] == Decimal("1000") - Decimal("0.01") * price
            await r.until(lambda: r.venue.positions() == {BTC: Decimal("0.00999")}, "the balance refresh")
            assert r.venue.open_orders() == []
            assert r.venue.fills_since(0) == [fill]

    run(main())


def test_local_rules_reject_before_anything_is_sent(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            r.venue.submit(order("q0", Side.BUY, OrderType.MARKET, "0.000004"))  # below the 0.00001 step
            r.venue.submit(order("n1", Side.BUY, OrderType.LIMIT, "0.0001", price="15000"))  # 1.5 < 5 USDT
            r.venue.submit(order("p1", Side.BUY, OrderType.LIMIT, "0.001"))  # no price
            r.venue.submit(order("s1", Side.BUY, OrderType.LIMIT, "0.001234567", price="15000.019"))  # rounds
            await r.venue.settle(TIMEOUT)
            rejected = [e for e in r.published if isinstance(e, OrderRejected)]
            assert [(e.order.client_order_id, e.reason.split(":")[0]) for e in rejected] == [
                ("q0", RejectRule.LOT_SIZE),
                ("n1", RejectRule.MIN_NOTIONAL),
                ("p1", RejectRule.MISSING_PRICE),
            ]
            assert "rounds down to 0" in rejected[0].reason
            accepted = r.of(OrderAccepted)[0]
            assert isinstance(accepted, OrderAccepted)
            # down to the lot; a buy's limit price down to the tick
            assert (accepted.order.quantity, accepted.order.price) == (Decimal("0.00123"), Decimal("15000.01"))
            assert r.fake.placed == 1
            assert r.fake.orders[min(r.fake.orders)].price == Decimal("15000.01")
            r.venue.submit(order("s1", Side.BUY, OrderType.LIMIT, "0.001", price="15000"))
            assert r.published[-1].reason.startswith(RejectRule.DUPLICATE_ID)  # type: ignore[attr-defined]

    run(main())


def test_exchange_rejections_come_back_with_binances_reason(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "100"}) as r:
            r.venue.submit(order("big", Side.BUY, OrderType.MARKET, "0.1"))  # about 1,700 USDT
            r.venue.submit(order("tiny", Side.BUY, OrderType.MARKET, "0.0001"))  # about 1.7 USDT, the venue can't know
            await r.venue.settle(TIMEOUT)
            reasons = {e.order.client_order_id: e.reason for e in r.of(OrderRejected)}  # type: ignore[attr-defined]
            assert reasons == {
                "big": "exchange rejected: Account has insufficient balance for requested action.",
                "tiny": "exchange rejected: -1013 Filter failure: NOTIONAL",
            }
            assert all(e.order.status is OrderStatus.REJECTED for e in r.of(OrderRejected))  # type: ignore[attr-defined]

    run(main())


def test_a_resting_limit_fills_when_a_candle_crosses_it_and_the_poll_reports_it(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            lows = [Decimal(repr(float(x))) for x in btc.low[START : START + 30]]
            level = sorted(lows)[3].quantize(Decimal("0.01"))  # touched within 30 candles, not by the first
            touch, expected = first_touch(btc, level, falls_to=True)
            assert touch > START
            r.venue.submit(order("lim", Side.BUY, OrderType.LIMIT, "0.002", price=str(level)))
            await r.until(lambda: bool(r.of(OrderAccepted)), "the acceptance")
            assert r.fake.locked[USDT] == Decimal("0.002") * level
            r.fake.jump(touch - START)  # candle touch - 1 has closed: not yet
            await asyncio.sleep(FAST.poll_s * 5)
            assert not r.of(OrderFilled)
            r.fake.jump(1)
            await r.until(lambda: bool(r.of(OrderFilled)), "the fill")
            fill = r.of(OrderFilled)[0]
            assert isinstance(fill, OrderFilled)
            assert (fill.price, fill.quantity, fill.maker) == (expected, Decimal("0.002"), True)
            assert r.venue.open_orders() == []

    run(main())


def test_cancel_by_the_agent_and_a_cancel_outside_are_both_reported(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            for cid in ("mine", "theirs"):
                r.venue.submit(order(cid, Side.BUY, OrderType.LIMIT, "0.001", price="10000"))
            await r.until(lambda: len(r.of(OrderAccepted)) == 2, "both acceptances")
            assert [o.client_order_id for o in r.venue.open_orders()] == ["mine", "theirs"]
            assert r.venue.cancel("mine", "signal expired")
            assert not r.venue.cancel("mine", "twice")
            assert not r.venue.cancel("nobody", "unknown")
            r.fake.cancel_outside("theirs")
            await r.until(lambda: len(r.of(OrderCancelled)) == 2, "both cancels")
            reasons = {e.order.client_order_id: e.reason for e in r.of(OrderCancelled)}  # type: ignore[attr-defined]
            assert reasons == {"mine": "signal expired", "theirs": "cancelled at the exchange"}
            assert (r.fake.locked[USDT], r.fake.free[USDT]) == (0, Decimal("1000"))
            assert r.venue.open_orders() == []

    run(main())


def test_an_exit_after_a_buy_is_sized_from_the_free_balance_and_a_stop_fills_at_its_trigger(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}) as r:
            r.venue.submit(order("buy", Side.BUY, OrderType.MARKET, "0.01"))
            await r.until(lambda: bool(r.of(OrderFilled)), "the entry's fill")
            lows = [Decimal(repr(float(x))) for x in btc.low[START : START + 40]]
            level = sorted(lows)[2].quantize(Decimal("0.01"))
            touch, expected = first_touch(btc, level, falls_to=True)
            r.venue.submit(order("stop", Side.SELL, OrderType.STOP, "0.01", trigger=str(level), reduce_only=True))
            await r.until(lambda: len(r.of(OrderAccepted)) == 2, "the stop's acceptance")
            accepted = r.of(OrderAccepted)[1]
            assert isinstance(accepted, OrderAccepted)
            assert accepted.order.quantity == Decimal("0.00999")  # 0.01 less the 0.1% fee Binance kept in BTC
            assert r.fake.locked["BTC"] == Decimal("0.00999")
            r.fake.jump(touch - START + 1)
            await r.until(lambda: len(r.of(OrderFilled)) == 2, "the stop's fill")
            fill = r.of(OrderFilled)[1]
            assert isinstance(fill, OrderFilled)
            assert (fill.price, fill.quantity, fill.order.status) == (expected, Decimal("0.00999"), OrderStatus.FILLED)
            assert fill.slippage == level - expected  # a sell filled below its trigger is slippage against us
            assert fill.fee == (Decimal("0.00999") * expected * Decimal("0.001")).quantize(
                Decimal("1e-8"), "ROUND_FLOOR"
            )
            assert r.fake.free.get("BTC", Decimal(0)) == 0

    run(main())


def test_a_timed_out_submission_is_looked_up_by_its_client_id_not_sent_twice(btc: Candles) -> None:
    async def main() -> None:
        async with rig(btc, {USDT: "1000"}, timeout_ms=300) as r:
            r.fake.delay_next_order(1.0)  # placed at once, answered after the client gave up
            r.venue.submit(order("slow", Side.BUY, OrderType.LIMIT, "0.001", price="10000"))
            await r.until(lambda: bool(r.of(OrderAccepted)), "the acceptance after the look-up")
            await r.venue.settle(TIMEOUT)
            assert r.fake.placed == 1
            assert [e.order.client_order_id for e in r.of(OrderAccepted)] == ["slow"]  # type: ignore[attr-defined]
            assert not r.of(OrderRejected)

    run(main())


def test_a_restarted_venue_resending_an_open_order_gets_the_same_order_not_a_second(btc: Candles) -> None:
    async def main() -> None:
        async with FakeBinanceSpot(btc, start_index=START, speed=1e-6, api_key=KEY, api_secret=SECRET,
                                   balances={USDT: "1000"}) as fake:  # fmt: skip
            for _ in range(2):  # the second venue is a new process that lost the first's answers
                async with rig(btc, {}, fake=fake) as r:
                    r.venue.submit(order("again", Side.BUY, OrderType.LIMIT, "0.001", price="10000"))
                    await r.until(lambda: bool(r.of(OrderAccepted)), "the acceptance")
            assert fake.placed == 1
            assert [o.client_id for o in fake.orders.values()] == ["again"]

    run(main())


def test_keys_never_reach_logs_events_or_errors(btc: Candles) -> None:
    out = io.StringIO()
    configure_logging("debug", json=True, stream=out)
    errors: list[str] = []

    async def main() -> list[Event]:
        async with rig(btc, {USDT: "100"}, timeout_ms=300) as r:
            r.fake.delay_next_order(1.0)
            r.venue.submit(order("slow", Side.BUY, OrderType.LIMIT, "0.001", price="10000"))
            r.venue.submit(order("big", Side.BUY, OrderType.MARKET, "1"))
            r.venue.submit(order("q0", Side.BUY, OrderType.MARKET, "0"))
            r.fake.fail_rest(500, 2)
            await r.venue.settle(TIMEOUT)
            await asyncio.sleep(FAST.poll_s * 5)
            wrong = CcxtVenue.connect("binance", ApiKeys(SecretStr(KEY), SecretStr("not-" + SECRET)), EventBus(),
                                      SimulatedClock(0), lambda e: None, urls=r.fake.urls)  # fmt: skip
            try:
                await wrong.start([BTC])
            except ccxt.BaseError as error:
                errors.append(str(error))
            finally:
                await wrong.close()
            return [*r.published, *r.reported]

    try:
        events = asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        configure_logging("warning")
    keys = ApiKeys(SecretStr(KEY), SecretStr(SECRET))
    assert len(errors) == 1
    assert "-1022" in errors[0]
    assert any(isinstance(e, OrderRejected) for e in events)
    assert "order request failed" in out.getvalue()
    texts = [out.getvalue(), *errors, repr(keys), str(keys), *(to_json(e).decode() for e in events)]
    for secret in (KEY, SECRET):
        assert not any(secret in t for t in texts)
