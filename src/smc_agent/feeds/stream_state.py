"""One live stream's candles (symbol x timeframe): which updates count, and which candles have closed.

A live feed receives updates of the candle still forming, over and over, and must hand each candle on once,
when it has closed, in order, with its final values. :class:`StreamState` holds that decision and nothing
else (no I/O), so the CCXT feed's rules are tested on hand-built updates:

* A candle **counts as closed** when the exchange says so (Binance's ``x`` flag, when the feed can see it),
  when a newer candle arrives, or when its period plus ``grace_ms`` has passed on the clock.
* A candle that closed **without its final update** on an exchange that sends one (the final was lost or
  came out of order) is confirmed by REST before it is delivered: :meth:`closable` says so (``needs_rest``).
  An exchange without the flag has only its latest update, which is delivered as it is.
* The **cursor** is the close time of the last candle delivered (the open time of the next one). An update
  of an earlier candle is a duplicate (same values as delivered) or late (different values): both are
  dropped and counted, never merged; a delivered candle is never changed. A candle beyond the cursor with
  candles missing in between is a **gap**, which the feed fills by REST first.

>>> s = StreamState("BTC/USDT", "1m", cursor=60_000, grace_ms=1_000, flags=True)
>>> s.offer(Bar(60_000, 1, 2, 0.5, 1.5, 10, final=False))
'new'
>>> s.closable(now=119_999)
[]
>>> s.offer(Bar(60_000, 1, 2, 0.5, 1.8, 12, final=True)), [(b.close, rest) for b, rest in s.closable(120_000)]
('update', [(1.8, False)])
>>> s.deliver(s.closable(120_000)[0][0]); s.cursor
120000
>>> s.offer(Bar(60_000, 1, 2, 0.5, 1.8, 12, final=True))
'duplicate'
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from smc_agent.data.timeframes import parse_timeframe

__all__ = ["Bar", "Offer", "StreamState"]

Offer = Literal["new", "update", "duplicate", "late", "stale"]
_RECENT = 32  # delivered candles remembered, to tell a duplicate from a late change


@dataclass(frozen=True, slots=True)
class Bar:
    """One update of a candle: its open time and values; ``final`` True when the exchange marks it closed,
    False when it says it is still forming, None when the exchange does not say."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    final: bool | None = None

    @property
    def values(self) -> tuple[float, float, float, float, float]:
        return (self.open, self.high, self.low, self.close, self.volume)


class StreamState:
    """The candles of one stream between the wire and the consumer (see the module docstring)."""

    def __init__(self, symbol: str, timeframe: str, *, cursor: int | None, grace_ms: int, flags: bool) -> None:
        self.symbol, self.timeframe = symbol, timeframe
        self.tf = parse_timeframe(timeframe)
        self.cursor = cursor
        self.grace_ms = grace_ms
        self.flags = flags  # the exchange marks final updates, and the feed sees the mark
        self.pending: dict[int, Bar] = {}
        self._recent: OrderedDict[int, tuple[float, ...]] = OrderedDict()
        self.duplicates = 0
        self.late = 0
        self.stale = 0

    @property
    def name(self) -> str:
        return f"{self.symbol}@{self.timeframe}"

    def offer(self, bar: Bar) -> Offer:
        """Take one update from the stream; what it was."""
        if self.cursor is not None and bar.time < self.cursor:
            if self._recent.get(bar.time) == bar.values:
                self.duplicates += 1
                return "duplicate"
            self.late += 1
            return "late"
        old = self.pending.get(bar.time)
        if old is not None and old.final:
            if bar.values == old.values:
                self.duplicates += 1
                return "duplicate"
            if not bar.final:  # a forming update that arrived after the final one: out of order
                self.stale += 1
                return "stale"
        self.pending[bar.time] = bar
        return "new" if old is None else "update"

    def closable(self, now: int) -> list[tuple[Bar, bool]]:
        """The pending candles that count as closed at ``now``, oldest first, each with whether REST must
        confirm it (it closed without the final update its exchange sends)."""
        times = sorted(self.pending)
        out: list[tuple[Bar, bool]] = []
        for k, t in enumerate(times):
            bar = self.pending[t]
            if bar.final:
                out.append((bar, False))
            elif k < len(times) - 1 or now >= t + self.tf + self.grace_ms:
                out.append((bar, self.flags))
            else:
                break
        return out

    def forming(self) -> Bar | None:
        """The newest candle not known to be closed, if any."""
        times = [t for t, b in self.pending.items() if not b.final]
        return self.pending[max(times)] if times else None

    def safe(self, open_ms: int, now: int) -> bool:
        """Whether a REST candle opened at ``open_ms`` is surely closed at ``now`` (grace for clock skew)."""
        return open_ms + self.tf + self.grace_ms <= now

    def deliver(self, bar: Bar) -> None:
        """Record ``bar`` as handed on: the cursor moves past it, and older pending updates are dropped."""
        if self.cursor is not None and bar.time < self.cursor:
            raise ValueError(f"{self.name}: candle {bar.time} is before the cursor {self.cursor}")
        self.cursor = bar.time + self.tf
        for t in [t for t in self.pending if t < self.cursor]:
            del self.pending[t]
        self._recent[bar.time] = bar.values
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
