"""Sizing counts the expected round-trip costs: a 1% stop-out loses 1% of equity, fees and slippage included.

Each scenario runs the whole core (risk gate, execution, simulated venue, portfolio) through
:func:`smc_agent.bootstrap.build`; the expected numbers are worked out by hand in the docstrings.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from scenario import candles
from scripted import SYMBOL, Script

from smc_agent.bootstrap import EngineSettings, Mode, build
from smc_agent.engine.risk import OrderCommand, RiskConfig
from smc_agent.events import OrderFilled, RiskRejected
from smc_agent.model.enums import Side
from smc_agent.strategy.base import Enter
from smc_agent.venues.costs import FeeModel

T0 = 1_709_546_400_000  # 2024-03-04 10:00 UTC


def settings(**overrides: Any) -> EngineSettings:
    values: dict[str, Any] = {
        "initial_balance": D("10000"), "fees": FeeModel(D("2"), D("5")), "slippage_bps": D("10"),
        "tick_size": D("0.01"), "lot_size": D("0.01"), "instrument_type": "crypto_perp",
    }  # fmt: skip
    return EngineSettings(**{**values, **overrides})


def trade(rows: list[tuple[float, float, float, float]], stop: str, targets: tuple[str, ...], engine: EngineSettings,
          market: bool = True) -> tuple[list[OrderFilled], list[RiskRejected], Any]:  # fmt: skip
    command = OrderCommand(SYMBOL, Side.BUY, D("100"), D(stop), tuple(D(t) for t in targets), "sig1", "test")
    script = Script({0: [Enter(command, market=market)]})
    system = build(Mode.BACKTEST, candles(rows, "1m", T0).with_meta(symbol=SYMBOL), lambda c: script, engine)
    fills: list[OrderFilled] = []
    rejected: list[RiskRejected] = []
    system.bus.subscribe(fills.append, OrderFilled)
    system.bus.subscribe(rejected.append, RiskRejected)
    system.run()
    return fills, rejected, system


def test_a_stop_out_loses_the_configured_one_percent_with_fees_and_slippage() -> None:
    """Long at 100 (market), stop 90, 10 bps slippage a taker leg, taker fee 5 bps, equity 10,000.

    The gate's costs a unit: entry slippage 0.1, stop slippage 0.09, entry fee 100.1 x 5 bp = 0.05005,
    exit fee 89.91 x 5 bp = 0.044955; in all 0.285005. Size = 100 / (10 + 0.285005) = 9.7229 -> 9.72 lots.
    The venue fills the entry at 100 + 0.1 = 100.10 (fee 100.10 x 9.72 x 5 bp = 0.486486) and the stop at
    90 - 0.09 = 89.91 (fee 89.91 x 9.72 x 5 bp = 0.4369626). Loss: 10.19 x 9.72 + 0.486486 + 0.4369626
    = 99.9702486, 1% of equity less the lot rounding (below 0.01 lot x 10.285 a unit).
    Before costs counted, 100 / 10 = 10 lots would have lost 10.19 x 10 + 0.959 = 102.86.
    """
    rows = [
        (100.0, 100.5, 99.5, 100.0),
        (100.0, 100.8, 99.0, 99.5),  # 1: the market buy fills at this open
        (99.5, 99.6, 88.0, 89.0),  # 2: falls through the stop at 90 (no gap)
        (89.0, 89.5, 88.5, 89.0),
    ]
    fills, rejected, system = trade(rows, "90", ("130",), settings())
    assert rejected == []
    assert [(f.price, f.quantity, f.fee) for f in fills] == [
        (D("100.10"), D("9.72"), D("0.486486")),
        (D("89.91"), D("9.72"), D("0.4369626")),
    ]
    loss = D("10000") - system.portfolio.balance
    assert loss == D("99.9702486")
    assert abs(loss - D("100")) < D("0.01") * D("10.285005")


def test_costs_above_the_share_of_the_risk_are_refused_as_costs_too_high() -> None:
    """Stop 0.5 away: costs a unit 0.1 + 0.0995 slippage, 100.1 x 5 bp = 0.05005 and 99.4005 x 5 bp =
    0.04970025 fees: 0.29925025, 59.85% of it (shown rounded up, 59.86%; max 25%)."""
    rows = [(100.0, 100.5, 99.8, 100.0), (100.0, 100.2, 99.9, 100.1)]
    fills, rejected, _ = trade(rows, "99.5", ("102",), settings())
    assert fills == []
    assert [r.layer for r in rejected] == ["trade"]
    assert rejected[0].reason.startswith("costs_too_high: expected round-trip costs of 0.29925 a unit on TEST")
    assert "are 59.86% of the stop distance 0.5 (max 25%" in rejected[0].reason


def test_reward_to_risk_is_measured_after_costs() -> None:
    """Stop 10, TP1 at 2 R gross: (20 - 0.285005) / (10 + 0.285005) = 1.9168, below min_rr 2."""
    rows = [(100.0, 100.5, 99.8, 100.0), (100.0, 100.2, 99.9, 100.1)]
    fills, rejected, _ = trade(rows, "90", ("120",), settings())
    assert fills == []
    assert rejected[0].reason == "reward:risk to TP1 is 1.91 after costs (2 before), below the minimum 2 on TEST"


def test_size_is_cut_to_the_leverage_cap_of_its_kind_of_market() -> None:
    """Crypto spot, no costs: 1% over a 0.2 stop is 500 units (50,000 notional), cut to 1x equity: 100 units."""
    rows = [(100.0, 100.5, 99.9, 100.0), (100.0, 100.2, 99.9, 100.1)]
    engine = settings(fees=FeeModel(D(0), D(0)), slippage_bps=D(0), instrument_type="crypto_spot",
                      risk=RiskConfig(max_total_exposure=D(30)))  # fmt: skip
    fills, rejected, system = trade(rows, "99.8", ("101",), engine, market=False)
    assert rejected == []
    assert [(f.price, f.quantity) for f in fills] == [(D("100"), D("100.00"))]
    assert system.costs[SYMBOL].origin == "instrument_type"
