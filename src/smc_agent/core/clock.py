"""The one source of "now": passed in, never read from the system below the composition root.

Backtests use :class:`SimulatedClock`, advanced by the feed to each candle's close, so a run is
deterministic; paper and live trading use :class:`WallClock`. Code that needs the time asks the
clock it was given.

>>> clock = SimulatedClock()
>>> clock.advance_to(1_700_000_000_000); clock.now_ms()
1700000000000
"""

from __future__ import annotations

import time
from typing import Protocol

from smc_agent.core.errors import SmcAgentError

__all__ = ["Clock", "SimulatedClock", "WallClock"]


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch, UTC."""
        ...


class SimulatedClock:
    """A clock that moves only when told to, and never backwards."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance_to(self, ms: int) -> None:
        if ms < self._now:
            raise SmcAgentError(f"the simulated clock cannot go back from {self._now} to {ms}")
        self._now = ms


class WallClock:
    """The system clock: for paper and live trading only (chosen by the composition root)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000
