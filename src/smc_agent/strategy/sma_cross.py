"""A plain moving-average cross, the yardstick for comparing the engine with other backtesters.

Long when the fast simple moving average of closes crosses above the slow one, short when it crosses
below; each cross flattens the open position and enters the other way at the next open. Every entry
carries a stop ``stop_fraction`` away and a target at three times that distance, because the risk
gate refuses trades without them (3, not 2: the stop is rounded away from the entry at the venue,
which would put an exact 2:1 just under the gate's minimum).
"""

from __future__ import annotations

from collections import deque

from smc_agent.core.events import CandleClosed, Event
from smc_agent.engine.risk import OrderCommand
from smc_agent.model.enums import Side
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import Command, Enter, Flatten

__all__ = ["SmaCross"]


class SmaCross:
    def __init__(self, symbol: str, fast: int = 10, slow: int = 30, stop_fraction: float = 0.02) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"need 0 < fast < slow, got {fast} and {slow}")
        self.symbol = symbol
        self._fast, self._slow, self._stop = fast, slow, stop_fraction
        self._closes: deque[float] = deque(maxlen=slow)
        self._sums = [0.0, 0.0]
        self._above: bool | None = None
        self._count = 0

    def on_start(self) -> None:
        """Nothing to prepare."""

    def on_event(self, event: Event) -> None:
        """The cross alone decides; fills need no reaction."""

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        closes = self._closes
        if len(closes) == self._slow:
            self._sums[1] -= closes[0]
        if len(closes) >= self._fast:
            self._sums[0] -= closes[-self._fast]
        closes.append(candle.close)
        self._sums[0] += candle.close
        self._sums[1] += candle.close
        if len(closes) < self._slow:
            return []
        above = self._sums[0] / self._fast > self._sums[1] / self._slow
        crossed = self._above is not None and above != self._above
        self._above = above
        if not crossed:
            return []
        self._count += 1
        side = Side.BUY if above else Side.SELL
        price = to_decimal(candle.close)
        risk = price * to_decimal(self._stop)
        command = OrderCommand(
            symbol=self.symbol,
            side=side,
            entry=price,
            stop=price - side.sign * risk,
            targets=(price + side.sign * 3 * risk,),
            signal_id=f"sma:{self.symbol}:{self._count}",
            setup="sma_cross",
        )
        return [Flatten(self.symbol, "opposite cross"), Enter(command, market=True)]
