"""Parameter grids: parsing, expansion order, validation that names the key, and building a run."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from optimize_support import btc_head

from smc_agent.backtest.grid import StrategySpec, expand_grid, param_names, parse_grid, plan_grid
from smc_agent.backtest.runner import run_backtest
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.strategy.sma_cross import SmaCross
from smc_agent.strategy.smc import SmcStrategy

SMA = StrategySpec("sma_cross", "BTC-PERP", "1m")
SMC = StrategySpec("smc", "BTC-PERP", "1m", ("15m", "1h"))


@pytest.fixture(scope="module")
def btc_candles(shared_data_path: Callable[[str], Path]) -> Candles:
    return btc_head(shared_data_path)


def test_parse_keeps_order_and_reads_numbers_and_ranges() -> None:
    space = parse_grid(" slow = 20:40:10 ; fast=5, 8 ;stop_fraction=0.01,0.015;risk.risk_per_trade=0.5:1.0:0.25;")
    assert list(space) == ["slow", "fast", "stop_fraction", "risk.risk_per_trade"]
    assert space["slow"] == [20, 30, 40]
    assert all(isinstance(v, int) for v in space["slow"] + space["fast"])
    assert space["stop_fraction"] == [0.01, 0.015]
    assert space["risk.risk_per_trade"] == [0.5, 0.75, 1.0]


def test_float_ranges_do_not_drift() -> None:
    assert parse_grid("min_rr=1:2:0.1")["min_rr"] == [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0]


def test_expansion_varies_the_last_name_fastest() -> None:
    assert expand_grid({"a": [1, 2], "b": [3, 4, 5]}) == [
        {"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 1, "b": 5}, {"a": 2, "b": 3}, {"a": 2, "b": 4}, {"a": 2, "b": 5},
    ]  # fmt: skip
    assert expand_grid({}) == [{}]


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("", "grid", "empty"),
        (" ; ", "grid", "empty"),
        ("fast", "grid", "not name=values"),
        ("=5", "grid", "not name=values"),
        ("fast=5;fast=6", "grid", "twice"),
        ("fast=5,5", "grid", "repeats"),
        ("fast=five", "fast", "not a number"),
        ("fast=5,", "fast", "not a number"),
        ("fast=nan", "fast", "finite"),
        ("fast=5:1:1", "fast", "start <= stop"),
        ("fast=1:5:0", "fast", "step > 0"),
        ("fast=1:5", "fast", "range start:stop:step"),
        ("fast=1:100000:1", "fast", "at most"),
    ],
)
def test_bad_grid_text_names_the_key(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        parse_grid(text)
    assert caught.value.key == key


def test_names_per_strategy() -> None:
    assert {"fast", "slow", "stop_fraction", "risk.risk_per_trade"} <= set(param_names("sma_cross"))
    smc = param_names("smc")
    assert {"min_rr", "a_plus", "stop_buffer_atr", "expiry_candles", "risk.max_trades_per_day"} <= set(smc)
    assert smc["expiry_candles"] == "int"
    assert smc["min_rr"] == "float"
    assert "fast" not in smc
    assert "timeframe_weights" not in smc  # only scalar settings can be gridded
    with pytest.raises(ConfigError, match="unknown strategy") as caught:
        param_names("rsi")
    assert caught.value.key == "strategy"


@pytest.mark.parametrize(
    ("spec", "text", "key"),
    [
        (SMA, "fast=5;slwo=20", "slwo"),
        (SMA, "min_rr=2", "min_rr"),
        (SMC, "fast=5", "fast"),
        (SMC, "risk.bogus=1", "risk.bogus"),
    ],
)
def test_unknown_parameter_names_the_key(spec: StrategySpec, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown parameter for strategy {spec.name}") as caught:
        plan_grid(spec, parse_grid(text))
    assert caught.value.key == key
    assert "choose from" in str(caught.value)


def test_conflicting_combinations_are_skipped_and_reported() -> None:
    plan = plan_grid(SMA, parse_grid("fast=5,30;slow=20,60"))
    assert plan.runs == [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 60}, {"fast": 30, "slow": 60}]
    assert len(plan.skipped) == 1
    params, reason = plan.skipped[0]
    assert params == {"fast": 30, "slow": 20}
    assert "fast < slow" in reason


@pytest.mark.parametrize(
    ("spec", "text", "key", "words"),
    [
        (SMA, "fast=30,40;slow=20", "fast", "fast < slow"),
        (SMA, "fast=5.5", "fast", "whole number"),
        (SMA, "stop_fraction=0,0.01", "stop_fraction", "> 0 and < 1"),
        (SMA, "risk.min_rr=-1,2", "risk.min_rr", ">= 0"),
        (SMA, "risk.max_trades_per_day=0", "risk.max_trades_per_day", ">= 1"),
        (SMC, "a_plus=0.5,1.5", "a_plus", "between 0 and 1"),
        (SMC, "expiry_candles=0,10", "expiry_candles", "at least 1"),
    ],
)
def test_a_value_that_fits_no_combination_is_an_error(spec: StrategySpec, text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        plan_grid(spec, parse_grid(text))
    assert caught.value.key == key


def test_smc_min_rr_moves_the_risk_gate_too_unless_given() -> None:
    strategy, settings = SMC.build({"min_rr": 1.5, "a_plus": 0.7})
    assert isinstance(strategy, SmcStrategy)
    assert settings.risk.min_rr == Decimal("1.5")
    _, settings = SMC.build({"min_rr": 1.5, "risk.min_rr": 3})
    assert settings.risk.min_rr == Decimal("3")
    _, settings = SMC.build({"risk.risk_per_trade": 0.005})
    assert settings.risk.risk_per_trade == Decimal("0.005")
    assert settings.risk.min_rr == Decimal("2.0")  # the configuration's own min_rr
    assert SMC.settings.risk.risk_per_trade == Decimal("0.01")  # the base is not changed


def test_a_built_sma_cross_trades_like_one_made_by_hand(btc_candles: Candles) -> None:
    candles = btc_candles[:2_000]
    strategy, settings = SMA.build({"fast": 5, "slow": 20, "stop_fraction": 0.01})
    built = run_backtest(candles, strategy, settings)
    by_hand = run_backtest(candles, SmaCross("BTC-PERP", 5, 20, 0.01))
    assert built.metrics.trades > 0
    assert built.trades == by_hand.trades
    assert built.equity == by_hand.equity
    # the defaults of what is not in the grid are SmaCross's own
    strategy, settings = SMA.build({"fast": 5})
    assert run_backtest(candles, strategy, settings).trades == run_backtest(candles, SmaCross("BTC-PERP", 5)).trades


def test_a_spec_is_small_and_picklable() -> None:
    data = pickle.dumps(SMC)
    assert len(data) < 2_000
    assert pickle.loads(data) == SMC
