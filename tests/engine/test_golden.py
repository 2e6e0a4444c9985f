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
    assert len(result.trades) == 2
    assert result.equity[-1].equity == D("10780.80628130682717974")

    first = result.trades[0]
    # Signal 2023-01-19 10:00: buy limit 1.08033, stop 1.0780442 rounded down to the tick 1.07804,
    # single target 1.08874. Size = 1% of 10,000 over the 0.00229 stop distance, down to 1e-8 lots.
    quantity = (D("100") / D("0.00229")).quantize(D("0.00000001"), rounding="ROUND_FLOOR")
    assert first.quantity == quantity
    assert (first.entry_price, first.exit_price) == (D("1.08033"), D("1.08874"))
    fees = (D("1.08033") + D("1.08874")) * quantity * D("2") / D("10000")  # maker 2 bps in and out
    assert first.fees == fees
    assert first.pnl == (D("1.08874") - D("1.08033")) * quantity - fees
    assert first.setup == "bos_continuation"


def test_sma_cross_on_btc_perp_1m(shared_data_path: Callable[[str], Path]) -> None:
    candles = load_candles(shared_data_path("crypto/BTC-PERP_1m_2022-01.csv"))
    result = run_backtest(candles, SmaCross(candles.symbol))
    assert len(result.trades) == 66
    assert result.equity[-1].equity == D("9436.22922036604780")
    # With the default risk rules, the third and later crosses of each day are refused (symbol layer).
    assert {r.layer for r in result.rejections} == {"symbol"}
    assert len(result.rejections) == 1824
