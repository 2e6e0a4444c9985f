"""Golden backtests on real data: exact trade counts and balances.

When an intended change moves these numbers, update them in the same commit and say why in its
message. The first EURUSD trade is also recomputed here from first principles, so the golden values
rest on arithmetic a person can check, not only on an earlier run.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

from smc_agent.backtest.runner import make_strategy, run_backtest
from smc_agent.data.loaders import load_candles
from smc_agent.strategy.sma_cross import SmaCross


def test_smc_strategy_on_eurusd_15m(shared_data_path: Callable[[str], Path]) -> None:
    candles = load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))
    result = run_backtest(candles, make_strategy("smc", candles, ["1h", "4h", "1d"]))
    # Liquidity of every kind and refined order blocks (issue 9): 5 trades, no longer 2.
    assert len(result.trades) == 5
    assert result.equity[-1].equity == D("9560.97390104659722644")

    first = result.trades[0]
    # Signal 2023-01-17 14:30 after a sweep of an internal swing low: buy limit 1.08166 (the refined block's
    # top), stop 1.0806256 rounded down to the tick 1.08062, target 1.08742. Size = 1% of 10,000 over the
    # 0.00104 stop distance, down to 1e-8 lots. The stop fills as a taker 1 bp lower, down to the tick.
    quantity = (D("100") / D("0.00104")).quantize(D("0.00000001"), rounding="ROUND_FLOOR")
    assert first.quantity == quantity
    exit_price = (D("1.08062") * (1 - D("0.0001"))).quantize(D("0.00001"), rounding="ROUND_FLOOR")
    assert (first.entry_price, first.exit_price) == (D("1.08166"), exit_price)
    fees = (D("1.08166") * D("2") + exit_price * D("5")) * quantity / D("10000")  # maker 2 bps in, taker 5 out
    assert first.fees == fees
    assert first.pnl == (exit_price - D("1.08166")) * quantity - fees
    assert first.setup == "sweep_choch_ob"


def test_sma_cross_on_btc_perp_1m(shared_data_path: Callable[[str], Path]) -> None:
    candles = load_candles(shared_data_path("crypto/BTC-PERP_1m_2022-01.csv"))
    result = run_backtest(candles, SmaCross(candles.symbol))
    assert len(result.trades) == 66
    assert result.equity[-1].equity == D("9436.22922036604780")
    # With the default risk rules, the third and later crosses of each day are refused (symbol layer).
    assert {r.layer for r in result.rejections} == {"symbol"}
    assert len(result.rejections) == 1824
