"""What can be traded and in what increments: prices in ticks, quantities in lots, Decimal throughout.

Money never passes through a float at the venue boundary. Rounding is always in the direction that
cannot hurt the trader or break a rule, and says so:

* quantities round *down* to the lot size, so a position never risks more than was allowed;
* a limit buy rounds *down* and a limit sell *up* (never pay more, or accept less, than asked);
* a stop rounds *away* from the market it protects: a sell stop down, a buy stop up;
* a simulated fill rounds *against* the trader: buys up, sells down.

>>> eurusd = Instrument("EURUSD", Decimal("0.00001"), Decimal("1000"))
>>> eurusd.round_qty(Decimal("12345.6")), eurusd.round_price(1.079114, Rounding.DOWN)
(Decimal('12000'), Decimal('1.07911'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import Enum

from smc_agent.core.errors import ConfigError

__all__ = ["DOWN", "UP", "Instrument", "Rounding", "to_decimal"]


class Rounding(Enum):
    DOWN = ROUND_FLOOR
    UP = ROUND_CEILING
    NEAREST = ROUND_HALF_EVEN


# Module constants for the hot paths (see smc_agent.model.enums on why).
UP, DOWN = Rounding.UP, Rounding.DOWN


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """A float as the Decimal of its shortest repr (1.07911, not 1.0791099999999999...)."""
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)
    quote_currency: str = ""  # what prices, fees and P&L are counted in (empty: the account's)
    _unit_tick: bool = field(init=False, repr=False, compare=False)
    _unit_lot: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.lot_size <= 0 or self.min_notional < 0:
            raise ConfigError(
                f"{self.symbol}: tick_size and lot_size must be > 0 and min_notional >= 0", key="instrument"
            )
        object.__setattr__(self, "_unit_tick", _is_unit(self.tick_size))
        object.__setattr__(self, "_unit_lot", _is_unit(self.lot_size))

    def round_price(self, price: float | Decimal, rounding: Rounding) -> Decimal:
        return _to_step(to_decimal(price), self.tick_size, rounding, self._unit_tick)

    def round_qty(self, qty: float | Decimal) -> Decimal:
        return _to_step(to_decimal(qty), self.lot_size, DOWN, self._unit_lot)


def _to_step(value: Decimal, step: Decimal, rounding: Rounding, unit: bool) -> Decimal:
    # Not rounding.value or a dict keyed by the member: both run Python code in Enum, slow on a hot path.
    mode = ROUND_CEILING if rounding is UP else ROUND_FLOOR if rounding is DOWN else ROUND_HALF_EVEN
    if unit:  # one quantize rounds to the step: the same value and exponent, five times faster
        return value.quantize(step, rounding=mode)
    steps = (value / step).to_integral_value(rounding=mode)
    return (steps * step).quantize(step)


def _is_unit(step: Decimal) -> bool:
    """Whether ``step`` is a power of ten written with the single digit 1 (0.01 or 1E+3, not 1000)."""
    return step.as_tuple().digits == (1,)
