"""The price step of an instrument as its data shows it, and prices written to that step.

A file rarely says its instrument's tick size, but its prices do: EURUSD quotes have five
decimals, BTC-PERP's whole dollars. The trading core rounds orders to this step when no setting
gives one (:meth:`smc_agent.config.engine.EngineSettings.instrument`), and the text output writes
prices to it, so a level reads ``1.05708`` and not ``1.0570800000000001`` or ``1.05708e+00``.

>>> import numpy as np
>>> from smc_agent.data.candles import Candles
>>> c = Candles.from_arrays(np.arange(2) * 60_000, [1.05708, 1.0571], [1.058, 1.0572], [1.056, 1.057],
...                         [1.0571, 1.05712])
>>> tick = price_tick(c)
>>> tick, format_price(1.0570800000000001, tick), format_price(None, tick)
(Decimal('0.00001'), '1.05708', '-')
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from smc_agent.data.candles import Candles

__all__ = ["format_price", "price_tick"]


def price_tick(candles: Candles) -> Decimal:
    """The finest decimal step among the prices (e.g. 0.00001 for EURUSD quotes).

    A step must also keep every non-zero price above zero steps: a price of 0.00000012 is within the
    float tolerance of 0 whole units, and its step is 0.00000001, not 1.
    """
    prices = np.concatenate([candles.open[:5000], candles.close[:5000]])
    for decimals in range(0, 9):
        scaled = prices * 10**decimals
        steps = np.round(scaled)
        if np.allclose(scaled, steps, rtol=0, atol=1e-6) and not np.any((steps == 0) & (prices != 0)):
            return Decimal(1).scaleb(-decimals)
    return Decimal("0.00000001")


def format_price(value: float | None, tick: Decimal) -> str:
    """``value`` rounded to the nearest multiple of ``tick``, with the tick's decimals; ``-`` for None."""
    if value is None:
        return "-"
    exponent = tick.normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    steps = round(Decimal(repr(float(value))) / tick)
    return f"{steps * tick:.{decimals}f}"
