"""The one source of "now", with timers: passed in, never read from the system below the composition root.

Backtests use :class:`SimulatedClock`, advanced to each candle's close, so a run is deterministic.
Paper trading on a replay uses :class:`ReplayClock`, which maps the wall clock onto market time at a
chosen speed and owns the pacing (the feed never sleeps). Live and paper trading on live data use
:class:`MarketClock`: market time, moved by each candle to its close and by each timer to its due time
as in a backtest, and waiting in wall time for what is still to come, so a session on live data decides
what a backtest over the same candles decides. :class:`WallClock` is the system clock itself, for what
must be computed at the real time (a TOTP login). Code that needs the time asks the clock it was given.

**Timers.** ``call_at(ms, fn)`` runs ``fn`` once when the clock reaches ``ms``; ``every(ms, fn)``
runs it at each multiple of ``ms`` (aligned to the epoch, so a daily timer fires at midnight UTC).
They close a candle whose period has passed without a trade, expire orders, roll the trading day
without waiting for a candle, and beat the heart. Due timers fire in time order (ties in the order
they were set), each with the clock reading its own due time, so whatever a timer publishes is
stamped with the moment it was due. The simulated clock fires them as it advances; a live session
asks the wall clock for :meth:`~Timers.next_due` and calls :meth:`~Timers.fire_due`.

>>> clock = SimulatedClock()
>>> seen = []
>>> _ = clock.call_at(1_500, lambda: seen.append(("once", clock.now_ms())))
>>> _ = clock.every(1_000, lambda: seen.append(("tick", clock.now_ms())))
>>> clock.advance_to(2_000); seen
[('tick', 1000), ('once', 1500), ('tick', 2000)]
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol

from smc_agent.core.errors import SmcAgentError

__all__ = ["Clock", "MarketClock", "ReplayClock", "SimulatedClock", "Timer", "Timers", "WallClock", "system_ms"]

Callback = Callable[[], None]


def system_ms() -> int:
    """The system's time, in epoch ms: the one place below the composition root that reads it."""
    return time.time_ns() // 1_000_000


class Timer:
    """A handle on a scheduled callback: :meth:`cancel` stops it from firing (again)."""

    __slots__ = ("active", "callback", "due", "period")

    def __init__(self, due: int, callback: Callback, period: int | None) -> None:
        self.due, self.callback, self.period, self.active = due, callback, period, True

    def cancel(self) -> None:
        self.active = False


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch, UTC."""
        ...

    def call_at(self, ms: int, callback: Callback) -> Timer:
        """Run ``callback`` once when the clock reaches ``ms`` (at once on the next firing if past)."""
        ...

    def every(self, period_ms: int, callback: Callback) -> Timer:
        """Run ``callback`` at every multiple of ``period_ms`` after now."""
        ...


class Timers:
    """The timer queue that every clock here shares; ``_reading`` is what ``now_ms`` reports while firing."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Timer]] = []
        self._count = 0
        self._reading: int | None = None

    def now_ms(self) -> int:
        raise NotImplementedError

    def call_at(self, ms: int, callback: Callback) -> Timer:
        return self._push(Timer(ms, callback, None))

    def every(self, period_ms: int, callback: Callback) -> Timer:
        if period_ms <= 0:
            raise SmcAgentError(f"a timer period must be > 0 ms, got {period_ms}")
        first = (self.now_ms() // period_ms + 1) * period_ms
        return self._push(Timer(first, callback, period_ms))

    def next_due(self) -> int | None:
        """When the earliest active timer is due, or None."""
        heap = self._heap
        while heap and not heap[0][2].active:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def fire_due(self, until_ms: int) -> None:
        """Fire every timer due at or before ``until_ms``, in time order (timers set while firing too)."""
        heap = self._heap
        while heap and heap[0][0] <= until_ms:
            due, _, timer = heapq.heappop(heap)
            if not timer.active:
                continue
            if timer.period is None:
                timer.active = False
            else:
                timer.due = due + timer.period
                self._push(timer)
            self._reading = due
            try:
                timer.callback()
            finally:
                self._reading = None

    def _push(self, timer: Timer) -> Timer:
        self._count += 1
        heapq.heappush(self._heap, (timer.due, self._count, timer))
        return timer


class SimulatedClock(Timers):
    """A clock that moves only when told to, and never backwards; it fires timers as it passes them."""

    def __init__(self, start_ms: int = 0) -> None:
        super().__init__()
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now if self._reading is None else self._reading

    def advance_to(self, ms: int) -> None:
        if ms < self._now:
            raise SmcAgentError(f"the simulated clock cannot go back from {self._now} to {ms}")
        heap = self._heap
        if heap and heap[0][0] <= ms:  # the common case, no timer due, costs one comparison
            self.fire_due(ms)
        self._now = ms

    def seconds_until(self, ms: int) -> float:
        """A backtest never waits: simulated time moves as fast as the candles come."""
        return 0.0

    def present_ms(self) -> int:
        """When a command that arrives now happens: in simulated time, at the last candle or timer."""
        return self._now

    def restart_at(self, ms: int) -> None:
        """Continue from ``ms``, where a journaled session stopped: a restored system's clock starts at
        its data's first candle, and must not fire timers for the time it already lived through (the
        restore sets the timers that are still due afterwards)."""
        if self.next_due() is not None:
            raise SmcAgentError("a clock can restart only before any timer is set")
        self._now = max(self._now, ms)


class WallClock(Timers):
    """The wall clock (``wall_ms``: the system's, or a test exchange's replay): what a live feed reads to know
    which candles have closed, and what a login computes its one-time password at."""

    def __init__(self, wall_ms: Callable[[], int] = system_ms) -> None:
        super().__init__()
        self._wall = wall_ms

    def now_ms(self) -> int:
        return self._wall() if self._reading is None else self._reading

    def advance_to(self, ms: int) -> None:
        """Fire what is due by now: on a live feed the wall clock, not the candle, says what time it is."""
        self.fire_due(self.now_ms())

    def seconds_until(self, ms: int) -> float:
        """How long to wait, in wall seconds, until the clock reads ``ms`` (0 if it already does)."""
        return max(0.0, (ms - self.now_ms()) / 1000)


class MarketClock(SimulatedClock):
    """The clock of a session on live data: market time, moved forward by what happens.

    A candle is handled at its close and a timer fires at its due time, exactly as in a backtest, so the
    events of a live session are stamped where a backtest over its candles stamps them and come in the
    same order: the session's candles are the proof of what it did (``backtest --session``). A command
    that arrives between candles happens at the wall time of its arrival (:meth:`present_ms`). Waiting for
    what is due is measured on the wall clock (``wall_ms``: the system's, or a test exchange's replay).
    The clock never goes back: a candle that arrives after a timer has moved the clock past its close is
    handled at the clock's time.
    """

    def __init__(self, wall_ms: Callable[[], int] = system_ms, start_ms: int | None = None) -> None:
        super().__init__(wall_ms() if start_ms is None else start_ms)
        self._wall = wall_ms

    def advance_to(self, ms: int) -> None:
        super().advance_to(max(ms, self._now))

    def present_ms(self) -> int:
        return max(self._now, self._wall())

    def seconds_until(self, ms: int) -> float:
        return max(0.0, (ms - self._wall()) / 1000)

    def restart_at(self, ms: int) -> None:
        """Continue from ``ms``, the journal's last moment: the candles that closed while the session was
        down are then handled at their closes, as they would have been."""
        if self.next_due() is not None:
            raise SmcAgentError("a clock can restart only before any timer is set")
        self._now = ms


class ReplayClock(SimulatedClock):
    """The simulated clock of a replayed paper session, with pacing: market time runs ``speed`` times
    faster than the wall clock from ``start_ms``.

    It reads exactly what a backtest's clock reads (each candle is handled at its close), so a paper
    replay gives the backtest's results; what it adds is :meth:`seconds_until`, how long the session
    waits before it hands over the next candle. A day of 1m candles at speed 1440 takes a minute; a
    speed of ``inf`` never waits. The feed never sleeps: the clock owns the pacing.
    """

    def __init__(self, start_ms: int, speed: float, *, wall: Callable[[], float] = time.monotonic) -> None:
        super().__init__(start_ms)
        if not speed > 0:
            raise SmcAgentError(f"a replay speed must be > 0 (a multiple of real time), got {speed}")
        self._start, self._speed, self._wall = start_ms, speed, wall
        self._wall_start = wall()

    def restart_at(self, ms: int) -> None:
        """Continue from ``ms``, paced from now: a resumed replay does not wait for the time it skips."""
        super().restart_at(ms)
        self._start, self._wall_start = self._now, self._wall()

    def seconds_until(self, ms: int) -> float:
        if self._speed == float("inf"):
            return 0.0
        due = self._wall_start + (ms - self._start) / 1000 / self._speed
        return max(0.0, due - self._wall())
