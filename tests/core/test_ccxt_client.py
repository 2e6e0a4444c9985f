"""``market_steps``: a market's tick and quantity step in the exchange's precision mode, or an error naming
the setting that supplies them."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import ccxt
import pytest

from smc_agent.core.ccxt_client import market_steps
from smc_agent.core.errors import ConfigError


def exchange(mode: int, precision: dict[str, Any]) -> Any:
    return SimpleNamespace(precisionMode=mode, market=lambda symbol: {"symbol": symbol, "precision": precision})


def test_tick_size_mode_gives_the_steps_themselves() -> None:
    assert market_steps(exchange(ccxt.TICK_SIZE, {"price": 0.01, "amount": 1e-05}), "BTC/USDT") == (
        Decimal("0.01"), Decimal("0.00001"))  # fmt: skip


def test_decimal_places_mode_gives_a_step_per_number_of_decimals() -> None:
    assert market_steps(exchange(ccxt.DECIMAL_PLACES, {"price": 2, "amount": 5}), "BTC/USD") == (
        Decimal("0.01"), Decimal("0.00001"))  # fmt: skip


@pytest.mark.parametrize(("mode", "precision"), [(ccxt.TICK_SIZE, {"price": 0.01}),
                                                 (ccxt.SIGNIFICANT_DIGITS, {"price": 5, "amount": 3})])  # fmt: skip
def test_no_usable_step_names_the_instruments_setting(mode: int, precision: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"no usable (price|amount) step for X/Y; set it in \[instruments.X/Y\]"):
        market_steps(exchange(mode, precision), "X/Y")
