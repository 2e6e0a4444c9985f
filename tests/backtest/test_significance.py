"""Random-entry baseline and Monte Carlo reshuffle on series whose answer is known by hand."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest

from smc_agent.backtest.significance import bracket_r_multiples, monte_carlo_drawdowns, random_entry_baseline
from smc_agent.backtest.trades import Trade
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.model.enums import Side

MINUTE_MS = 60_000


def trade(
    r: str,
    *,
    side: Side = Side.BUY,
    candles_held: int = 20,
    stop: str | None = "5",
    rr: str | None = "2",
    risk: str = "10",
    fees: str = "0",
    pnl: str | None = None,
    exit_ms: int | None = None,
) -> Trade:
    entry = 0 if exit_ms is None else exit_ms - candles_held * MINUTE_MS
    return Trade(
        id=f"t{r}",
        symbol="X",
        side=side,
        setup="ob",
        session="none",
        entry_ms=entry,
        exit_ms=entry + candles_held * MINUTE_MS,
        entry_price=D(100),
        exit_price=D(100),
        quantity=D(2),
        risk=D(risk),
        pnl=D(pnl) if pnl is not None else D(r) * D(risk),
        fees=D(fees),
        r_multiple=D(r),
        stop_distance=None if stop is None else D(stop),
        planned_rr=None if rr is None else D(rr),
    )


def rising(n: int = 200) -> Candles:
    """Close 100, 101, 102 ...; each candle spans close - 1 to close + 0.5, so prices never come back."""
    close = 100.0 + np.arange(n, dtype=np.float64)
    return Candles.from_arrays(np.arange(n) * MINUTE_MS, close - 0.5, close + 0.5, close - 1.0, close, timeframe="1m")


def random_walk(n: int = 3000, seed: int = 3) -> Candles:
    close = 1000.0 + np.cumsum(np.random.default_rng(seed).normal(0, 2, n))
    return Candles.from_arrays(np.arange(n) * MINUTE_MS, close, close + 1.5, close - 1.5, close, timeframe="1m")


def test_every_random_long_hits_its_target_on_a_rising_series() -> None:
    # Long, stop 5 below, target 10 above the close of candle i: lows stay above i + 99, the target
    # is touched on candle i + 10, well inside the 20-candle window. A short's stop 5 above is
    # touched on candle i + 5. So each run totals 2 + 2 - 1 = 3R; fees of 1 on risk 10 cost 0.1R.
    trades = [trade("-1"), trade("-1", fees="1"), trade("-1", side=Side.SELL)]
    b = random_entry_baseline(rising(), trades, seeds=50, seed0=0)
    np.testing.assert_allclose(b.total_r, np.full(50, 2.9))
    np.testing.assert_allclose(b.net_profit, np.full(50, 29.0))
    assert b.strategy_total_r == -3.0
    assert b.strategy_net_profit == -30.0
    assert (b.p_value, b.percentile) == (1.0, 0.0)
    assert b.seeds == 50


def test_strategy_better_than_every_random_run() -> None:
    trades = [trade("2.5"), trade("2.5")]
    b = random_entry_baseline(rising(), trades, seeds=20, seed0=5)
    np.testing.assert_array_equal(b.total_r, np.full(20, 4.0))
    assert (b.p_value, b.percentile) == (0.0, 100.0)


def test_a_tie_counts_towards_the_p_value() -> None:
    b = random_entry_baseline(rising(), [trade("2")], seeds=10, seed0=0)
    assert (b.p_value, b.percentile) == (1.0, 0.0)


def test_trade_without_target_exits_after_its_holding_window() -> None:
    # No target: the random copy exits at the close 7 candles later, 7 points up on a 5-point stop.
    b = random_entry_baseline(rising(), [trade("0", rr=None, candles_held=7)], seeds=10, seed0=0)
    np.testing.assert_allclose(b.total_r, np.full(10, 7 / 5))


def test_stop_distance_defaults_to_risk_over_quantity() -> None:
    # risk 10 on quantity 2: stop 5, as in the first test.
    b = random_entry_baseline(rising(), [trade("0", stop=None, side=Side.SELL)], seeds=5, seed0=0)
    np.testing.assert_array_equal(b.total_r, np.full(5, -1.0))


def test_bracket_takes_the_stop_when_one_candle_touches_both() -> None:
    time = np.arange(4) * MINUTE_MS
    # Candle 1 spans 94..106: a long from 100 with stop 5 and target 5 (rr 1) touches both.
    c = Candles.from_arrays(time, [100] * 4, [100, 106, 110, 100], [100, 94, 100, 90], [100, 100, 105, 95])
    r = bracket_r_multiples(c, [0, 0, 1, 2], [1, -1, 1, -1], [5, 5, 20, 1], [1, 1, 3, np.nan], [3, 3, 3, 3])
    # Long and short: both levels on candle 1, so -1. Long from 100 with stop 80: neither level
    # touched, exit at the last close 95 = -5/20 R. Short from 105, stop 106, no target: candle 3's
    # high of 100 is below the stop, so it exits at 95, +10R.
    np.testing.assert_allclose(r, [-1.0, -1.0, -0.25, 10.0])


def test_bracket_rejects_an_exit_before_the_entry() -> None:
    with pytest.raises(ValueError, match="entry < last"):
        bracket_r_multiples(rising(10), [5], [1], [1], [1], [5])


def test_baseline_is_deterministic_and_runs_are_independent_of_their_count() -> None:
    candles = random_walk()
    trades = [trade("1", side=Side.BUY), trade("-1", side=Side.SELL, stop="3", rr="1.5")]
    a = random_entry_baseline(candles, trades, seeds=40, seed0=11)
    b = random_entry_baseline(candles, trades, seeds=40, seed0=11)
    first = random_entry_baseline(candles, trades, seeds=10, seed0=11)
    other = random_entry_baseline(candles, trades, seeds=40, seed0=12)
    np.testing.assert_array_equal(a.total_r, b.total_r)
    np.testing.assert_array_equal(a.net_profit, b.net_profit)
    np.testing.assert_array_equal(a.total_r[:10], first.total_r)
    np.testing.assert_array_equal(a.total_r[1:], other.total_r[:-1])
    assert np.unique(a.total_r).size > 1
    assert a.to_dict() == b.to_dict()


def test_baseline_rejects_what_it_cannot_mirror() -> None:
    with pytest.raises(ValueError, match="at least one"):
        random_entry_baseline(rising(), [], seeds=1, seed0=0)
    with pytest.raises(ValueError, match="seeds"):
        random_entry_baseline(rising(), [trade("1")], seeds=0, seed0=0)
    with pytest.raises(ValueError, match="held 200 candles"):
        random_entry_baseline(rising(), [trade("1", candles_held=200)], seeds=1, seed0=0)
    with pytest.raises(ValueError, match="no risk"):
        random_entry_baseline(rising(), [trade("0", risk="0", stop=None)], seeds=1, seed0=0)


def _brute_force(c: Candles, i: int, sign: float, dist: float, rr: float, last: int) -> float:
    entry = c.close[i]
    stop, target = entry - sign * dist, entry + sign * rr * dist
    for j in range(i + 1, last + 1):
        if (c.low[j] <= stop) if sign > 0 else (c.high[j] >= stop):
            return -1.0
        if not np.isnan(rr) and ((c.high[j] >= target) if sign > 0 else (c.low[j] <= target)):
            return rr
    return float(sign * (c.close[last] - entry) / dist)


def test_baseline_on_real_btc_minutes(shared_data_path: Callable[[str], Path]) -> None:
    candles = load_candles(shared_data_path("crypto/BTC-PERP_1m_2022-01.csv"))
    n = len(candles)
    rng = np.random.default_rng(2022)
    # The vectorised first-touch search agrees with a plain loop, trade by trade.
    entry = rng.integers(0, n - 1000, 300)
    sign = np.where(rng.random(300) < 0.5, 1.0, -1.0)
    dist = rng.uniform(20.0, 400.0, 300)
    rr = np.where(rng.random(300) < 0.2, np.nan, rng.uniform(0.5, 4.0, 300))
    last = np.where(np.isnan(rr), entry + rng.integers(1, 900, 300), n - 1)
    expected = [_brute_force(candles, *args) for args in zip(entry, sign, dist, rr, last, strict=True)]
    np.testing.assert_allclose(bracket_r_multiples(candles, entry, sign, dist, rr, last), expected)

    trades = [
        trade(
            str(r),
            side=Side.BUY if k % 3 else Side.SELL,
            stop=str(int(s)),
            rr="2",
            candles_held=int(h),
            fees="0.5",
            exit_ms=int(candles.time[0]) + 40_000 * MINUTE_MS,
        )
        for k, (r, s, h) in enumerate(
            zip([1.8, -1, -1, 2, -1.1] * 6, [150, 80, 300] * 10, [30, 120, 600] * 10, strict=True)
        )
    ]
    baseline = random_entry_baseline(candles, trades, seeds=200, seed0=0)
    assert baseline.total_r.shape == (200,)
    assert np.all(np.isfinite(baseline.total_r))
    # Each random trade nets between -1R and +2R, less 0.5/10 = 0.05R of fees.
    assert np.all(baseline.total_r >= 30 * -1.05 - 1e-9)
    assert np.all(baseline.total_r <= 30 * 1.95 + 1e-9)
    assert baseline.percentile / 100 + baseline.p_value == pytest.approx(1.0)
    assert baseline.strategy_total_r == pytest.approx(0.7 * 6)


# Pnl -10, -10, +30 from 100 has three distinct orders, each with probability 1/3:
# +30 first: 130, 120, 110 -> 20/130; +30 second: 90, 120, 110 -> 10/100; +30 last: 90, 80 -> 20/100.
DD_FIRST, DD_MIDDLE, DD_LAST = 20 / 130 * 100, 10.0, 20.0


def _pnl_trades(pnls: list[str]) -> list[Trade]:
    return [trade("0", pnl=p, exit_ms=(k + 100) * MINUTE_MS) for k, p in enumerate(pnls)]


def test_monte_carlo_percentiles_of_every_order() -> None:
    trades = _pnl_trades(["-10", "30", "-10"])
    mc = monte_carlo_drawdowns(trades, runs=3000, seed=7, initial_balance=D(100))
    assert set(np.round(mc.drawdowns_pct, 9)) == {round(DD_FIRST, 9), DD_MIDDLE, DD_LAST}
    assert mc.strategy_drawdown_pct == pytest.approx(DD_MIDDLE)
    assert (mc.p5, mc.p50, mc.p95) == pytest.approx((DD_MIDDLE, DD_FIRST, DD_LAST))
    # Every order but the strategy's own has the larger drawdown: 2/3 of the runs.
    assert mc.prob_exceeds == pytest.approx(np.mean(~np.isclose(mc.drawdowns_pct, DD_MIDDLE)))
    assert mc.prob_exceeds == pytest.approx(2 / 3, abs=0.05)
    assert mc.to_dict()["runs"] == 3000


def test_monte_carlo_uses_exit_order_for_the_strategy() -> None:
    # Listed out of order; by exit time the order is -10, -10, +30: the worst case, never exceeded.
    trades = _pnl_trades(["-10", "-10", "30"])
    mc = monte_carlo_drawdowns(trades[::-1], runs=500, seed=1, initial_balance=D(100))
    assert mc.strategy_drawdown_pct == pytest.approx(DD_LAST)
    assert mc.prob_exceeds == 0.0


def test_monte_carlo_is_deterministic_for_a_seed() -> None:
    trades = _pnl_trades([str(x) for x in (-5, 8, -3, 12, -7, -2, 6, -9)])
    a = monte_carlo_drawdowns(trades, runs=200, seed=3, initial_balance=D(100))
    b = monte_carlo_drawdowns(trades, runs=200, seed=3, initial_balance=D(100))
    np.testing.assert_array_equal(a.drawdowns_pct, b.drawdowns_pct)


def test_monte_carlo_edge_cases() -> None:
    empty = monte_carlo_drawdowns([], runs=10, seed=0, initial_balance=D(100))
    assert (empty.p5, empty.p95, empty.prob_exceeds, empty.strategy_drawdown_pct) == (0.0, 0.0, 0.0, 0.0)
    one = monte_carlo_drawdowns(_pnl_trades(["-10"]), runs=10, seed=0, initial_balance=D(100))
    np.testing.assert_allclose(one.drawdowns_pct, np.full(10, 10.0))
    winners = monte_carlo_drawdowns(_pnl_trades(["5", "7"]), runs=10, seed=0, initial_balance=D(100))
    assert winners.p95 == 0.0
    with pytest.raises(ValueError, match="runs"):
        monte_carlo_drawdowns([], runs=0, seed=0, initial_balance=D(100))
    with pytest.raises(ValueError, match="initial_balance"):
        monte_carlo_drawdowns([], runs=1, seed=0, initial_balance=D(0))
