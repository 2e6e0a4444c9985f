"""A plain moving-average cross, the yardstick for comparing the engine with other backtesters.

Long when the fast simple moving average of closes crosses above the slow one, short when it crosses
below; each cross flattens the open position and enters the other way at the next open. Every entry
carries a stop ``stop_fraction`` away and a target at three times that distance, because the risk
gate refuses trades without them (3, not 2: the stop is rounded away from the entry at the venue,
which would put an exact 2:1 just under the gate's minimum).
"""

from __future__ import annotations

from collections import deque

from smc_agent.events import CandleClosed, Event
from smc_agent.model.commands import OrderCommand
from smc_agent.model.enums import BUY, SELL
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import Command, Enter, Flatten, Publish

__all__ = ["SmaCross"]


class SmaCross:
    kind = "sma_cross"  # its name in smc_agent.strategy.registry

    def __init__(self, symbol: str, fast: int = 10, slow: int = 30, stop_fraction: float = 0.02) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"need 0 < fast < slow, got {fast} and {slow}")
        self.symbol = symbol
        self._fast, self._slow, self._stop = fast, slow, to_decimal(stop_fraction)
        self._closes: deque[float] = deque(maxlen=slow)
        self._fast_sum = self._slow_sum = 0.0
        self._above: bool | None = None
        self._count = 0

    def on_start(self, publish: Publish) -> None:
        """Nothing to prepare, nothing of its own to publish."""

    def on_event(self, event: Event) -> None:
        """The cross alone decides; fills need no reaction."""

    def warm_up(self, candle: CandleClosed) -> None:
        self._step(candle.close)

    def restore(self, event: Event) -> None:
        """Its state is the closes and the crosses counted (the crosses name its trades)."""
        if isinstance(event, CandleClosed) and self._step(event.close):
            self._count += 1

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        if not self._step(candle.close):
            return []
        self._count += 1
        side = BUY if self._above else SELL
        price = to_decimal(candle.close)
        risk = side.sign * price * self._stop
        stop, target = price - risk, price + 3 * risk
        command = OrderCommand(
            self.symbol, side, price, stop, (target,), f"sma:{self.symbol}:{self._count}", "sma_cross"
        )
        return [Flatten(self.symbol, "opposite cross"), Enter(command, market=True)]

    def _step(self, close: float) -> bool:
        """Take one close into the averages; whether the fast one crossed the slow one at it."""
        closes, fast, slow = self._closes, self._fast, self._slow
        held = len(closes)
        # Running sums: drop the close leaving each window, then add the new one (in that order, always).
        fast_sum = (self._fast_sum - closes[-fast] if held >= fast else self._fast_sum) + close
        slow_sum = (self._slow_sum - closes[0] if held == slow else self._slow_sum) + close
        self._fast_sum, self._slow_sum = fast_sum, slow_sum
        closes.append(close)
        if held + 1 < slow:
            return False
        above = fast_sum / fast > slow_sum / slow
        crossed = self._above is not None and above != self._above
        self._above = above
        return crossed
