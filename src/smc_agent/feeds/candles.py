"""Ticks to closed candles as they happen: the streaming twin of :meth:`Trades.to_candles`.

A live feed gets trades (or quotes) one at a time, and a strategy wants candles once they have closed.
:class:`CandleBuilder` keeps the candle that is forming and emits it, as a
:class:`~smc_agent.events.CandleClosed`, exactly once, at the first of:

* a tick of a later period: the exchange's own clock says the period is over;
* the session clock reaching the period's end (plus ``grace_ms``), through a ``clock.call_at`` timer:
  a quiet minute must still close, when it ends, not when the next trade happens to come.

Candles follow the batch rules of :mod:`smc_agent.data.ticks`, so that **streaming equals batch**
(a test proves it on real trades and quotes, to the last bit): buckets are epoch aligned in UTC
(``time // timeframe``), open is the first tick, high the highest, low the lowest, close the last and
volume the summed quantity (for quotes: the count of quotes, following the mid, bid or ask). A period
without ticks makes no candle: batch skips it, so the builder skips it too (no flat fill).
The last candle of a batch is complete only if ``end_ms`` reaches its close; here it is emitted when
the clock does, and until then it is :meth:`~CandleBuilder.forming`.

``event_ms`` of an emitted candle is its period's close; ``known_ms`` is ``clock.now_ms()`` when it
is emitted (for the timer, its due time). Tick times are the exchange's; the clock is the session's.

**Late ticks are dropped and counted, never merged.** A tick is late when its candle has already
been emitted, when the session clock has passed its period's end (plus ``grace_ms``), or when it is
older than the last tick taken. Merging the first would change a candle that was already handed
out; taking the second would open a candle that the clock already called over, to be stamped with a
``known_ms`` from before it arrived; taking the third would make a close depend on arrival order,
data that batch refuses. :meth:`~CandleBuilder.add_trade` returns False, :attr:`~CandleBuilder.late_ticks`
counts them, :attr:`~CandleBuilder.late_reason` says why, and a warning is logged once when ticks
start coming late (and an info line once they are on time again), not once per tick. Ticks with a bad
value (a price that is not finite and > 0, a negative quantity) are a DataError, as in batch.

``grace_ms`` (default 0, which is what a backtest wants) delays the close timer, so that a trade
that happened just before the end of a minute but reaches the session just after it still counts.

>>> from smc_agent.core.clock import SimulatedClock
>>> clock, out = SimulatedClock(), []
>>> b = CandleBuilder("BTCUSDT", "1m", clock, out.append)
>>> b.add_trade(0, 10.0, 1.0), b.add_trade(30_000, 12.0, 2.0)
(True, True)
>>> clock.advance_to(60_000)  # no trade in the next minute: the timer closes this one
>>> [(c.time, c.high, c.close, c.volume, c.known_ms) for c in out], b.forming()
([(0, 12.0, 12.0, 3.0, 60000)], None)
>>> b.add_trade(59_000, 11.0, 1.0), b.late_ticks  # its minute was already handed out
(False, 1)
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable

import numpy as np

from smc_agent.core.clock import Clock, Timer
from smc_agent.core.errors import DataError, SmcAgentError
from smc_agent.core.logs import get_logger
from smc_agent.core.timefmt import format_time
from smc_agent.data.resample import group_sums
from smc_agent.data.ticks import PriceSide
from smc_agent.data.timeframes import format_timeframe, parse_timeframe
from smc_agent.events import CandleClosed

__all__ = ["CandleBuilder"]

_log = get_logger(__name__)

_NONE = -(1 << 62)  # earlier than any tick: "no candle forming", "nothing emitted yet"
_FIRST = np.zeros(1, dtype=np.int64)  # one group, starting at row 0, for group_sums


class CandleBuilder:
    """Builds one stream's candles (``symbol`` x ``timeframe``) from ticks, and hands each to ``emit``
    once it has closed.

    ``price=None`` builds trade candles (:meth:`add_trade`); ``"mid"``, ``"bid"`` or ``"ask"`` builds
    quote candles of that price (:meth:`add_quote`), whose volume is the number of quotes. At most
    one close timer is pending at any time: the one of the forming candle.
    """

    __slots__ = (
        "_clock",
        "_close",
        "_closed_until",
        "_emit",
        "_end",
        "_grace",
        "_high",
        "_in_late_run",
        "_label",
        "_last_tick",
        "_late",
        "_late_reason",
        "_low",
        "_open",
        "_price",
        "_start",
        "_stopped",
        "_symbol",
        "_tf",
        "_timer",
        "_volumes",
    )

    def __init__(
        self,
        symbol: str,
        timeframe: str,
        clock: Clock,
        emit: Callable[[CandleClosed], None],
        *,
        price: PriceSide | None = None,
        grace_ms: int = 0,
    ) -> None:
        if price not in (None, "mid", "bid", "ask"):
            raise ValueError(f"price must be None (trades), 'mid', 'bid' or 'ask', not {price!r}")
        if grace_ms < 0:
            raise ValueError(f"grace_ms must be >= 0, got {grace_ms}")
        self._symbol, self._clock, self._emit = symbol, clock, emit
        self._tf = parse_timeframe(timeframe)
        self._label = format_timeframe(self._tf)  # as batch labels it: "60m" is "1h"
        self._price, self._grace = price, grace_ms
        self._start = self._end = self._closed_until = self._last_tick = _NONE
        self._open = self._high = self._low = self._close = 0.0
        # Summed by group_sums when read, as batch sums volume (numpy's pairwise sum, not a running
        # one), so that volumes equal batch's to the last bit; array('d') is 8 bytes a tick.
        self._volumes: array[float] = array("d")
        self._timer: Timer | None = None
        self._late = 0
        self._late_reason: str | None = None
        self._in_late_run = False
        self._stopped = False

    @property
    def timeframe(self) -> str:
        """The timeframe, normalised as batch candles label it."""
        return self._label

    @property
    def late_ticks(self) -> int:
        """How many ticks were dropped as late (see the module docstring)."""
        return self._late

    @property
    def late_reason(self) -> str | None:
        """Why the most recent late tick was dropped, or None if none was."""
        return self._late_reason

    def add_trade(self, time_ms: int, price: float, quantity: float) -> bool:
        """Add one trade (exchange time, epoch ms); False if it was dropped as late.

        A trade of a later period first closes the forming candle (``emit`` is called before this
        returns). DataError for a bad price or quantity, which leaves the builder unchanged.
        """
        if self._price is not None:
            raise SmcAgentError(f"this builder makes {self._price} quote candles; use add_quote")
        _require_price(price, "price")
        if not (math.isfinite(quantity) and quantity >= 0):
            raise DataError(
                f"{quantity!r} breaks rule: quantity finite and >= 0", field="quantity", rule="quantity finite and >= 0"
            )
        return self._add(time_ms, price, quantity)

    def add_quote(self, time_ms: int, bid: float, ask: float) -> bool:
        """Add one best bid/ask update; the candle follows the chosen price and counts quotes."""
        if self._price is None:
            raise SmcAgentError("this builder makes trade candles; use add_trade")
        _require_price(bid, "bid")
        _require_price(ask, "ask")
        side = self._price
        # (bid + ask) / 2 in float64, exactly as batch's numpy expression computes it.
        value = (bid + ask) / 2 if side == "mid" else bid if side == "bid" else ask
        return self._add(time_ms, value, 1.0)

    def forming(self) -> CandleClosed | None:
        """The candle still forming (``event_ms`` is its future close, ``known_ms`` now), or None."""
        if self._start == _NONE:
            return None
        return self._candle(self._clock.now_ms())

    def stop(self) -> None:
        """Cancel the pending close timer (a feed that is shutting down); the forming candle is not
        emitted, since its period has not ended, and no tick is taken after this."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stopped = True

    def _add(self, time_ms: int, price: float, volume: float) -> bool:
        if self._stopped:
            raise SmcAgentError(f"the {self._symbol} {self._label} candle builder is stopped")
        start = time_ms // self._tf * self._tf
        reason = self._lateness(time_ms, start)
        if reason is not None:
            self._drop(time_ms, reason)
            return False
        if self._in_late_run:
            self._in_late_run = False
            _log.info("ticks on time again", symbol=self._symbol, timeframe=self._label, late_ticks=self._late)
        self._last_tick = time_ms
        if start == self._start:
            if price > self._high:
                self._high = price
            if price < self._low:
                self._low = price
            self._close = price
            self._volumes.append(volume)
            return True
        done = self._take() if self._start != _NONE else None  # a later period's tick proves it over
        self._start, self._end = start, start + self._tf
        self._open = self._high = self._low = self._close = price
        self._volumes = array("d", (volume,))
        # One timer per forming candle; _take cancelled the previous one, which a tick beat to it.
        self._timer = self._clock.call_at(self._end + self._grace, self._on_timer)
        if done is not None:  # emitted last, so a failing handler cannot lose this tick
            self._emit(done)
        return True

    def _lateness(self, time_ms: int, start: int) -> str | None:
        if start < self._closed_until:
            return (
                f"its {self._label} candle {format_time(start)} was already emitted "
                f"(candles up to {format_time(self._closed_until)} are closed)"
            )
        deadline = start + self._tf + self._grace
        now = self._clock.now_ms()
        if deadline <= now:
            return (
                f"its {self._label} period ended by the session clock ({format_time(now)}, "
                f"grace {self._grace} ms), so its candle can no longer be opened"
            )
        if time_ms < self._last_tick:
            return f"it is older than the last tick taken ({format_time(self._last_tick)}); ticks must not go back"
        return None

    def _drop(self, time_ms: int, reason: str) -> None:
        self._late += 1
        self._late_reason = reason
        if not self._in_late_run:  # log once per change of state, not once per tick
            self._in_late_run = True
            _log.warning(
                "late tick dropped",
                symbol=self._symbol,
                timeframe=self._label,
                tick=format_time(time_ms),
                reason=reason,
                late_ticks=self._late,
            )

    def _on_timer(self) -> None:
        # Only the forming candle's timer is ever pending (the others were cancelled), so this is
        # the period that has just ended with no tick of a later one.
        self._timer = None
        self._emit(self._take())

    def _take(self) -> CandleClosed:
        """The forming candle, closed now; afterwards none is forming and its timer is cancelled.

        Callers emit it only after the state is updated, so a handler that reads :meth:`forming`, or
        that raises, can never get a candle emitted twice."""
        candle = self._candle(self._clock.now_ms())
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._closed_until = self._end
        self._start = self._end = _NONE
        self._volumes = array("d")
        return candle

    def _candle(self, known_ms: int) -> CandleClosed:
        volume = float(group_sums(np.frombuffer(self._volumes, dtype=np.float64), _FIRST)[0])
        return CandleClosed(
            self._end,
            known_ms,
            self._symbol,
            self._label,
            self._start,
            self._open,
            self._high,
            self._low,
            self._close,
            volume,
        )


def _require_price(value: float, name: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise DataError(f"{value!r} breaks rule: {name} finite and > 0", field=name, rule=f"{name} finite and > 0")
