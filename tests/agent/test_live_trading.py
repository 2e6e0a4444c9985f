"""``smc-agent run --live``: a live session against the loopback fake Binance spot account, on real BTC/USDT 5m.

The fake (:class:`fakes.binance_spot.FakeBinanceSpot`) serves its own event loop in a thread and checks every
signed request with the test keys; the agent's market clock reads the fake's replay time. The market moves
slowly (``SPEED`` candles a wall second) and jumps when a test says so, so each expected price and fill is read
from the source candles at a known index, never from the agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.test_live_run import START, TF, TUNING, ThreadedFake
from fakes.binance_spot import FakeBinanceSpot
from fakes.spot_rig import FAST, KEY, SECRET
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import Event, OrderAccepted, OrderFilled, SessionStarted
from smc_agent.model.commands import ManualOrder
from smc_agent.model.enums import Side
from smc_agent.model.orders import OrderStatus, OrderType
from smc_agent.service.agent import Agent, AgentOptions
from smc_agent.store import open_store

BTC = "BTC/USDT"
SPEED = 1.0  # candles a wall second: slow enough that nothing moves while a test looks
WAIT_S = 30.0


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path("crypto/BTC_USDT-5m_2023.json"))


@pytest.fixture
def spot(btc: Candles) -> Iterator[ThreadedFake]:
    fake = FakeBinanceSpot(btc, start_index=START, speed=SPEED, api_key=KEY, api_secret=SECRET,
                           balances={"USDT": "10000"}, fee_rate="0")  # fmt: skip
    threaded = ThreadedFake(btc, fake)
    try:
        yield threaded
    finally:
        threaded.close()


def exchange(spot: ThreadedFake) -> FakeBinanceSpot:
    fake = spot.fake
    assert isinstance(fake, FakeBinanceSpot)
    return fake


def live_settings(tmp_path: Path, spot: ThreadedFake, *, mode: str = "live", allow: bool = True) -> Path:
    # Zero fees: the risk gate would refuse 5m entries on Binance's 10 bps (costs_too_high); the fake charges none.
    path = tmp_path / "smc.toml"
    fake = spot.fake
    path.write_text(f'[run]\nmode = "{mode}"\nallow_live = {str(allow).lower()}\n\n[account]\nfees = "zero"\n\n'
                    f'[exchange]\nrate_limit_ms = 5\nsecrets_file = "{tmp_path / "secrets.toml"}"\n'
                    f'urls = {{ rest = "{fake.rest_url}", ws = "{fake.ws_url}" }}\n')  # fmt: skip
    (tmp_path / "secrets.toml").write_text(f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n')
    return path


def live_options(tmp_path: Path, spot: ThreadedFake) -> AgentOptions:
    return AgentOptions(source="binance", symbols=BTC, tf="5m", htf="15m,1h", config=live_settings(tmp_path, spot),
                        db=f"sqlite:///{tmp_path / 'agent.db'}", wall_ms=spot.fake.now_ms, tuning=TUNING,
                        venue_tuning=FAST, live=True)  # fmt: skip


def price(value: float) -> Decimal:
    return Decimal(repr(value))


async def until(check: Callable[[], bool], what: str, task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert not task.done(), task.exception() if task.done() else None
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def run_live(agent: Agent, body: Callable[[asyncio.Task[None]], Coroutine[Any, Any, None]]) -> None:
    """Run ``agent`` until it has taken a live candle, then ``body(task)``, then stop it cleanly."""

    async def main() -> None:
        task = asyncio.create_task(agent.run(exit_when_done=False))
        try:
            await until(lambda: agent.system.session.candles > 0, "the first live candle", task)
            await body(task)
        finally:
            agent.stop()
            await asyncio.wait_for(task, 20)

    asyncio.run(asyncio.wait_for(main(), 90))


def journal(agent: Agent) -> list[Event]:
    return list(agent.journal.read())


def test_a_live_session_sends_an_order_that_fills_at_the_exchange_and_the_store_keeps_both(
    tmp_path: Path, spot: ThreadedFake, btc: Candles
) -> None:
    fake = exchange(spot)
    agent = Agent.open(live_options(tmp_path, spot))
    assert agent.system.mode.value == "live"

    async def body(task: asyncio.Task[None]) -> None:
        last = agent.last_candle_ms(BTC)
        index = int((last - TF - int(btc.time[0])) // TF)  # the candle the session closed last
        close = price(float(btc.close[index]))
        order = ManualOrder(command_id="m1", symbol=BTC, side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("0.01"),
                            stop_loss=(close * Decimal("0.98")).quantize(Decimal("0.01")),
                            take_profit=((close * Decimal("1.06")).quantize(Decimal("0.01")),))  # fmt: skip
        handled = await asyncio.wait_for(agent.system.session.send(order), 10)
        assert handled.accepted, handled.outcome
        await until(lambda: any(isinstance(e, OrderFilled) for e in journal(agent)), "the entry's fill", task)
        await until(lambda: any(o.type == "STOP_LOSS" and o.status == "NEW" for o in fake.orders.values()),
                    "the protective stop at the exchange", task)  # fmt: skip

    try:
        session_id = agent.session_id
        run_live(agent, body)
        events = journal(agent)
    finally:
        agent.close()
    started = [e for e in events if isinstance(e, SessionStarted)]
    assert [s.mode.value for s in started] == ["live"]
    (fill,) = [e for e in events if isinstance(e, OrderFilled)]
    # A market order fills at the fake's last price: the close of the latest candle closed at the exchange.
    filled_at = {o.client_id: o for o in fake.orders.values()}[fill.order.client_order_id]
    assert filled_at.type == "MARKET"
    assert (fill.quantity, fill.price) == (Decimal("0.01"), Decimal(filled_at.fills[0]["price"]))
    assert fake.free["BTC"] == Decimal(0)  # the stop locks the whole position
    store = open_store(f"sqlite:///{tmp_path / 'agent.db'}")
    try:
        counts = store.row_counts()
        assert store.session(session_id).mode == "live"
    finally:
        store.close()
    assert counts["fills"] == 1
    assert counts["orders"] >= 2  # the entry and its stop


def test_a_restart_reconciles_an_order_filled_while_down_into_the_journal_and_the_differences_table(
    tmp_path: Path, spot: ThreadedFake, btc: Candles
) -> None:
    fake = exchange(spot)
    agent = Agent.open(live_options(tmp_path, spot))
    placed: dict[str, Any] = {}

    async def body(task: asyncio.Task[None]) -> None:
        # A resting limit buy at a low that the candles ahead reach, well below where the market is now.
        now = int((agent.last_candle_ms(BTC) - int(btc.time[0])) // TF)  # the candle forming at the exchange
        ahead = range(now + 3, now + 60)
        level = min(price(float(btc.low[i])) for i in ahead).quantize(Decimal("0.01")) + Decimal("0.01")
        touch = next(i for i in ahead if price(float(btc.low[i])) <= level)
        assert level < price(float(btc.low[now - 1])), "the limit must rest, not fill at once"
        order = ManualOrder(command_id="m2", symbol=BTC, side=Side.BUY, type=OrderType.LIMIT, price=level,
                            quantity=Decimal("0.01"), stop_loss=(level * Decimal("0.98")).quantize(Decimal("0.01")),
                            take_profit=((level * Decimal("1.06")).quantize(Decimal("0.01")),))  # fmt: skip
        handled = await asyncio.wait_for(agent.system.session.send(order), 10)
        assert handled.accepted, handled.outcome
        await until(lambda: any(isinstance(e, OrderAccepted) for e in journal(agent)), "the limit accepted", task)
        placed.update(level=level, touch=touch)

    try:
        session_id = agent.session_id
        run_live(agent, body)
    finally:
        agent.close()
    (resting,) = [o for o in fake.orders.values() if o.status == "NEW"]
    assert resting.type == "LIMIT"
    here = int((fake.now_ms() - int(btc.time[0])) // TF)
    spot.call(lambda: fake.jump(placed["touch"] - here + 1))  # down while the candle at "touch" crosses the limit

    agent = Agent.open(live_options(tmp_path, spot))
    try:
        assert agent.resumed
        run_live(agent, lambda task: until(
            lambda: any(o.type == "STOP_LOSS" and o.status == "NEW" for o in fake.orders.values()),
            "the stop placed for the fill found at the start", task))  # fmt: skip
        events = journal(agent)
        assert agent.live is not None
        reconciled = agent.live.reconciled
    finally:
        agent.close()
    resumed_at = next(i for i, e in enumerate(events) if isinstance(e, SessionStarted) and e.resumed)
    fills = [e for e in events[resumed_at:] if isinstance(e, OrderFilled)]
    assert [(f.order.client_order_id, f.price, f.quantity, f.order.status) for f in fills][:1] == [
        (resting.client_id, placed["level"], Decimal("0.01"), OrderStatus.FILLED)]  # fmt: skip
    assert reconciled is not None
    # the event reconciliation made is the one journaled (there stamped with its session and number)
    assert [(e.event_ms, e.order) for e in reconciled.events] == [(f.event_ms, f.order) for f in fills[:1]]
    (stop,) = [o for o in fake.orders.values() if o.type == "STOP_LOSS"]
    assert stop.quantity == Decimal("0.01")
    store = open_store(f"sqlite:///{tmp_path / 'agent.db'}")
    try:
        differences = store.differences(session_id)
    finally:
        store.close()
    assert [(d["kind"], d["symbol"], d["client_order_id"]) for d in differences] == [
        ("filled while down", BTC, resting.client_id)]  # fmt: skip
