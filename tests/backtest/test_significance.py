"""Where a strategy falls among random runs, and the Monte Carlo reshuffle, on numbers known by hand."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest

from smc_agent.backtest.significance import compare_with_random, monte_carlo_drawdowns
from smc_agent.backtest.trades import Trade
from smc_agent.model.enums import Side

MINUTE_MS = 60_000


def trade(pnl: str, exit_ms: int) -> Trade:
    """A closed trade that matters here only for its P&L and exit time."""
    return Trade(id=f"t{exit_ms}", symbol="X", side=Side.BUY, setup="ob", session="none",
                 entry_ms=exit_ms - 20 * MINUTE_MS, exit_ms=exit_ms, entry_price=D(100), exit_price=D(100),
                 quantity=D(2), risk=D(10), pnl=D(pnl), fees=D(0), r_multiple=D(pnl) / D(10))  # fmt: skip


def test_percentile_and_p_value_count_ties_towards_the_p_value() -> None:
    totals = [-3.0, -1.0, 0.5, 0.5, 2.0]
    b = compare_with_random(totals, [-30, -10, 5, 5, 20], [4, 4, 3, 4, 4], strategy_total_r=0.5,
                            strategy_net_profit=5.0, strategy_trades=4, seed0=7)  # fmt: skip
    # Two runs below 0.5, three at or above it (the two ties among them).
    assert (b.percentile, b.p_value) == (40.0, 0.6)
    assert b.seeds == 5
    document = b.to_dict()
    assert document["seed0"] == 7
    assert document["measure"] == "total_r"
    # Linear interpolation between the sorted totals: the 95th lies 0.8 of the way from 0.5 to 2.0.
    assert document["random_total_r"] == pytest.approx({"mean": -0.2, "min": -3.0, "p5": -2.6, "p25": -1.0, "p50": 0.5,
                                          "p75": 0.5, "p95": 1.7, "max": 2.0})  # fmt: skip
    assert document["random_trades"] == {"min": 3, "max": 4}


def test_a_strategy_above_every_run_has_p_zero() -> None:
    b = compare_with_random([1.0, 2.0], [0, 0], [1, 1], strategy_total_r=2.5, strategy_net_profit=0.0,
                            strategy_trades=1, seed0=0)  # fmt: skip
    assert (b.percentile, b.p_value) == (100.0, 0.0)
    with pytest.raises(ValueError, match="at least one random run"):
        compare_with_random([], [], [], strategy_total_r=0.0, strategy_net_profit=0.0, strategy_trades=0, seed0=0)


# Pnl -10, -10, +30 from 100 has three distinct orders, each with probability 1/3:
# +30 first: 130, 120, 110 -> 20/130; +30 second: 90, 120, 110 -> 10/100; +30 last: 90, 80 -> 20/100.
DD_FIRST, DD_MIDDLE, DD_LAST = 20 / 130 * 100, 10.0, 20.0


def _pnl_trades(pnls: list[str]) -> list[Trade]:
    return [trade(p, (k + 100) * MINUTE_MS) for k, p in enumerate(pnls)]


def test_monte_carlo_percentiles_of_every_order() -> None:
    trades = _pnl_trades(["-10", "30", "-10"])
    mc = monte_carlo_drawdowns(trades, runs=3000, seed=7, initial_balance=D(100))
    assert set(np.round(mc.drawdowns_pct, 9)) == {round(DD_FIRST, 9), DD_MIDDLE, DD_LAST}
    assert mc.strategy_drawdown_pct == pytest.approx(DD_MIDDLE)
    assert (mc.p5, mc.p50, mc.p95) == pytest.approx((DD_MIDDLE, DD_FIRST, DD_LAST))
    # Every order but the strategy's own has the larger drawdown: 2/3 of the runs.
    assert mc.prob_exceeds == pytest.approx(np.mean(~np.isclose(mc.drawdowns_pct, DD_MIDDLE)))
    assert mc.prob_exceeds == pytest.approx(2 / 3, abs=0.05)
    document = mc.to_dict()
    assert document["runs"] == 3000
    drawdowns = document["drawdown_pct"]
    assert isinstance(drawdowns, dict)
    assert (drawdowns["min"], drawdowns["max"]) == pytest.approx((DD_MIDDLE, DD_LAST))
    assert (drawdowns["p25"], drawdowns["p50"], drawdowns["p75"]) == pytest.approx((DD_MIDDLE, DD_FIRST, DD_LAST))


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
