"""The trading kernel end to end on hand-built candles: exact fills, fees, balances and risk decisions.

Every scenario runs through :func:`smc_agent.bootstrap.build` in backtest mode with a scripted
strategy (a test double of the strategy port only: it plays planned commands at given candle
indices). Everything else is the real core: kernel, risk gate, execution, simulated venue, portfolio.

The numbers, worked out by hand from the documented rules:

* equity 10,000 and ``risk_per_trade`` 1% put 100 at risk; a long at 100.00 with its stop at 97.00
  risks 3.00 a unit, so 100 / 3 = 33.333... units, rounded *down* to the 0.01 lot: **33.33**;
* TP1 takes half, rounded down to the lot: 16.665 -> **16.66**; TP2 the rest: **16.67**;
* fees are bps of the notional: maker 2 (limits), taker 5 (markets and stops); slippage is 0;
* candle ``i`` opens at ``T0 + i`` minutes and closes (and is processed) at ``at(i) = T0 + i + 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from scenario import candles
from scripted import SYMBOL, Script, readable_ids

from smc_agent.backtest.runner import run_backtest
from smc_agent.bootstrap import UNNAMED, EngineSettings, Mode, System, build
from smc_agent.data.candles import Candles
from smc_agent.engine.risk import OrderCommand, RiskConfig
from smc_agent.events import (
    BalanceChanged,
    CandleClosed,
    EntryAccepted,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
    PositionChanged,
    RiskCheckpoint,
    RiskRejected,
    SessionStarted,
    SessionStopped,
    TradingStateChanged,
)
from smc_agent.model.enums import Side
from smc_agent.model.orders import OrderStatus, OrderType
from smc_agent.strategy.base import CancelEntry, Command, Enter, Flatten
from smc_agent.venues.costs import FeeModel

D = Decimal
M = 60_000
BUY, SELL = Side.BUY, Side.SELL


def _ms(day: int, hour: int, minute: int) -> int:
    return int(datetime(2024, 3, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


T0 = _ms(4, 10, 0)  # Monday 2024-03-04 10:00 UTC


def at(i: int, start: int = T0) -> int:
    """The close time of candle ``i``: when it is processed, and when its fills happen."""
    return start + (i + 1) * M


def engine_settings(risk: RiskConfig | None = None, slippage_bps: str = "0") -> EngineSettings:
    return EngineSettings(
        initial_balance=D("10000"),
        # These scenarios check the kernel's mechanics on round sizes; sizing with costs has its own
        # scenarios (test_cost_sizing.py).
        risk=risk or RiskConfig(count_costs=False),
        instrument_type="crypto_perp",  # leveraged up to 5x, so a 4% risk over a 3% stop fits
        fees=FeeModel(D("2"), D("5")),
        slippage_bps=D(slippage_bps),
        tick_size=D("0.01"),
        lot_size=D("0.01"),
    )


def command(
    signal_id: str = "sig1",
    side: Side = BUY,
    entry: str = "100",
    stop: str = "97",
    targets: Sequence[str] = ("106", "109"),
) -> OrderCommand:
    return OrderCommand(SYMBOL, side, D(entry), D(stop), tuple(D(t) for t in targets), signal_id, "test")


@dataclass
class Run:
    system: System
    events: list[Any]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def name(self, order_id: str) -> str:
        return readable_ids(self.events).get(order_id, order_id)

    def fills(self) -> list[tuple[str, int, Decimal, Decimal, Decimal, bool]]:
        """(order id, time, price, quantity, fee, maker) of every fill, in order."""
        name = readable_ids(self.events).get
        return [
            (name(e.order.client_order_id, ""), e.event_ms, e.price, e.quantity, e.fee, e.maker)
            for e in self.of(OrderFilled)
        ]

    def accepted(self) -> list[tuple[str, OrderType, Side, Decimal, Decimal | None, Decimal | None]]:
        """(order id, type, side, quantity, limit price, trigger) of every order the venue accepted."""
        name = readable_ids(self.events).get
        return [
            (name(e.order.client_order_id, ""), e.order.type, e.order.side, e.order.quantity, e.order.price,
             e.order.trigger)
            for e in self.of(OrderAccepted)
        ]  # fmt: skip

    def cancels(self) -> list[tuple[str, int, str]]:
        name = readable_ids(self.events).get
        return [(name(e.order.client_order_id, ""), e.event_ms, e.reason) for e in self.of(OrderCancelled)]

    def states(self) -> list[tuple[int, str, str]]:
        return [(e.event_ms, e.old, e.new) for e in self.of(TradingStateChanged)]

    def rejections(self) -> list[tuple[int, str, str]]:
        return [(e.event_ms, e.layer, e.command.signal_id) for e in self.of(RiskRejected)]

    def submitted_ids(self) -> list[str]:
        name = readable_ids(self.events).get
        return [name(e.order.client_order_id, "") for e in self.of(OrderSubmitted)]


def run(
    rows: Sequence[tuple[float, float, float, float]],
    plan: Mapping[int, Sequence[Command]],
    settings: EngineSettings | None = None,
    start: int = T0,
) -> Run:
    """Build a backtest system on the candles and the plan, record every published event, run it."""
    data = candles(rows, "1m", start).with_meta(symbol=SYMBOL)
    script = Script(plan)
    system = build(Mode.BACKTEST, data, lambda candles: script, settings or engine_settings())
    events: list[Any] = []
    system.bus.subscribe(events.append)
    system.run()
    return Run(system, events)


# Candles shared by the bracket scenarios: a limit buy at 100 placed at the close of candle 0 (whose
# low already went to 99.80), not touched by candle 1 (low 100.10), filled by candle 2 (low 99.90).
UNTIL_ENTRY = [
    (100.5, 101.0, 99.8, 100.8),
    (100.8, 101.2, 100.1, 100.6),
    (100.6, 100.9, 99.9, 100.2),
]
ENTRY_FEE = D("0.6666")  # 100.00 x 33.33 x 2 bp
AFTER_ENTRY = D("9999.3334")  # 10000 - 0.6666


def test_limit_entry_tp1_breakeven_tp2_exact_fills_fees_and_balance() -> None:
    """A limit long fills on the first later candle that touches it, banks TP1, moves to breakeven, exits at TP2."""
    rows = [
        *UNTIL_ENTRY,
        (100.2, 106.2, 100.1, 105.5),  # 3: TP1 106 touched; the low stays above the new stop at 100
        (105.5, 109.5, 105.0, 109.0),  # 4: TP2 109 touched
        (109.0, 109.5, 108.5, 109.2),
    ]
    r = run(rows, {0: [Enter(command())]})

    strategy = r.system.kernel.strategy(SYMBOL)
    assert isinstance(strategy, Script)
    assert strategy.started
    assert r.fills() == [
        ("sig1:entry", at(2), D("100.00"), D("33.33"), ENTRY_FEE, True),
        ("sig1:tp1", at(3), D("106.00"), D("16.66"), D("0.353192"), True),  # 106 x 16.66 x 2 bp
        ("sig1:tp2", at(4), D("109.00"), D("16.67"), D("0.363406"), True),  # 109 x 16.67 x 2 bp
    ]
    assert r.accepted() == [
        ("sig1:entry", OrderType.LIMIT, BUY, D("33.33"), D("100.00"), None),
        ("sig1:stop1", OrderType.STOP, SELL, D("33.33"), None, D("97.00")),
        ("sig1:tp1", OrderType.LIMIT, SELL, D("16.66"), D("106.00"), None),
        ("sig1:tp2", OrderType.LIMIT, SELL, D("16.67"), D("109.00"), None),
        ("sig1:stop2", OrderType.STOP, SELL, D("16.67"), None, D("100.00")),  # breakeven for the rest
    ]
    assert r.cancels() == [("sig1:stop1", at(3), "moved to breakeven"), ("sig1:stop2", at(4), "position closed")]
    assert [(e.side, e.quantity, e.average_price, e.realized) for e in r.of(PositionChanged)] == [
        (BUY, D("33.33"), D("100"), D("0")),
        (BUY, D("16.67"), D("100"), D("99.96")),  # (106 - 100) x 16.66
        (None, D("0"), D("0"), D("150.03")),  # (109 - 100) x 16.67
    ]
    assert [(e.event_ms, e.balance, e.change) for e in r.of(BalanceChanged)] == [
        (at(2), AFTER_ENTRY, -ENTRY_FEE),
        (at(3), D("10098.940208"), D("99.606808")),  # + 99.96 - 0.353192
        (at(4), D("10248.606802"), D("149.666594")),  # + 150.03 - 0.363406
    ]
    portfolio = r.system.portfolio
    assert portfolio.balance == portfolio.equity() == D("10248.606802")
    assert portfolio.fees_paid == D("1.383198")
    assert portfolio.open_positions() == {}
    assert r.of(RiskRejected) == []
    assert r.of(OrderRejected) == []


def test_limit_entry_trade_record_and_equity_curve_are_exact() -> None:
    """The same round trip as a Trade: net P&L 248.606802 on a risk of 99.99; equity marked at each close."""
    rows = [*UNTIL_ENTRY, (100.2, 106.2, 100.1, 105.5), (105.5, 109.5, 105.0, 109.0), (109.0, 109.5, 108.5, 109.2)]
    data = candles(rows, "1m", T0).with_meta(symbol=SYMBOL)
    result = run_backtest(data, Script({0: [Enter(command())]}), engine_settings())

    (trade,) = result.trades
    assert (trade.id, trade.symbol, trade.side, trade.setup) == ("sig1", SYMBOL, BUY, "test")
    assert (trade.entry_ms, trade.exit_ms) == (at(2), at(4))
    assert trade.entry_price == D("100")
    assert trade.exit_price == D("3582.99") / D("33.33")  # (106 x 16.66 + 109 x 16.67) / 33.33
    assert trade.quantity == D("33.33")
    assert trade.fees == D("1.383198")
    assert trade.pnl == D("248.606802")  # 99.96 + 150.03 - 1.383198
    assert trade.risk == D("99.99")  # (100 - 97) x 33.33
    assert trade.r_multiple == D("248.606802") / D("99.99")
    assert (trade.stop_distance, trade.planned_rr) == (D("3"), D("2"))
    assert [(p.time_ms, p.equity) for p in result.equity] == [
        (T0, D("10000")),  # the initial balance at the first candle's open, then one point per close
        (at(0), D("10000")),
        (at(1), D("10000")),
        (at(2), D("10005.9994")),  # 9999.3334 + (100.2 - 100) x 33.33
        (at(3), D("10190.625208")),  # 10098.940208 + (105.5 - 100) x 16.67
        (at(4), D("10248.606802")),
        (at(5), D("10248.606802")),
    ]
    assert result.rejections == []


def test_short_limit_entry_tp1_then_breakeven_stop_out() -> None:
    """The mirror for a short: a sell limit fills when the high reaches it; after TP1 the rest stops at entry."""
    rows = [
        (99.5, 100.2, 99.0, 99.2),
        (99.2, 99.9, 98.8, 99.4),  # 1: high 99.90 does not reach 100
        (99.4, 100.1, 99.3, 99.8),  # 2: high 100.10 fills the sell at 100
        (99.8, 99.9, 93.8, 94.5),  # 3: TP1 94 touched; the high stays below the breakeven stop at 100
        (94.5, 100.5, 94.2, 100.2),  # 4: the breakeven stop at 100 is hit; TP2 91 never was
    ]
    short = command(side=SELL, entry="100", stop="103", targets=("94", "91"))
    r = run(rows, {0: [Enter(short)]})

    assert r.fills() == [
        ("sig1:entry", at(2), D("100"), D("33.33"), ENTRY_FEE, True),
        ("sig1:tp1", at(3), D("94"), D("16.66"), D("0.313208"), True),  # 94 x 16.66 x 2 bp
        ("sig1:stop2", at(4), D("100"), D("16.67"), D("0.8335"), False),  # 100 x 16.67 x 5 bp
    ]
    assert r.accepted()[1:] == [
        ("sig1:stop1", OrderType.STOP, BUY, D("33.33"), None, D("103.00")),
        ("sig1:tp1", OrderType.LIMIT, BUY, D("16.66"), D("94.00"), None),
        ("sig1:tp2", OrderType.LIMIT, BUY, D("16.67"), D("91.00"), None),
        ("sig1:stop2", OrderType.STOP, BUY, D("16.67"), None, D("100.00")),
    ]
    assert r.cancels() == [("sig1:stop1", at(3), "moved to breakeven"), ("sig1:tp2", at(4), "position closed")]
    assert [e.realized for e in r.of(PositionChanged)] == [D("0"), D("99.96"), D("0")]  # (100 - 94) x 16.66
    # 10000 - 0.6666 + 99.96 - 0.313208 - 0.8335
    assert r.system.portfolio.balance == D("10098.146692")


def test_candle_touching_stop_and_tp1_fills_the_stop_first() -> None:
    """One candle reaching both the stop and TP1 stops out: the venue cannot know the order, so it is pessimistic.

    The venue's rule 4: inside a candle's range, stops fill before limits; the take-profits are then
    cancelled because the position is gone. (Only lower-timeframe data could say which came first.)
    """
    rows = [*UNTIL_ENTRY, (100.2, 106.5, 96.5, 101.0), (101.0, 107.0, 100.5, 106.8)]
    r = run(rows, {0: [Enter(command())]})

    assert r.fills() == [
        ("sig1:entry", at(2), D("100"), D("33.33"), ENTRY_FEE, True),
        ("sig1:stop1", at(3), D("97"), D("33.33"), D("1.616505"), False),  # 97 x 33.33 x 5 bp
    ]
    assert r.cancels() == [("sig1:tp1", at(3), "position closed"), ("sig1:tp2", at(3), "position closed")]
    assert r.of(PositionChanged)[-1].realized == D("-99.99")  # (97 - 100) x 33.33
    assert r.system.portfolio.balance == D("9897.726895")  # 9999.3334 - 99.99 - 1.616505
    assert r.system.portfolio.open_positions() == {}


def test_candle_opening_through_tp1_banks_it_first_then_the_breakeven_stop_fills() -> None:
    """A candle that opens above TP1 fills it at the open (it did come first); its fall then hits the breakeven stop."""
    rows = [*UNTIL_ENTRY, (106.5, 107.0, 96.5, 98.0)]
    r = run(rows, {0: [Enter(command())]})

    assert r.fills()[1:] == [
        ("sig1:tp1", at(3), D("106.5"), D("16.66"), D("0.354858"), True),  # 106.5 x 16.66 x 2 bp
        ("sig1:stop2", at(3), D("100"), D("16.67"), D("0.8335"), False),  # breakeven, 100 x 16.67 x 5 bp
    ]
    assert r.cancels() == [("sig1:stop1", at(3), "moved to breakeven"), ("sig1:tp2", at(3), "position closed")]
    assert [e.realized for e in r.of(PositionChanged)] == [D("0"), D("108.29"), D("0")]  # 6.5 x 16.66
    assert r.system.portfolio.balance == D("10106.435042")  # 9999.3334 + 108.29 - 0.354858 - 0.8335


def test_gap_through_the_stop_fills_at_the_open() -> None:
    """A candle that opens below a sell stop fills it at the open, not at the trigger: the loss exceeds 1R."""
    rows = [*UNTIL_ENTRY, (95.0, 96.0, 94.0, 95.5)]
    data = candles(rows, "1m", T0).with_meta(symbol=SYMBOL)
    plan = {0: [Enter(command())]}
    r = run(rows, plan)

    assert r.fills()[1] == ("sig1:stop1", at(3), D("95"), D("33.33"), D("1.583175"), False)  # 95 x 33.33 x 5 bp
    assert r.of(OrderFilled)[1].slippage == 0  # the open is the reference price; no slippage configured
    assert r.of(PositionChanged)[-1].realized == D("-166.65")  # (95 - 100) x 33.33
    assert r.system.portfolio.balance == D("9831.100225")  # 9999.3334 - 166.65 - 1.583175
    (trade,) = run_backtest(data, Script(plan), engine_settings()).trades
    assert trade.pnl == D("-168.899775")  # -166.65 - 0.6666 - 1.583175
    assert trade.r_multiple == D("-168.899775") / D("99.99")


def test_limit_entry_opened_through_fills_at_the_better_open() -> None:
    """A candle that opens below a buy limit fills it at the open; the trade's risk is measured from that fill."""
    rows = [UNTIL_ENTRY[0], UNTIL_ENTRY[1], (99.0, 99.8, 98.5, 99.5), (99.5, 106.0, 99.4, 105.0)]
    data = candles(rows, "1m", T0).with_meta(symbol=SYMBOL)
    plan = {0: [Enter(command(targets=("106",)))]}
    r = run(rows, plan)

    assert r.fills() == [
        ("sig1:entry", at(2), D("99"), D("33.33"), D("0.659934"), True),  # 99 x 33.33 x 2 bp
        ("sig1:tp1", at(3), D("106"), D("33.33"), D("0.706596"), True),  # 106 x 33.33 x 2 bp
    ]
    (trade,) = run_backtest(data, Script(plan), engine_settings()).trades
    assert trade.risk == D("66.66")  # (99 - 97) x 33.33
    assert trade.pnl == D("231.94347")  # 7 x 33.33 - 0.659934 - 0.706596


def test_market_entry_fills_at_the_next_open() -> None:
    """``Enter(market=True)`` at a close fills at the next candle's open, taker fee; one target takes it all."""
    rows = [
        (100.0, 100.5, 99.5, 100.0),
        (100.37, 101.0, 100.2, 100.9),  # 1: the market buy fills at this open
        (100.9, 106.3, 100.5, 106.0),  # 2: TP 106
    ]
    r = run(rows, {0: [Enter(command(targets=("106",)), market=True)]})

    assert r.fills() == [
        ("sig1:entry", at(1), D("100.37"), D("33.33"), D("1.67266605"), False),  # 100.37 x 33.33 x 5 bp
        ("sig1:tp1", at(2), D("106"), D("33.33"), D("0.706596"), True),
    ]
    assert r.accepted()[0] == ("sig1:entry", OrderType.MARKET, BUY, D("33.33"), None, None)
    assert [oid for oid, _, _ in r.cancels()] == ["sig1:stop1"]  # once, and nothing is left resting
    assert r.system.venue.open_orders() == []
    assert r.of(PositionChanged)[-1].realized == D("187.6479")  # (106 - 100.37) x 33.33
    # 10000 - 1.67266605 + 187.6479 - 0.706596
    assert r.system.portfolio.balance == D("10185.26863795")


def test_market_entry_slippage_is_against_the_trader_and_rounded_to_the_tick() -> None:
    """10 bp of slippage on a market buy at 100.37: 100.47037, rounded up to the tick, 100.48."""
    rows = [(100.0, 100.5, 99.5, 100.0), (100.37, 101.0, 100.2, 100.9)]
    r = run(rows, {0: [Enter(command(), market=True)]}, engine_settings(slippage_bps="10"))

    (fill,) = r.of(OrderFilled)
    assert (fill.price, fill.quantity, fill.slippage) == (D("100.48"), D("33.33"), D("0.11"))
    assert fill.fee == D("1.6744992")  # 100.48 x 33.33 x 5 bp


def test_market_entry_candle_falling_through_the_stop_stops_out_in_that_candle() -> None:
    """The stop placed when an entry fills is checked against the rest of that candle (pessimistic)."""
    rows = [(100.0, 100.5, 99.5, 100.0), (100.37, 100.5, 96.8, 97.5)]
    r = run(rows, {0: [Enter(command(), market=True)]})

    assert r.fills() == [
        ("sig1:entry", at(1), D("100.37"), D("33.33"), D("1.67266605"), False),
        ("sig1:stop1", at(1), D("97"), D("33.33"), D("1.616505"), False),
    ]
    assert r.of(PositionChanged)[-1].realized == D("-112.3221")  # (97 - 100.37) x 33.33
    assert {oid for oid, _, reason in r.cancels() if reason == "position closed"} == {"sig1:tp1", "sig1:tp2"}


def test_market_entry_gapping_below_the_stop_is_stopped_at_the_entry_price() -> None:
    """A market buy filled at an open already below its stop is stopped at that fill price, not at the trigger."""
    rows = [(100.0, 100.5, 99.5, 100.0), (96.5, 97.5, 96.0, 96.8)]
    r = run(rows, {0: [Enter(command(), market=True)]})

    fee = D("1.6081725")  # 96.5 x 33.33 x 5 bp
    assert r.fills() == [
        ("sig1:entry", at(1), D("96.5"), D("33.33"), fee, False),
        ("sig1:stop1", at(1), D("96.5"), D("33.33"), fee, False),
    ]
    assert r.system.portfolio.balance == D("10000") - 2 * fee


def test_stop_off_the_tick_is_rounded_away_before_sizing_so_a_stop_out_stays_within_budget() -> None:
    """A stop at 96.995 rests at 96.99: the size is 100 / 3.01 = 33.22, and the stop-out loses 99.9922 <= 100."""
    rows = [UNTIL_ENTRY[0], UNTIL_ENTRY[1], UNTIL_ENTRY[2], (100.2, 100.4, 96.5, 97.0)]
    r = run(rows, {0: [Enter(command(stop="96.995", targets=("106.02",)))]})  # RR (106.02 - 100) / 3.01 = 2

    assert [e.command.stop for e in r.of(EntryAccepted)] == [D("96.99")]
    assert r.fills() == [
        ("sig1:entry", at(2), D("100"), D("33.22"), D("0.6644"), True),  # 100 x 33.22 x 2 bp
        ("sig1:stop1", at(3), D("96.99"), D("33.22"), D("1.6110039"), False),  # 96.99 x 33.22 x 5 bp
    ]
    assert r.of(PositionChanged)[-1].realized == D("-99.9922")  # (96.99 - 100) x 33.22


def test_limits_placed_by_an_entry_fill_start_from_the_next_candle() -> None:
    """TP1 placed when the entry fills is not filled by the same candle's high; the next candle fills it."""
    rows = [UNTIL_ENTRY[0], UNTIL_ENTRY[1], (100.6, 106.5, 99.9, 105.0), (105.0, 106.1, 104.0, 105.5)]
    r = run(rows, {0: [Enter(command(targets=("106",)))]})

    assert [(oid, t) for oid, t, *_ in r.fills()] == [("sig1:entry", at(2)), ("sig1:tp1", at(3))]


def test_cancel_entry_withdraws_an_unfilled_entry() -> None:
    """``CancelEntry`` cancels the resting entry (OrderCancelled with the reason); a later touch fills nothing."""
    rows = [UNTIL_ENTRY[0], UNTIL_ENTRY[1], (100.6, 100.9, 99.0, 99.5), (99.5, 99.8, 98.0, 98.5)]
    plan = {0: [Enter(command())], 1: [CancelEntry("sig1", "signal expired")], 2: [CancelEntry("sig1", "again")]}
    r = run(rows, plan)

    (cancelled,) = r.of(OrderCancelled)  # the second CancelEntry finds nothing active: no event
    assert (r.name(cancelled.order.client_order_id), cancelled.event_ms, cancelled.reason) == (
        "sig1:entry",
        at(1),
        "signal expired",
    )
    assert cancelled.order.status is OrderStatus.CANCELLED
    assert r.of(OrderFilled) == []
    assert r.of(PositionChanged) == []
    assert r.system.portfolio.balance == D("10000")
    assert r.system.portfolio.open_positions() == {}
    assert r.system.venue.open_orders() == []


def test_flatten_closes_at_the_next_open_and_the_venue_cancels_the_bracket() -> None:
    """``Flatten`` sells the whole position at the next open; the stop and both TPs are cancelled, none fills."""
    rows = [
        *UNTIL_ENTRY,
        (100.2, 102.8, 100.1, 102.5),  # 3: Flatten at this close
        (102.5, 106.5, 102.0, 104.0),  # 4: sold at the open 102.5; TP1 106 was cancelled before the high
        (104.0, 104.5, 103.0, 103.5),
    ]
    r = run(rows, {0: [Enter(command())], 3: [Flatten(SYMBOL, "done")], 4: [Flatten(SYMBOL, "flat already")]})

    assert r.fills() == [
        ("sig1:entry", at(2), D("100"), D("33.33"), ENTRY_FEE, True),
        ("flatten:TEST:1", at(4), D("102.5"), D("33.33"), D("1.7081625"), False),  # 102.5 x 33.33 x 5 bp
    ]
    flatten = r.of(OrderFilled)[1].order
    assert (flatten.type, flatten.side, flatten.reduce_only, flatten.tag) == (OrderType.MARKET, SELL, True, "flatten")
    assert r.cancels() == [
        ("sig1:stop1", at(4), "position closed"),
        ("sig1:tp1", at(4), "position closed"),
        ("sig1:tp2", at(4), "position closed"),
    ]
    assert r.submitted_ids().count("flatten:TEST:1") == 1
    assert not any(oid.startswith("flatten:TEST:2") for oid in r.submitted_ids())  # flat: nothing to send
    assert r.of(PositionChanged)[-1].realized == D("83.325")  # (102.5 - 100) x 33.33
    assert r.system.portfolio.balance == D("10080.9502375")  # 9999.3334 + 83.325 - 1.7081625


def test_risk_gate_refusal_for_reward_risk_below_two_reaches_nothing() -> None:
    """An entry with RR 5/3 < 2 is refused at the trade layer: RiskRejected only, no order, account untouched."""
    rows = [UNTIL_ENTRY[0], (100.8, 101.0, 99.0, 99.5), (99.5, 105.5, 99.0, 105.0)]
    refused = command(targets=("105",))
    r = run(rows, {0: [Enter(refused)]})

    (rejected,) = r.of(RiskRejected)
    assert (rejected.event_ms, rejected.symbol, rejected.layer, rejected.command) == (at(0), SYMBOL, "trade", refused)
    assert "reward:risk to TP1 is 1.66" in rejected.reason  # 5 / 3, shown rounded down
    assert "below the minimum 2" in rejected.reason
    assert [type(e) for e in r.events if not isinstance(e, CandleClosed | RiskCheckpoint)] == [
        SessionStarted, RiskRejected, SessionStopped,
    ]  # fmt: skip
    assert r.of(EntryAccepted) == []
    assert r.system.portfolio.balance == D("10000")
    assert r.system.portfolio.positions == {}


def test_third_entry_of_the_day_is_refused_and_the_next_day_allows_it() -> None:
    """Two entries a day per symbol (default): the third is refused at the symbol layer until midnight UTC."""
    start = _ms(4, 23, 56)  # candle 3 closes at 2024-03-05 00:00 UTC, the next trading day
    rows = [(100.0, 100.5, 99.5, 100.0)] * 5  # never near the entries at 90
    plan = {i: [Enter(command(f"s{i}", entry="90", stop="87", targets=("96",)))] for i in range(4)}
    r = run(rows, plan, start=start)

    assert r.rejections() == [(at(2, start), "symbol", "s2")]
    assert "2 trades already today on TEST (max 2)" in r.of(RiskRejected)[0].reason
    assert r.submitted_ids() == ["s0:entry", "s1:entry", "s3:entry"]
    assert [e.command.signal_id for e in r.of(EntryAccepted)] == ["s0", "s1", "s3"]
    assert r.system.portfolio.balance == D("10000")


def test_losing_trade_starts_a_sixty_minute_cooldown_on_the_symbol() -> None:
    """After a stop-out, entries on the symbol are refused (symbol layer) until exactly 60 minutes later."""
    quiet = (97.0, 97.5, 96.8, 97.2)
    rows = [*UNTIL_ENTRY, (100.2, 100.4, 96.5, 97.0), *[quiet] * 60]  # candle 3 stops out at 97
    far = {"entry": "90", "stop": "87", "targets": ("96",)}
    plan = {
        0: [Enter(command())],
        4: [Enter(command("sig2", **far))],  # 1 minute after the loss
        62: [Enter(command("sig3", **far))],  # 59 minutes after
        63: [Enter(command("sig4", **far))],  # 60 minutes after: allowed again
    }
    r = run(rows, plan)

    assert r.fills()[-1][:2] == ("sig1:stop1", at(3))
    assert r.rejections() == [(at(4), "symbol", "sig2"), (at(62), "symbol", "sig3")]
    assert all("closed at a loss" in e.reason for e in r.of(RiskRejected))
    assert r.submitted_ids()[-1] == "sig4:entry"


def test_daily_loss_limit_through_a_losing_position_refuses_entries_but_not_exits() -> None:
    """An open loss below 97% of the day's start sets REDUCING once; entries are refused (day), Flatten passes.

    4% risk: 400 / 3 = 133.33 units bought at 100 (fee 2.6666). At the close 97.5 the equity is
    10000 - 2.6666 - 2.5 x 133.33 = 9664.0084 <= 9700, so the gate turns REDUCING at that close, with
    no command to check (the kernel shows it the equity after every candle); midnight UTC brings a new
    trading day and ACTIVE again.
    """
    start = _ms(4, 23, 50)  # candle 9 closes at 2024-03-05 00:00 UTC
    risk = RiskConfig(risk_per_trade=D("0.04"), loss_cooldown_minutes=0, max_trades_per_day=10, count_costs=False)
    rows = [
        (100.5, 100.8, 99.8, 100.6),
        (100.5, 100.8, 99.9, 100.0),  # 1: entry filled at 100
        (100.0, 100.1, 97.2, 97.5),  # 2: above the stop at 97, but 3.4% down on the day
        (97.5, 97.8, 97.3, 97.7),  # 3: an entry (refused) and Flatten
        (97.6, 97.9, 97.3, 97.8),  # 4: flattened at the open 97.6
        *[(97.8, 98.0, 97.5, 97.9)] * 5,  # 5 to 9
    ]
    plan = {
        0: [Enter(command())],
        3: [Enter(command("sig2", entry="95", stop="92", targets=("101",))), Flatten(SYMBOL, "cut the loss")],
        5: [Enter(command("sig3", entry="95", stop="92", targets=("101",)))],
        9: [Enter(command("sig4", entry="95", stop="92", targets=("101",)))],
    }
    r = run(rows, plan, engine_settings(risk), start)

    assert r.states() == [(at(2, start), "active", "reducing"), (at(9, start), "reducing", "active")]
    assert r.of(TradingStateChanged)[0].reason.startswith("daily loss limit:")
    assert r.rejections() == [(at(3, start), "day", "sig2"), (at(5, start), "day", "sig3")]
    assert r.fills() == [
        ("sig1:entry", at(1, start), D("100"), D("133.33"), D("2.6666"), True),
        ("flatten:TEST:1", at(4, start), D("97.6"), D("133.33"), D("6.506504"), False),  # 97.6 x 133.33 x 5 bp
    ]
    assert r.submitted_ids()[-1] == "sig4:entry"
    assert "sig2:entry" not in r.submitted_ids()
    assert "sig3:entry" not in r.submitted_ids()
    # 10000 - 2.6666 - 2.4 x 133.33 - 6.506504
    assert r.system.portfolio.balance == D("9670.834896")


def test_drawdown_kill_switch_through_real_losses_halts_entries_but_not_exits() -> None:
    """A stop-out and an open loss take equity to 94.8% of the peak: HALTED once; entries refused, Flatten passes.

    3% risk, max drawdown 5% (floor 9500). Trade A: 100 units at 100, stopped at 97:
    10000 - 2 - 300 - 4.85 = 9693.15. Trade B: 0.03 x 9693.15 / 3 = 96.9315 -> 96.93 units at 97
    (fee 1.880442); at the close 94.8 the equity is 9691.269558 - 2.2 x 96.93 = 9478.023558 <= 9500.
    """
    risk = RiskConfig(
        risk_per_trade=D("0.03"),
        max_drawdown=D("0.05"),
        daily_loss_limit=D("0.5"),
        loss_cooldown_minutes=0,
        max_trades_per_day=10,
        count_costs=False,
    )
    rows = [
        (100.5, 100.8, 99.8, 100.6),
        (100.5, 100.8, 99.9, 100.2),  # 1: A filled at 100
        (100.2, 100.3, 96.8, 97.2),  # 2: A stopped at 97
        (97.2, 97.5, 96.9, 97.1),  # 3: B filled at 97
        (97.1, 97.2, 94.6, 94.8),  # 4: B's stop at 94 not reached; equity below the floor, no command
        (94.8, 95.0, 94.5, 94.9),  # 5: an entry (refused) and Flatten
        (95.0, 95.3, 94.7, 95.1),  # 6: B flattened at the open 95
        (95.1, 95.4, 94.9, 95.2),  # 7: another entry (refused)
    ]
    plan = {
        0: [Enter(command("A"))],
        2: [Enter(command("B", entry="97", stop="94", targets=("103",)))],
        5: [Enter(command("C", entry="94", stop="91", targets=("100",))), Flatten(SYMBOL, "kill")],
        7: [Enter(command("D", entry="94", stop="91", targets=("100",)))],
    }
    r = run(rows, plan, engine_settings(risk))

    assert r.states() == [(at(4), "active", "halted")]
    assert r.of(TradingStateChanged)[0].reason.startswith("max drawdown:")
    assert r.rejections() == [(at(5), "account", "C"), (at(7), "account", "D")]
    assert r.fills() == [
        ("A:entry", at(1), D("100"), D("100"), D("2"), True),
        ("A:stop1", at(2), D("97"), D("100"), D("4.85"), False),
        ("B:entry", at(3), D("97"), D("96.93"), D("1.880442"), True),
        ("flatten:TEST:1", at(6), D("95"), D("96.93"), D("4.604175"), False),  # 95 x 96.93 x 5 bp
    ]
    # 9693.15 - 1.880442 - 2 x 96.93 - 4.604175
    assert r.system.portfolio.balance == D("9492.805383")
    assert r.system.portfolio.open_positions() == {}


def test_a_late_subscriber_sees_each_fill_before_its_consequences() -> None:
    """A journal subscribed after build sees each fill, then its position and balance change, then what it caused."""
    rows = [*UNTIL_ENTRY, (100.2, 106.2, 100.1, 105.5), (105.5, 109.5, 105.0, 109.0)]
    r = run(rows, {0: [Enter(command())]})

    trail = [
        (type(e).__name__, r.name(e.order.client_order_id) if hasattr(e, "order") else None)
        for e in r.events
        if not isinstance(e, CandleClosed | RiskCheckpoint | SessionStopped)
    ]
    fills = [i for i, (kind, _) in enumerate(trail) if kind == "OrderFilled"]
    assert [trail[i][1] for i in fills] == ["sig1:entry", "sig1:tp1", "sig1:tp2"]
    for i in fills:  # the fill's own account changes follow it at once, before anything else happens
        assert trail[i + 1 : i + 3] == [("PositionChanged", None), ("BalanceChanged", None)]
    entry, tp1, tp2 = fills
    assert ("OrderSubmitted", "sig1:stop1") in trail[entry:tp1]  # the bracket follows the entry's fill
    assert ("OrderSubmitted", "sig1:stop1") not in trail[:entry]
    # Breakeven places the new stop before it cancels the old one: the position is never without a stop.
    assert trail[tp1:tp2].index(("OrderSubmitted", "sig1:stop2")) < trail[tp1:tp2].index(
        ("OrderCancelled", "sig1:stop1")
    )
    assert trail[tp2 + 3 :] == [("OrderCancelled", "sig1:stop2")]


def test_stop_left_by_a_single_target_exit_is_cancelled_as_position_closed() -> None:
    """After a one-target trade closes at TP1 the stop is withdrawn because the position closed, not moved."""
    rows = [(100.0, 100.5, 99.5, 100.0), (100.37, 101.0, 100.2, 100.9), (100.9, 106.3, 100.5, 106.0)]
    r = run(rows, {0: [Enter(command(targets=("106",)), market=True)]})

    assert r.cancels() == [("sig1:stop1", at(2), "position closed")]


def test_candles_without_a_symbol_still_trade() -> None:
    """Symbol-less candles trade under the fallback instrument name 'symbol', as make_strategy's orders do."""
    data = candles([(100.0, 100.5, 99.5, 100.0), (100.37, 101.0, 100.2, 100.9)], "1m", T0)
    order = OrderCommand(UNNAMED, BUY, D("100"), D("97"), (D("106"),), "sig1", "test")
    script = Script({0: [Enter(order, market=True)]}, UNNAMED)
    system = build(Mode.BACKTEST, data, lambda candles: script, engine_settings())
    fills: list[OrderFilled] = []
    system.bus.subscribe(fills.append, OrderFilled)
    system.run()

    assert [(f.price, f.quantity) for f in fills] == [(D("100.37"), D("33.33"))]


def test_a_partially_filled_entry_is_protected_at_once_and_its_bracket_grows_with_it() -> None:
    """With fills capped at 10 units a candle (a tenth of the volume of 100), the limit entry for 33.33
    fills over four candles; after each fill the stop and target cover everything filled so far, each
    new leg placed before the old one is cancelled."""
    rows = [
        (100.5, 101.0, 99.8, 100.8),  # 0: the limit buy at 100 is placed at this close
        *[(100.2, 100.4, 99.9, 100.1)] * 4,  # 1-4: each touches 100: 10, 10, 10, then the last 3.33
        (100.1, 100.2, 96.0, 96.5),  # 5: the stop at 97 takes all 33.33
    ]
    c = candles(rows, "1m", T0)
    data = Candles.from_arrays(c.time, c.open, c.high, c.low, c.close, [100.0] * len(c), timeframe="1m", symbol=SYMBOL)
    settings = replace(engine_settings(), volume_share=D("0.1"))
    script = Script({0: [Enter(command(targets=("106",)))]})
    system = build(Mode.BACKTEST, data, lambda c: script, settings)
    events: list[Any] = []
    system.bus.subscribe(events.append)
    system.run()
    r = Run(system, events)

    entry_fills = [(t, q) for oid, t, _, q, _, _ in r.fills() if oid == "sig1:entry"]
    assert entry_fills == [(at(1), D("10")), (at(2), D("10")), (at(3), D("10")), (at(4), D("3.33"))]
    stops = [(name, q, trig) for name, kind, _, q, _, trig in r.accepted() if kind is OrderType.STOP]
    assert stops == [("sig1:stop1", D("10"), D("97")), ("sig1:stop2", D("20"), D("97")),
                     ("sig1:stop3", D("30"), D("97")), ("sig1:stop4", D("33.33"), D("97"))]  # fmt: skip
    targets = [(name, q) for name, kind, _, q, _, _ in r.accepted() if kind is OrderType.LIMIT and name != "sig1:entry"]
    assert [q for _, q in targets] == [D("10"), D("20"), D("30"), D("33.33")]
    trail = [(type(e).__name__, r.name(e.order.client_order_id)) for e in events if hasattr(e, "order")]
    for n in (2, 3, 4):  # the new stop is accepted before the old one is cancelled
        assert trail.index(("OrderAccepted", f"sig1:stop{n}")) < trail.index(("OrderCancelled", f"sig1:stop{n - 1}"))
    assert [(oid, q) for oid, _, _, q, _, _ in r.fills()][-1] == ("sig1:stop4", D("33.33"))
    assert system.portfolio.open_positions() == {}
    assert system.venue.open_orders() == []
