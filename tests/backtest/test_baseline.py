"""The random-entry baseline through the engine, on hand-built candles whose outcome is known by hand."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest

from smc_agent.backtest.baseline import draw_seed, edge_tests, plans_from_trades, random_entry_baseline, run_seed
from smc_agent.backtest.runner import make_strategy, run_backtest
from smc_agent.backtest.trades import Trade
from smc_agent.config.engine import EngineSettings
from smc_agent.data.candles import Candles
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.model.enums import Side
from smc_agent.strategy.random_entry import EntryPlan, RandomEntry
from smc_agent.venues.costs import FeeModel

HOUR_MS = 3_600_000
# No costs, and a gate that only sizes: each outcome below is then plain arithmetic.
FREE = EngineSettings(
    fees=FeeModel.profile("zero"), slippage_bps=D(0), tick_size=D("0.5"),
    risk=RiskConfig(max_trades_per_day=100, loss_cooldown_minutes=0),
)  # fmt: skip
# With costs, the plans' reward:risk of exactly 2 falls below 2 after them: the gate must let them pass.
PAID_RISK = RiskConfig(max_trades_per_day=100, loss_cooldown_minutes=0, min_rr=D("1.5"))


def rising(n: int = 200) -> Candles:
    """Hourly closes 100, 101, 102 ...; each candle opens at close - 0.5 and spans close - 1 to close + 0.5."""
    close = 100.0 + np.arange(n, dtype=np.float64)
    return Candles.from_arrays(np.arange(n) * HOUR_MS, close - 0.5, close + 0.5, close - 1.0, close, timeframe="1h",
                               symbol="UP")  # fmt: skip


def random_walk(n: int = 600, seed: int = 3) -> Candles:
    close = np.round(1000.0 + np.cumsum(np.random.default_rng(seed).normal(0, 2, n)), 1)
    return Candles.from_arrays(np.arange(n) * HOUR_MS, close, close + 1.5, close - 1.5, close, timeframe="1h",
                               symbol="RW")  # fmt: skip


LONG = EntryPlan(Side.BUY, D(5), (D(10),), market=True)
SHORT = EntryPlan(Side.SELL, D(5), (D(10),), market=True)


def trade(
    side: Side = Side.BUY, *, stop: str = "5", rr: str | None = "2", rr2: str | None = None, market: bool = True
) -> Trade:
    return Trade("t", "UP", side, "ob", "none", 0, HOUR_MS, D(100), D(100), D(2), risk=D(2) * D(stop), pnl=D(0),
                 fees=D(0), r_multiple=D(0), stop_distance=D(stop), planned_rr=None if rr is None else D(rr),
                 planned_rr2=None if rr2 is None else D(rr2), market_entry=market)  # fmt: skip


def test_a_long_fills_at_the_next_open_and_takes_its_target() -> None:
    # Entered at the close of candle 3 (103): the market order fills at candle 4's open, 103.5, with the
    # stop at 98 and the target at 113. Highs are close + 0.5, so candle 13 (high 113.5) is the first to
    # reach the target; lows keep rising, so the stop is never touched. R = (113 - 103.5) / (103.5 - 98).
    # A trade's times are those of its fills, known at the close of the candle they happened in.
    candles = rising()
    result = run_backtest(candles, RandomEntry("UP", [LONG], [int(candles.time[3])]), FREE)
    (t,) = result.trades
    assert (t.entry_ms, t.exit_ms) == (5 * HOUR_MS, 14 * HOUR_MS)
    assert (t.entry_price, t.exit_price) == (D("103.5"), D(113))
    assert t.r_multiple == (D(113) - D("103.5")) / (D("103.5") - D(98))
    assert t.fees == 0


def test_a_short_on_a_rising_market_is_stopped_for_minus_one_r() -> None:
    # Short from 103.5 with the stop at 108: candle 8's high of 107.5 stays below, candle 9's 108.5 takes it.
    candles = rising()
    (t,) = run_backtest(candles, RandomEntry("UP", [SHORT], [int(candles.time[3])]), FREE).trades
    assert (t.exit_ms, t.exit_price, t.r_multiple) == (9 * HOUR_MS, D(108), D(-1))


def test_a_limit_entry_rests_at_the_close_and_pays_the_maker_fee() -> None:
    # A buy limit at candle 3's close, 103: candle 4's low is 103, so it fills there, with the stop at 98
    # and the target at 113, reached in candle 13 as above: R = 10 / 5, less the fees. At a maker fee of
    # 2 bp and a taker fee of 5 bp, the entry and the target (both resting orders) pay 2 bp each.
    candles = rising()
    fees = EngineSettings(fees=FeeModel(D(2), D(5)), slippage_bps=D(0), tick_size=D("0.5"), risk=PAID_RISK)
    limit = EntryPlan(Side.BUY, D(5), (D(10),))
    (t,) = run_backtest(candles, RandomEntry("UP", [limit], [int(candles.time[3])]), fees).trades
    assert (t.entry_ms, t.entry_price, t.exit_price) == (5 * HOUR_MS, D(103), D(113))
    assert not t.market_entry
    assert t.fees == (D(103) + D(113)) * t.quantity * D("0.0002")
    assert t.r_multiple == (D(10) * t.quantity - t.fees) / t.risk


def test_a_limit_the_market_runs_away_from_is_placed_again_after_resting() -> None:
    # Closes climb by 2 for five candles (each low is close - 1, above the previous close), then by 1.
    # The buy limit at candle 0's close (100) is never reached; after resting 3 candles it is withdrawn
    # at candle 3's close and placed again at 106, which candle 4's low of 107 misses too; after 3 more
    # the one placed at candle 6's close (110) fills in candle 7, whose low is 110.
    close = np.array([100.0, 102, 104, 106, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120])
    candles = Candles.from_arrays(np.arange(close.size) * HOUR_MS, close - 0.5, close + 0.5, close - 1.0, close,
                                  timeframe="1h", symbol="UP")  # fmt: skip
    limit = EntryPlan(Side.BUY, D(4), (D(8),))
    (t,) = run_backtest(candles, RandomEntry("UP", [limit], [0], rest=3), FREE).trades
    assert (t.entry_price, t.entry_ms) == (D(110), 8 * HOUR_MS)
    assert t.exit_price == D(118)


def test_costs_are_the_engine_s_own() -> None:
    candles = rising()
    costly = EngineSettings(slippage_bps=D(20), tick_size=D("0.5"), risk=PAID_RISK)
    free = run_backtest(candles, RandomEntry("UP", [LONG], [int(candles.time[3])]), FREE).trades[0]
    paid = run_backtest(candles, RandomEntry("UP", [LONG], [int(candles.time[3])]), costly).trades[0]
    assert paid.fees > 0
    assert paid.entry_price > free.entry_price, "a buy at market slips up"
    assert paid.r_multiple < free.r_multiple


def test_one_trade_at_a_time_the_next_plan_waits_until_flat() -> None:
    # Plan 2's time (candle 5) comes while plan 1 is open; plan 1 exits inside candle 13, so plan 2 goes in at
    # that candle's close and fills at candle 14's open (known at its close, 15:00).
    candles = rising()
    times = [int(candles.time[3]), int(candles.time[5])]
    first, second = run_backtest(candles, RandomEntry("UP", [LONG, LONG], times), FREE).trades
    assert first.exit_ms == 14 * HOUR_MS
    assert second.entry_ms == 15 * HOUR_MS


def test_a_plan_the_trade_layer_refuses_is_dropped_and_the_next_goes_in() -> None:
    # Target 5 on stop 5 is 1:1, below the gate's min_rr of 2: refused for the plan itself.
    candles = rising()
    poor = EntryPlan(Side.BUY, D(5), (D(5),))
    result = run_backtest(candles, RandomEntry("UP", [poor, LONG], [int(candles.time[3]), int(candles.time[6])]), FREE)
    assert [r.layer.value for r in result.rejections] == ["trade"]
    (t,) = result.trades
    assert t.entry_ms == 8 * HOUR_MS, "plan 2, at candle 6's close, filled in candle 7"


def test_a_plan_refused_for_the_day_is_tried_again_and_enters_the_next_day() -> None:
    candles = rising(60)
    one_a_day = EngineSettings(fees=FREE.fees, slippage_bps=D(0), tick_size=D("0.5"),
                               risk=RiskConfig(max_trades_per_day=1, loss_cooldown_minutes=0))  # fmt: skip
    times = [int(candles.time[1]), int(candles.time[15])]
    result = run_backtest(candles, RandomEntry("UP", [LONG, LONG], times), one_a_day)
    assert len(result.trades) == 2
    # Refused at the closes of candles 15 to 22 (8 times, the symbol layer's trades-per-day limit), then
    # entered at the close of candle 23, the first of the second day, and filled in candle 24.
    assert [r.reason for r in result.rejections] == ["1 trade already today on UP (max 1)"] * 8
    assert result.trades[1].entry_ms == 25 * HOUR_MS


def test_every_seed_of_known_plans_totals_what_its_closed_trades_make() -> None:
    # Two longs and a short, wherever they land on the rising series: each long nets 9.5 / 5.5 R and the
    # short -1 R, so a seed whose three trades all closed totals 2 * 19/11 - 1, whatever its order and
    # times. A trade entered in the last few candles is still open at the end and not counted.
    candles = rising()
    trades = [trade(), trade(), trade(Side.SELL)]
    baseline = random_entry_baseline(candles, trades, FREE, seeds=20, seed0=4)
    possible = {(longs + shorts, round(longs * 19 / 11 - shorts, 9)) for longs in range(3) for shorts in range(2)}
    closed = list(zip(baseline.trades.tolist(), np.round(baseline.total_r, 9).tolist(), strict=True))
    assert set(closed) <= possible
    complete = [r for n, r in closed if n == 3]
    assert len(complete) >= 15
    np.testing.assert_allclose(complete, 2 * 19 / 11 - 1)
    assert baseline.strategy_total_r == 0.0
    assert baseline.p_value == np.mean(baseline.total_r >= 0.0)
    assert baseline.to_dict()["random_trades"] == {"min": min(baseline.trades), "max": 3}


def test_seeds_are_reproducible_alone_and_independent_of_the_count() -> None:
    candles = random_walk()
    strategy = run_backtest(candles, make_strategy("sma_cross", candles, []), FREE)
    assert len(strategy.trades) >= 2
    trades = strategy.trades[:4]
    five = random_entry_baseline(candles, trades, FREE, seeds=5, seed0=10)
    three = random_entry_baseline(candles, trades, FREE, seeds=3, seed0=12)
    np.testing.assert_array_equal(five.total_r[2:], three.total_r)
    plans = plans_from_trades(trades)
    assert run_seed(candles, plans, FREE, 12).total_r == three.total_r[0]
    assert np.unique(five.total_r).size > 1, "different seeds, different entries"


def test_draw_seed_keeps_every_plan_and_enters_before_the_last_candle() -> None:
    order, entries = draw_seed(3, 10, 9)
    assert sorted(order.tolist()) == list(range(9))
    assert entries.tolist() == list(range(9)), "nine distinct candles out of 0..8"
    again = draw_seed(3, 10, 9)
    np.testing.assert_array_equal(again[0], order)
    with pytest.raises(ValueError, match="only 9 candles"):
        draw_seed(3, 10, 10)


def test_plans_copy_side_stop_and_both_targets() -> None:
    (plan,) = plans_from_trades([trade(Side.SELL, stop="4", rr="2.5", rr2="4")])
    assert plan == EntryPlan(Side.SELL, D(4), (D(10), D(16)), market=True)
    assert not plans_from_trades([trade(market=False)])[0].market
    with pytest.raises(ValueError, match="no target"):
        plans_from_trades([trade(rr=None)])
    unstopped = Trade("u", "UP", Side.BUY, "ob", "none", 0, 1, D(1), D(1), D(1), risk=D(0), pnl=D(0), fees=D(0),
                      r_multiple=D(0), planned_rr=D(2))  # fmt: skip
    with pytest.raises(ValueError, match="no risk or stop"):
        plans_from_trades([unstopped])
    with pytest.raises(ValueError, match="at least one"):
        random_entry_baseline(rising(), [], FREE, seeds=1)
    with pytest.raises(ValueError, match="seeds"):
        random_entry_baseline(rising(), [trade()], FREE, seeds=0)


def test_edge_tests_say_why_a_baseline_is_missing() -> None:
    candles = rising()
    none = run_backtest(candles[:20], RandomEntry("UP", [], []), FREE)
    assert (none.trades, edge_tests(none, FREE).baseline, edge_tests(none, FREE).monte_carlo) == ([], None, None)
    traded = run_backtest(candles, RandomEntry("UP", [LONG], [int(candles.time[3])]), FREE)
    off = edge_tests(traded, FREE, seeds=0)
    assert off.baseline is None
    assert off.monte_carlo is not None
    assert "0 seeds" in off.baseline_skipped
    on = edge_tests(traded, FREE, seeds=2)
    assert on.baseline is not None
    assert on.baseline.seeds == 2
    document = on.to_dict()
    assert set(document) == {"baseline", "monte_carlo"}


def test_the_random_strategy_cannot_be_chosen_by_name() -> None:
    from smc_agent.core.errors import ConfigError

    with pytest.raises(ConfigError, match="built by the backtest baseline"):
        make_strategy("random_entry", rising(), [])
