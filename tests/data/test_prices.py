"""Prices written to the instrument's tick."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smc_agent.data.prices import format_price


@pytest.mark.parametrize(
    ("value", "tick", "text"),
    [
        (1.0780442225457927, "0.00001", "1.07804"),
        (1.0570800000000001, "0.00001", "1.05708"),
        (1.05, "0.00001", "1.05000"),
        (38527.4, "1", "38527"),
        (100.13, "0.25", "100.25"),
        (22154.05, "0.05", "22154.05"),
        (0.00000012, "0.00000001", "0.00000012"),
    ],
)
def test_prices_round_to_the_tick(value: float, tick: str, text: str) -> None:
    assert format_price(value, Decimal(tick)) == text


def test_no_price_is_a_dash() -> None:
    assert format_price(None, Decimal("0.01")) == "-"
