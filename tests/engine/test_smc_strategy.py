"""The SMC strategy's trading on hand-built candles through the real kernel, with signals scripted.

The signal engine is real, except that a test double adds planned signals at given candles (the setup
rules have their own tests in tests/analysis). Everything after the signal is the real core: the
strategy's bookkeeping, the risk gate, execution, the simulated venue. Prices and sizes follow
test_kernel_scenarios: equity 10,000, 1% risk; a long at 100 with its stop at 97 buys 33.33.

Plan, 1m candles from Monday 2024-03-04 10:00 UTC:

* candle 0 closes with two buy signals of one break: ``a`` (quality 0.9) and ``b`` (0.85): only ``a`` is
  traded, ``b`` ends ``invalidated`` with ``another_setup_traded``;
* candle 1: buy ``c`` (entry 101, stop 98.5: 100 / 2.5 = 40 units), traded beside ``a``: the strategy
  does not wait for ``a``;
* candle 2: sell ``d``: a trade against the open longs is not taken (``opposite_trade_open``);
* candle 3: buy ``e``: the third entry of the day, refused by the gate (``risk_rejected``);
* candle 2 (low 99.9) fills ``a`` at 100 and ``c`` at 101: both ``triggered`` then ``filled``;
* candle 4 (low 97.5) stops ``c`` out at 98.5 (-1 R) while ``a`` stays open: ``c`` closes alone, and its
  take-profits are cancelled so that they cannot sell ``a``'s share;
* candle 5 (high 106.2) takes ``a``'s TP1 106, candle 6 (high 109.5) its TP2 109: ``a`` closes with
  (6 x 16.66 + 9 x 16.67) / (3 x 33.33) = 2.5003 R.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from scenario import candles
from scripted import SYMBOL
from test_kernel_scenarios import T0, at, engine_settings

from smc_agent.analysis.signals import SignalEngine
from smc_agent.backtest.runner import run_backtest
from smc_agent.bootstrap import Mode, build
from smc_agent.events import OrderCancelled, OrderFilled, SignalChanged
from smc_agent.model import ConfidenceLevel, Direction, Side
from smc_agent.model.signal import Bias, Signal
from smc_agent.strategy.smc import SmcStrategy

D = Decimal
BIAS = Bias(Direction.BULLISH, 50.0, ConfidenceLevel.MEDIUM, 70.0, 20.0, ())


def signal(name: str, k: int, side: Side = Side.BUY, entry: float = 100.0, stop: float = 97.0,
           quality: float = 0.9) -> Signal:  # fmt: skip
    targets = (106.0, 109.0) if side is Side.BUY else (94.0, 91.0)
    return Signal(name, SYMBOL, "1m", side, "test", entry, stop, targets, 2.0, quality, {}, BIAS, (),
                  at(k), k, at(k + 24), status_ms=at(k))  # fmt: skip


class PlannedSignals(SignalEngine):
    """The real engine, plus the planned signals created at the close of candle ``k``."""

    def __init__(self, plan: Mapping[int, Sequence[Signal]]) -> None:
        super().__init__("1m", [], symbol=SYMBOL)
        self.plan, self.k = plan, -1

    def update(
        self, time: int, open: float, high: float, low: float, close: float, volume: float = 0.0
    ) -> list[Signal]:
        changed = super().update(time, open, high, low, close, volume)
        self.k += 1
        for s in self.plan.get(self.k, ()):
            self._signals[s.id] = s
            self._pending.append(s.id)
        return changed + list(self.plan.get(self.k, ()))


ROWS = [
    (100.5, 101.0, 100.2, 100.8),  # 0
    (101.2, 101.5, 101.1, 101.3),  # 1: above both entries
    (101.3, 101.4, 99.9, 100.2),  # 2: fills a (100) and c (101)
    (100.2, 101.0, 99.5, 100.5),  # 3
    (100.5, 100.8, 97.5, 99.0),  # 4: c's stop 98.5 (a's 97 holds)
    (100.6, 106.2, 100.5, 105.5),  # 5: a's TP1 106; stays above the breakeven stop 100
    (105.5, 109.5, 105.0, 109.0),  # 6: a's TP2 109
    (109.0, 109.5, 108.5, 109.2),  # 7
]
PLAN = {
    0: [signal("a", 0), signal("b", 0, entry=100.2, quality=0.85)],
    1: [signal("c", 1, entry=101.0, stop=98.5)],
    2: [signal("d", 2, Side.SELL, entry=101.0, stop=103.0)],
    3: [signal("e", 3, entry=99.0, stop=96.0)],
}


def run() -> tuple[SmcStrategy, list[Any]]:
    strategy = SmcStrategy(SYMBOL, "1m", [])
    strategy.signals = PlannedSignals(PLAN)
    data = candles(ROWS, "1m", T0).with_meta(symbol=SYMBOL)
    system = build(Mode.BACKTEST, data, lambda c: strategy, engine_settings())
    events: list[Any] = []
    system.bus.subscribe(events.append)
    system.run()
    return strategy, events


def lifecycle(events: list[Any]) -> list[tuple[str, str, int, str | None]]:
    return [
        (e.signal.id, e.signal.status.value, e.event_ms, e.signal.status_reason)
        for e in events
        if isinstance(e, SignalChanged)
    ]


def test_concurrent_trades_and_the_lifecycle_from_the_venue() -> None:
    strategy, events = run()
    assert lifecycle(events) == [
        ("a", "pending", at(0), None),
        ("b", "pending", at(0), None),
        ("b", "invalidated", at(0), "another_setup_traded"),
        ("c", "pending", at(1), None),
        ("a", "triggered", at(2), None),
        ("a", "filled", at(2), None),
        ("c", "triggered", at(2), None),
        ("c", "filled", at(2), None),
        ("d", "pending", at(2), None),
        ("d", "invalidated", at(2), "opposite_trade_open"),
        ("e", "pending", at(3), None),
        ("e", "invalidated", at(3), "risk_rejected"),
        ("c", "closed", at(4), None),
        ("a", "closed", at(6), None),
    ]
    final = {s.id: s for s in strategy.signals.signals}
    assert (final["a"].fill_price, final["c"].fill_price) == (100.0, 101.0)
    assert final["c"].r_multiple == -1.0  # (98.5 - 101) x 40 over (101 - 98.5) x 40
    expected_a = float((D(6) * D("16.66") + D(9) * D("16.67")) / (D(3) * D("33.33")))
    assert final["a"].r_multiple == expected_a


def test_a_bracket_stopped_out_cancels_its_own_legs_only() -> None:
    _, events = run()
    fills = [(e.order.tag, e.event_ms, e.price, e.quantity) for e in events if isinstance(e, OrderFilled)]
    assert fills == [
        ("entry", at(2), D("100.00"), D("33.33")),
        ("entry", at(2), D("101.00"), D("40.00")),
        ("stop", at(4), D("98.50"), D("40.00")),
        ("tp1", at(5), D("106.00"), D("16.66")),
        ("tp2", at(6), D("109.00"), D("16.67")),
    ]
    cancelled_at_4 = sorted(e.order.tag for e in events if isinstance(e, OrderCancelled) and e.event_ms == at(4))
    assert cancelled_at_4 == ["tp1", "tp2"]  # c's targets; a's stop and targets keep working


def test_the_backtest_records_each_bracket_as_its_own_trade() -> None:
    strategy = SmcStrategy(SYMBOL, "1m", [])
    strategy.signals = PlannedSignals(PLAN)
    result = run_backtest(candles(ROWS, "1m", T0).with_meta(symbol=SYMBOL), strategy, engine_settings())
    got = [(t.id, t.entry_price, t.exit_price, t.quantity, t.exit_ms) for t in result.trades]
    assert got == [
        ("c", D("101.00"), D("98.50"), D("40.00"), at(4)),
        # 16.66 at 106 and 16.67 at 109: the average exit price
        ("a", D("100.00"), (D("106") * D("16.66") + D("109") * D("16.67")) / D("33.33"), D("33.33"), at(6)),
    ]
    c_fees = (D("101.00") * D("2") + D("98.50") * D("5")) * D("40.00") / D("10000")  # maker in, taker stop out
    assert result.trades[0].pnl == (D("98.50") - D("101.00")) * D("40.00") - c_fees
