"""``smc-agent run --live``: a live session against the loopback fake Binance spot account, on real BTC/USDT 5m.

The fake (:class:`fakes.binance_spot.FakeBinanceSpot`) serves its own event loop in a thread and checks every
signed request with the test keys; the agent's market clock reads the fake's replay time. The market moves
slowly (``SPEED`` candles a wall second) and jumps when a test says so, so each expected price and fill is read
from the source candles at a known index, never from the agent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.test_live_run import START, TF, TUNING, ThreadedFake
from fakes.binance_spot import FakeBinanceSpot
from fakes.spot_rig import FAST, KEY, SECRET
from smc_agent.cli import app
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import (
    Event,
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    SessionStarted,
)
from smc_agent.model.commands import ManualOrder
from smc_agent.model.enums import Side
from smc_agent.model.orders import OrderStatus, OrderType
from smc_agent.service.agent import Agent, AgentOptions
from smc_agent.store import open_store
from smc_agent.venues.ccxt_venue import CcxtVenue
from smc_agent.venues.simulated import SimulatedVenue

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


def settings_text(tmp_path: Path, urls: str, *, mode: str = "live", allow: bool = True, keys: bool = True) -> Path:
    """A settings file; with ``keys``, the test keys in a secrets file next to it."""
    # Zero fees: the risk gate would refuse 5m entries on Binance's 10 bps (costs_too_high); the fake charges none.
    path = tmp_path / "smc.toml"
    secrets = f'secrets_file = "{tmp_path / "secrets.toml"}"\n' if keys else ""
    path.write_text(f'[run]\nmode = "{mode}"\nallow_live = {str(allow).lower()}\n\n[account]\nfees = "zero"\n\n'
                    f"[exchange]\nrate_limit_ms = 5\n{secrets}{urls}")  # fmt: skip
    (tmp_path / "secrets.toml").write_text(f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n')
    return path


def live_settings(tmp_path: Path, spot: ThreadedFake, **given: Any) -> Path:
    fake = spot.fake
    return settings_text(tmp_path, f'urls = {{ rest = "{fake.rest_url}", ws = "{fake.ws_url}" }}\n', **given)


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


Body = Callable[[asyncio.Task[None]], Coroutine[Any, Any, None]]


async def scripted_run(agent: Agent, body: Body, run: Callable[..., Coroutine[Any, Any, None]] | None = None) -> None:
    """Run ``agent`` (by ``run``: its own) until it has taken a live candle, then ``body(task)``, then stop it."""
    task = asyncio.create_task((run or agent.run)(exit_when_done=False))
    try:
        await until(lambda: agent.system.session.candles > 0, "the first live candle", task)
        await body(task)
    finally:
        agent.stop()
        await asyncio.wait_for(task, 20)


def run_live(agent: Agent, body: Body) -> None:
    asyncio.run(asyncio.wait_for(scripted_run(agent, body), 90))


async def market_buy(agent: Agent, btc: Candles, command_id: str) -> None:
    """A manual market buy of 0.01 BTC, its stop 2% below the last close and its target 6% above."""
    index = int((agent.last_candle_ms(BTC) - TF - int(btc.time[0])) // TF)  # the candle the session closed last
    close = price(float(btc.close[index]))
    order = ManualOrder(command_id=command_id, symbol=BTC, side=Side.BUY, type=OrderType.MARKET,
                        quantity=Decimal("0.01"), stop_loss=(close * Decimal("0.98")).quantize(Decimal("0.01")),
                        take_profit=((close * Decimal("1.06")).quantize(Decimal("0.01")),))  # fmt: skip
    handled = await asyncio.wait_for(agent.system.session.send(order), 10)
    assert handled.accepted, handled.outcome


def journal(agent: Agent) -> list[Event]:
    return list(agent.journal.read())


def test_a_live_session_sends_an_order_that_fills_at_the_exchange_and_the_store_keeps_both(
    tmp_path: Path, spot: ThreadedFake, btc: Candles
) -> None:
    fake = exchange(spot)
    agent = Agent.open(live_options(tmp_path, spot))
    assert agent.system.mode.value == "live"

    async def body(task: asyncio.Task[None]) -> None:
        await market_buy(agent, btc, "m1")
        await until(lambda: any(isinstance(e, OrderFilled) for e in journal(agent)), "the entry's fill", task)
        await until(lambda: any(o.type == "STOP_LOSS" and o.status == "NEW" for o in fake.orders.values()),
                    "the protective stop at the exchange", task)  # fmt: skip
        # The stop's acceptance is reported into the session a moment after the exchange has it.
        await until(lambda: any(isinstance(e, OrderAccepted) and e.order.tag == "stop" for e in journal(agent)),
                    "the stop's acceptance in the journal", task)  # fmt: skip

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
    # ... so the take-profit is held by the venue, never sent: nothing is refused for insufficient balance.
    assert sorted(e.order.tag for e in events if isinstance(e, OrderAccepted)) == ["entry", "stop", "tp1"]
    assert not [e for e in events if isinstance(e, OrderRejected)]
    assert sorted(o.type for o in fake.orders.values()) == ["MARKET", "STOP_LOSS"]
    store = open_store(f"sqlite:///{tmp_path / 'agent.db'}")
    try:
        counts = store.row_counts()
        assert store.session(session_id).mode == "live"
    finally:
        store.close()
    assert counts["fills"] == 1
    assert counts["orders"] >= 2  # the entry and its stop


def test_a_take_profit_the_market_reaches_is_taken_at_market_after_the_stop_is_lifted(
    tmp_path: Path, spot: ThreadedFake, btc: Candles
) -> None:
    """The whole loop on spot: execution's bracket, the stop at the exchange, the take-profit held by the venue,
    a jump of the market to the candle that reaches it, and the position closed at the exchange."""
    fake = exchange(spot)
    agent = Agent.open(live_options(tmp_path, spot))
    chosen: dict[str, Any] = {}

    async def body(task: asyncio.Task[None]) -> None:
        n = int((agent.last_candle_ms(BTC) - int(btc.time[0])) // TF)  # the candle forming at the exchange
        entry = price(float(btc.close[n - 1]))
        # The first candle ahead whose high is a new high far enough above the entry for a 2.5 reward:risk with
        # the stop under every low until then: the stop is never touched, the target is reached there first.
        # Not the next two candles: the session is at n - 1, the exchange may be at n + 1 by the time it buys.
        lowest = min([entry, *(price(float(btc.low[i])) for i in (n, n + 1))])
        highest = max([entry, *(price(float(btc.high[i])) for i in (n, n + 1))])
        for j in range(n + 2, n + 400):
            target = price(float(btc.high[j])).quantize(Decimal("0.01"))
            stop = (min(lowest, price(float(btc.low[j]))) - Decimal("1")).quantize(Decimal("0.01"))
            if target > highest and entry - stop > 0 and target - entry >= Decimal("2.5") * (entry - stop):
                break
            lowest, highest = min(lowest, price(float(btc.low[j]))), max(highest, price(float(btc.high[j])))
        else:
            raise AssertionError("no target ahead")
        order = ManualOrder(command_id="m3", symbol=BTC, side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("0.01"),
                            stop_loss=stop, take_profit=(target,))  # fmt: skip
        handled = await asyncio.wait_for(agent.system.session.send(order), 10)
        assert handled.accepted, handled.outcome
        await until(lambda: any(o.type == "STOP_LOSS" and o.status == "NEW" for o in fake.orders.values()),
                    "the stop at the exchange", task)  # fmt: skip
        here = int((fake.now_ms() - int(btc.time[0])) // TF)
        assert here < j
        spot.call(lambda: fake.jump(j - here + 1))  # candle j is the last one closed
        await until(lambda: any(isinstance(e, OrderFilled) and e.order.tag == "tp1" for e in journal(agent)),
                    "the take-profit's fill", task)  # fmt: skip
        await until(lambda: not agent.system.venue.open_orders(), "the bracket closed", task)
        chosen.update(target=target, j=j)

    try:
        run_live(agent, body)
        events = journal(agent)
    finally:
        agent.close()
    legs = [e for e in events if isinstance(e, OrderEvent) and e.order.tag in ("stop", "tp1")
            and not isinstance(e, OrderSubmitted | OrderAccepted)]  # fmt: skip
    assert [(type(e).__name__, e.order.tag) for e in legs] == [("OrderCancelled", "stop"), ("OrderFilled", "tp1")]
    exit_fill = legs[1]
    assert isinstance(exit_fill, OrderFilled)
    at_exchange = {o.client_id: o for o in fake.orders.values()}[exit_fill.order.client_order_id]
    assert at_exchange.type == "MARKET"  # the take-profit never rested there
    assert exit_fill.price == Decimal(at_exchange.fills[0]["price"])
    assert exit_fill.price in {price(float(btc.close[chosen["j"]])), price(float(btc.close[chosen["j"] + 1]))}
    assert not [e for e in events if isinstance(e, OrderRejected)]
    assert (fake.free.get("BTC"), fake.locked.get("BTC")) == (Decimal(0), Decimal(0))
    assert agent.system.portfolio.position_of(BTC) == 0


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


# -- the gate through the command line -------------------------------------------------------------------------

MISSING = {"mode": 'run.mode = "live"', "allow": "run.allow_live = true", "flag": "--live on the command line",
           "keys": "API keys"}  # fmt: skip
REFUSED = [c for c in itertools.product([False, True], repeat=4) if (c[0] or c[2]) and not all(c)]


@pytest.mark.parametrize(("live_mode", "allow", "flag", "keys"), REFUSED)
def test_run_refuses_live_trading_naming_each_missing_requirement(
    tmp_path: Path, live_mode: bool, allow: bool, flag: bool, keys: bool
) -> None:
    """No exchange is reachable here: each refusal comes before anything is asked of it."""
    config = settings_text(tmp_path, "", mode="live" if live_mode else "paper", allow=allow, keys=keys)
    args = ["run", "--no-serve", "--source", "binance", "--symbols", BTC, "--tf", "5m", "--config", str(config),
            "--db", f"sqlite:///{tmp_path / 'agent.db'}", *(["--live"] if flag else [])]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    given = {"mode": live_mode, "allow": allow, "flag": flag, "keys": keys}
    for name, present in given.items():
        assert (MISSING[name] in result.stderr) is not present, (name, result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "agent.db").exists()  # refused before the store was opened


def test_live_trading_on_replayed_files_is_refused_naming_the_source(tmp_path: Path) -> None:
    config = settings_text(tmp_path, "")
    result = CliRunner().invoke(app, ["run", "--no-serve", "--live", "--config", str(config), "--exit-when-done",
                                      "--db", f"sqlite:///{tmp_path / 'agent.db'}"])  # fmt: skip
    assert result.exit_code != 0
    assert "live trading needs an exchange" in result.stderr
    assert "--source binance" in result.stderr


def test_paper_stays_the_default_and_never_builds_the_exchange_venue(tmp_path: Path) -> None:
    """Keys in the settings and allow_live on, but mode paper and no --live: a paper session on the demo candles."""
    config = settings_text(tmp_path, "", mode="paper")
    agent = Agent.open(AgentOptions(config=config, db=f"sqlite:///{tmp_path / 'agent.db'}"))
    try:
        assert agent.system.mode.value == "paper"
        assert isinstance(agent.system.venue, SimulatedVenue)
        assert agent.live is None
    finally:
        agent.close()


# -- the keys never show -----------------------------------------------------------------------------------


def test_a_live_sessions_logs_outputs_and_database_never_hold_the_keys(
    tmp_path: Path, spot: ThreadedFake, btc: Candles, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The command runs a live session whose keys come from the environment: it buys, its stop rests at the
    exchange, its take-profit is held by the venue, and it stops; then every log line, its
    output and every column of every table of its database are searched for the key and the secret."""
    fake = exchange(spot)
    monkeypatch.setenv("SMC_EXCHANGE__API_KEY", KEY)
    monkeypatch.setenv("SMC_EXCHANGE__API_SECRET", SECRET)
    config = live_settings(tmp_path, spot, keys=False)
    opened: list[Agent] = []
    original = Agent.open.__func__  # type: ignore[attr-defined]

    def open_on_the_fake(cls: type[Agent], options: AgentOptions, store: Any = None) -> Agent:
        agent: Agent = original(cls, replace(options, wall_ms=fake.now_ms, tuning=TUNING, venue_tuning=FAST), store)
        assert isinstance(agent.system.venue, CcxtVenue)
        run = agent.run

        async def scripted(*, exit_when_done: bool = True) -> None:
            async def body(task: asyncio.Task[None]) -> None:
                await market_buy(agent, btc, "k1")
                await until(lambda: any(o.type == "STOP_LOSS" for o in fake.orders.values()), "the stop", task)
                await agent.system.venue.settle(10)  # type: ignore[union-attr]

            await scripted_run(agent, body, run)

        agent.run = scripted  # type: ignore[method-assign]
        opened.append(agent)
        return agent

    monkeypatch.setattr(Agent, "open", classmethod(open_on_the_fake))
    db = tmp_path / "agent.db"
    caplog.set_level("DEBUG")
    result = CliRunner().invoke(app, ["--log-level", "debug", "--log-json", "run", "--no-serve", "--live", "--source",
                                      "binance",
                                      "--symbols", BTC, "--tf", "5m", "--htf", "15m,1h", "--config", str(config),
                                      "--db", f"sqlite:///{db}", "--summary-json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert opened, "the command did not open the agent"
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert [t["order_id"] for t in summary["trades"]]  # it traded
    log_lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "reconciled: the exchange agrees with the journal" for line in log_lines)
    assert any(r.name.startswith("smc_agent") for r in caplog.records)
    texts = {"stdout": result.stdout, "stderr": result.stderr, "caplog": caplog.text}
    connection = sqlite3.connect(db)
    try:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"events", "orders", "fills", "sessions", "audit_log"} <= set(tables)
        cells = 0
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    cells += 1
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    texts[f"{table} #{cells}"] = str(value)
    finally:
        connection.close()
    assert cells > 1000  # the history, the events and the orders are all in there
    for secret in (KEY, SECRET):
        leaks = [where for where, text in texts.items() if secret in text]
        assert leaks == [], f"{secret[:3]}... found in {leaks}"
