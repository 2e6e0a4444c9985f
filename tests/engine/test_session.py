"""The session: operator commands through the inbox, timers, and the asyncio run, on hand-built candles.

Every scenario drives the real core (kernel, risk gate, execution, simulated venue, portfolio) through
:class:`~smc_agent.engine.session.Session` one message at a time, as the agent process does, with a
scripted strategy. Numbers as in test_kernel_scenarios: equity 10,000, 1% risk, a long at 100 with its
stop at 97 buys 33.33 at the 0.01 lot; candle ``i`` closes at ``at(i)``.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from scenario import candles
from scripted import SYMBOL, Script, readable_ids

from smc_agent.bootstrap import EngineSettings, Mode, System, build
from smc_agent.core.logs import configure_logging
from smc_agent.engine.risk import OrderCommand
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.events import (
    CandleClosed,
    CommandHandled,
    EntryAccepted,
    OrderExpired,
    OrderFilled,
    RiskCheckpoint,
    RiskRejected,
    TradingStateChanged,
)
from smc_agent.model.commands import CancelAll, FlattenSymbol, Kill, ManualOrder, Pause, Reset, Resume
from smc_agent.model.enums import RiskLayer, Side, TradingState
from smc_agent.model.orders import OrderType
from smc_agent.strategy.base import Command, Enter
from smc_agent.venues.costs import FeeModel

D = Decimal
M = 60_000
T0 = 1_709_546_400_000  # Monday 2024-03-04 10:00 UTC
QUIET = (100.0, 100.5, 99.5, 100.0)  # reaches no stop at 97 and no target at 106


def at(i: int) -> int:
    return T0 + (i + 1) * M


def settings() -> EngineSettings:
    # Round sizes for the session's mechanics: sizing with costs has its own scenarios (test_cost_sizing.py).
    return EngineSettings(fees=FeeModel(D("2"), D("5")), slippage_bps=D(0), tick_size=D("0.01"), lot_size=D("0.01"),
                          risk=RiskConfig(count_costs=False))  # fmt: skip


def entry(signal_id: str = "sig1", *, expire_ms: int | None = None) -> OrderCommand:
    return OrderCommand(SYMBOL, Side.BUY, D("100"), D("97"), (D("106"),), signal_id, "test", expire_ms=expire_ms)


class Stepper:
    """A started session on ``rows``, stepped one candle at a time, recording every event."""

    def __init__(self, rows: Sequence[tuple[float, float, float, float]],
                 plan: Mapping[int, Sequence[Command]] | None = None) -> None:  # fmt: skip
        data = candles(rows, "1m", T0).with_meta(symbol=SYMBOL)
        script = Script(plan or {})
        self.system: System = build(Mode.BACKTEST, data, lambda c: script, settings())
        self.events: list[Any] = []
        self.system.bus.subscribe(self.events.append)
        self.session = self.system.session
        self.session.start()
        self._candles = iter(self.system.feed)

    def candle(self, count: int = 1) -> None:
        for _ in range(count):
            self.session.step(next(self._candles))

    def command(self, command: Any) -> CommandHandled:
        handled = self.session.step(command)
        assert handled is not None
        return handled

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def fills(self) -> list[tuple[str, int, Decimal, Decimal]]:
        name = readable_ids(self.events).get
        return [(name(f.order.client_order_id, "?"), f.event_ms, f.price, f.quantity) for f in self.of(OrderFilled)]


def test_kill_halts_and_flattens_at_the_next_open_and_reset_lifts_it() -> None:
    rows = [QUIET, (100.0, 100.5, 99.0, 100.2), (101.0, 101.5, 100.5, 101.0), QUIET, QUIET]
    s = Stepper(rows, {0: [Enter(entry(), market=True)], 3: [Enter(entry("sig2"), market=True)]})
    s.candle(2)  # the market entry filled at candle 1's open
    assert s.system.portfolio.position_of(SYMBOL) == D("33.33")
    handled = s.command(Kill(command_id="k1", reason="operator test"))
    assert handled.accepted
    assert handled.outcome == f"halted, and flattening {SYMBOL} (0 working entries cancelled)"
    assert s.system.risk.state is TradingState.HALTED
    s.candle()  # candle 2: the flatten fills at its open; the stop is withdrawn as the position closed
    assert s.fills()[-1] == (f"flatten:{SYMBOL}:1", at(2), D("101.0"), D("33.33"))
    assert s.system.venue.open_orders() == []
    s.candle()  # candle 3: the script's second entry is refused, halted
    (refused,) = s.of(RiskRejected)
    assert (refused.layer, refused.command.signal_id) == (RiskLayer.ACCOUNT, "sig2")
    assert "halted until a manual reset: kill switch: operator test" in refused.reason
    assert s.command(Reset(command_id="r1")).outcome == "trading state active"
    assert [(e.old, e.new) for e in s.of(TradingStateChanged)] == [
        (TradingState.ACTIVE, TradingState.HALTED), (TradingState.HALTED, TradingState.ACTIVE),
    ]  # fmt: skip


def test_a_command_id_is_handled_once() -> None:
    s = Stepper([QUIET, QUIET])
    s.candle()
    assert s.command(Pause(command_id="p1")).accepted
    again = s.command(Pause(command_id="p1"))
    assert (again.accepted, again.outcome) == (False, "command p1 was already handled")
    assert len(s.of(CommandHandled)) == 2


def test_pause_refuses_entries_until_resume_and_exits_still_pass() -> None:
    rows = [QUIET] * 6
    s = Stepper(rows, {1: [Enter(entry("a"))], 3: [Enter(entry("b"))]})
    s.candle()
    assert s.command(Pause(command_id="p")).outcome == "paused"
    s.candle(2)  # candle 1's entry is refused
    (refused,) = s.of(RiskRejected)
    assert (refused.layer, refused.command.signal_id) == (RiskLayer.ACCOUNT, "a")
    assert refused.reason.startswith("trading is paused by the operator")
    assert s.command(Resume(command_id="r")).outcome == "resumed"
    s.candle(2)  # candle 3's entry is accepted
    assert [e.command.signal_id for e in s.of(EntryAccepted)] == ["b"]


def test_cancel_all_withdraws_working_entries_and_flatten_symbol_closes_a_position() -> None:
    rows = [QUIET, QUIET, (100.0, 100.5, 99.0, 100.2), (101.0, 101.5, 100.5, 101.0), QUIET, QUIET]
    s = Stepper(rows, {0: [Enter(entry("limit-only"))]})  # a limit buy at 100, not touched by candle 1's low
    s.candle()
    assert s.command(CancelAll(command_id="c")).outcome == "1 orders cancelled"
    s.candle(2)  # candle 2 touches 100: nothing is left to fill
    assert s.fills() == []
    manual = ManualOrder(command_id="m1", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                         stop_loss=D("97"), take_profit=(D("110"),))  # fmt: skip
    handled = s.command(manual)
    assert handled.accepted, handled.outcome
    # Sized by the gate at the last close 100.2: 100 at risk over 3.20 a unit is 31.25 units.
    assert [(e.command.entry, e.quantity) for e in s.of(EntryAccepted)][-1] == (D("100.2"), D("31.25"))
    s.candle()  # the manual market order fills at candle 3's open
    assert s.fills() == [("m1:entry", at(3), D("101.0"), D("31.25"))]
    flatten = s.command(FlattenSymbol(command_id="f", symbol=SYMBOL))
    assert flatten.outcome == f"flattening {SYMBOL}, 0 working entries cancelled"
    s.candle()  # at candle 4's open
    assert s.fills()[-1] == (f"flatten:{SYMBOL}:1", at(4), D("100.0"), D("31.25"))
    assert s.system.portfolio.open_positions() == {}
    assert s.system.venue.open_orders() == []  # the bracket's stop and target went with the position


def test_a_manual_order_is_checked_by_the_risk_gate_like_any_entry() -> None:
    s = Stepper([QUIET, QUIET])
    s.candle()
    poor = ManualOrder(command_id="m", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, price=D("100"),
                       stop_loss=D("97"), take_profit=(D("104"),))  # fmt: skip
    handled = s.command(poor)
    assert not handled.accepted
    assert handled.outcome == "denied by the trade layer: reward:risk to TP1 is 1.33, below the minimum 2 on TEST"
    (refused,) = s.of(RiskRejected)
    assert refused.command.signal_id == "m"
    too_big = ManualOrder(command_id="m2", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, price=D("100"),
                          stop_loss=D("97"), take_profit=(D("106"),), quantity=D("50"))  # fmt: skip
    assert "risks more than 1% of equity: at most 33.33" in s.command(too_big).outcome
    unknown = ManualOrder(command_id="m3", symbol="NOPE", side=Side.BUY, type=OrderType.MARKET,
                          stop_loss=D("97"), take_profit=(D("106"),))  # fmt: skip
    assert s.command(unknown).outcome == "unknown symbol 'NOPE'; trading TEST"
    unpriced = ManualOrder(command_id="m4", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                           stop_loss=D("97"), take_profit=(D("106"),))  # fmt: skip
    refused = s.command(unpriced)
    assert (refused.accepted, refused.outcome) == (
        False, "a manual limit order is not supported here: send a market or a priced limit")  # fmt: skip


def test_an_unfilled_entry_expires_by_the_clock() -> None:
    """An entry with ``expire_ms`` is expired by a clock timer at that time, before a later candle can fill it."""
    above = (100.5, 101.0, 100.2, 100.6)  # never down to the limit at 100
    rows = [above, above, above, (100.5, 100.6, 98.0, 99.0)]  # candle 3 would fill it, after its expiry
    s = Stepper(rows, {0: [Enter(entry(expire_ms=at(0) + 2 * M + 30_000))]})
    s.candle(4)
    (expired,) = s.of(OrderExpired)
    assert (expired.event_ms, readable_ids(s.events)[expired.order.client_order_id]) == (at(2) + 30_000, "sig1:entry")
    assert s.fills() == []
    assert s.system.execution.snapshot() == {"": ((),)}  # the bracket is gone with its entry


def test_the_trading_day_rolls_at_midnight_without_a_candle() -> None:
    """A day's entry count resets at each midnight by the clock's timer, though no candle comes for days."""
    monday = candles([QUIET] * 2, "1m", T0).with_meta(symbol=SYMBOL)
    script = Script({0: [Enter(entry("a"))]})
    system = build(Mode.BACKTEST, monday, lambda c: script, settings())
    checkpoints: list[RiskCheckpoint] = []
    system.bus.subscribe(checkpoints.append, RiskCheckpoint)
    system.session.start()
    system.session.replay(system.feed)
    assert system.risk.entries_today == {SYMBOL: 1}
    system.session.clock.advance_to(T0 + 3 * 86_400_000)  # Thursday 10:00, no candle in between
    assert system.risk.entries_today == {}
    rolled = [(c.event_ms, c.day) for c in checkpoints if c.event_ms > at(1)]
    midnight = T0 - 10 * 3_600_000 + 86_400_000  # Tuesday 00:00 UTC
    assert rolled == [(midnight, "2024-03-05"), (midnight + 86_400_000, "2024-03-06"),
                      (midnight + 2 * 86_400_000, "2024-03-07")]  # fmt: skip


async def _paced_run(system: System) -> list[CommandHandled]:
    """Run the session as the agent does, and send it a pause while it runs."""
    session = system.session
    session.start()
    runner = asyncio.create_task(session.run([system.feed]))
    await asyncio.sleep(0.05)
    handled = [await session.send(Pause(command_id="p"))]
    await runner
    session.stop()
    return handled


def test_the_asyncio_session_takes_commands_while_it_runs() -> None:
    rows = [QUIET] * 30
    data = candles(rows, "1m", T0).with_meta(symbol=SYMBOL)
    system = build(Mode.PAPER, data, lambda c: Script({}), settings(), speed=30 * 60 / 0.3)  # 30 minutes in 0.3 s
    seen: list[CandleClosed] = []
    system.bus.subscribe(seen.append, CandleClosed)
    (handled,) = asyncio.run(_paced_run(system))
    assert (handled.accepted, handled.outcome) == (True, "paused")
    assert 0 < handled.event_ms - T0 < 30 * M  # handled between two candles, mid-run
    assert len(seen) == 30
    assert system.risk.paused


def test_a_stop_request_finishes_the_current_candle_and_stops() -> None:
    rows = [QUIET] * 600
    data = candles(rows, "1m", T0).with_meta(symbol=SYMBOL)
    system = build(Mode.PAPER, data, lambda c: Script({}), settings(), speed=600 * 60 / 1.0)  # 600 min in 1 s

    async def run_then_stop() -> None:
        system.session.start()
        runner = asyncio.create_task(system.session.run([system.feed]))
        await asyncio.sleep(0.2)
        system.session.request_stop()
        await asyncio.wait_for(runner, 2)

    asyncio.run(run_then_stop())
    assert 0 < system.session.candles < 600


def test_the_log_has_one_line_per_change_of_state() -> None:
    """A session with a kill and a reset logs its start and stop, two state changes and two commands:
    nothing per candle."""
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    try:
        s = Stepper([QUIET] * 20)
        s.candle(5)
        s.command(Kill(command_id="k", flatten=False))
        s.candle(5)
        s.command(Reset(command_id="r"))
        s.candle(10)
        s.session.stop()
    finally:
        configure_logging("warning")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["event"], line.get("new"), line.get("command")) for line in lines] == [
        ("session started", None, None),
        ("trading state changed", "halted", None),
        ("operator command", None, "Kill"),
        ("trading state changed", "active", None),
        ("operator command", None, "Reset"),
        ("session stopped", None, None),
    ]


def test_a_heartbeat_beats_on_clock_time_while_no_candle_comes() -> None:
    """A heartbeat of 30 s beats through a quiet session as its clock advances, and stops when cancelled."""
    s = Stepper([QUIET] * 3)
    beats: list[int] = []
    timer = s.session.heartbeat(30_000, beats.append)
    s.candle(2)
    assert beats == [T0 + k * 30_000 for k in range(1, 5)]  # 10:00:30 ... 10:02:00, by candle 1's close
    timer.cancel()
    s.candle()
    assert len(beats) == 4


def test_a_venue_report_is_stepped_by_the_running_session_without_waiting() -> None:
    """``report`` only queues: the running session publishes the event (stamped, journaled with its step)
    before the next candle, whose close is still far off on the clock."""
    from smc_agent.events import OrderRejected
    from smc_agent.model.orders import Order, OrderStatus

    data = candles([QUIET] * 30, "1m", T0).with_meta(symbol=SYMBOL)
    system = build(Mode.PAPER, data, lambda c: Script({}), settings(), speed=60 / 5.0)  # a candle every 5 s
    seen: list[Any] = []
    system.bus.subscribe(seen.append)
    order = Order("x1", SYMBOL, Side.BUY, OrderType.LIMIT, D("1"), price=D("99"))
    report = OrderRejected(event_ms=T0, known_ms=T0, order=order.to(OrderStatus.REJECTED), reason="by the exchange")

    async def main() -> None:
        system.session.start()
        runner = asyncio.create_task(system.session.run([system.feed], exit_when_done=False))
        await asyncio.sleep(0.05)
        assert system.session.report(report) is None  # type: ignore[func-returns-value]
        await asyncio.wait_for(_until(lambda: any(isinstance(e, OrderRejected) for e in seen)), 2)
        system.session.request_stop()
        await asyncio.wait_for(runner, 2)

    asyncio.run(main())
    (published,) = [e for e in seen if isinstance(e, OrderRejected)]
    assert (published.reason, published.order.client_order_id) == ("by the exchange", "x1")
    assert published.seq > 0
    assert not [e for e in seen if isinstance(e, CandleClosed)]  # it did not wait for a candle


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.01)


def test_reports_that_arrive_after_the_run_are_stepped_when_settled() -> None:
    """A venue's answer to a request in flight at the stop is queued after the run ended; ``settle_reports``
    steps it (published, stamped), so the journal holds what the exchange said before the session stops."""
    from smc_agent.events import OrderRejected
    from smc_agent.model.orders import Order, OrderStatus

    data = candles([QUIET] * 3, "1m", T0).with_meta(symbol=SYMBOL)
    system = build(Mode.PAPER, data, lambda c: Script({}), settings())
    seen: list[Any] = []
    system.bus.subscribe(seen.append)
    order = Order("x2", SYMBOL, Side.BUY, OrderType.LIMIT, D("1"), price=D("99"))
    late = OrderRejected(event_ms=T0, known_ms=T0, order=order.to(OrderStatus.REJECTED), reason="by the exchange")
    system.session.start()
    asyncio.run(system.session.run([system.feed]))
    system.session.report(late)
    assert not [e for e in seen if isinstance(e, OrderRejected)]  # only queued: nothing runs the session now
    assert system.session.settle_reports() == 1
    assert system.session.settle_reports() == 0
    (published,) = [e for e in seen if isinstance(e, OrderRejected)]
    assert published.order.client_order_id == "x2"
    assert published.seq > 0


@pytest.mark.parametrize("yield_every", [None, 1, 3])
def test_a_full_speed_run_lets_other_tasks_run_every_yield_every_candles(yield_every: int | None) -> None:
    """What the served API needs: with ``yield_every``, a task woken by each candle runs before the next
    ``yield_every`` are stepped; without it, a full-speed replay keeps the loop."""
    rows = [QUIET] * 300
    data = candles(rows, "1m", T0).with_meta(symbol=SYMBOL)
    system = build(Mode.PAPER, data, lambda c: Script({}), settings(), speed=float("inf"))
    system.session.yield_every = yield_every
    woken = asyncio.Event()
    system.bus.subscribe(lambda _: woken.set(), CandleClosed)
    seen: list[int] = []  # the session's candle count each time the watcher ran

    async def watch() -> None:
        while True:
            await woken.wait()
            woken.clear()
            seen.append(system.session.candles)

    async def main() -> None:
        system.session.start()
        watcher = asyncio.create_task(watch())
        await system.session.run([system.feed])
        watcher.cancel()

    asyncio.run(main())
    assert system.session.candles == 300
    if yield_every is None:
        assert len(seen) <= 3  # the feed's queue is drained without a turn of the loop, 300 candles in a few
    else:
        assert seen[0] <= yield_every
        assert {b - a for a, b in itertools.pairwise(seen)} == {yield_every}
