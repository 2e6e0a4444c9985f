"""UTC offsets of a time zone at any instant, from the zone's change points (no pandas).

The calendar kernel needs each candle's local time in several zones. Offsets change only at
daylight-saving and other transitions, so this keeps, per zone, the sorted instants where the
offset changes, found by probing :mod:`zoneinfo` every few hours and bisecting to the exact
millisecond. A block of candles is then one ``searchsorted``; one candle is one ``bisect``.
Both read the same table, so batch and streaming agree.

>>> ny = ZoneOffsets("America/New_York")  # DST began 2024-03-10 07:00 UTC
>>> hour = 3_600_000
>>> ny.at(1710054000000 - hour) // hour, ny.at(1710054000000 + hour) // hour
(-5, -4)
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["ZoneOffsets"]

_PROBE_MS = 6 * 3_600_000  # no zone changes offset twice within six hours
_AHEAD_MS = 90 * 86_400_000  # streaming extends the table a season at a time


class ZoneOffsets:
    """Offsets (ms east of UTC) of one IANA zone, covering whatever times it has been asked about."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._zone = ZoneInfo(name)
        self._starts: list[int] = []  # instant from which values[k] applies
        self._values: list[int] = []
        self._low = 0
        self._high = -1  # covered interval [low, high]; empty at first

    @property
    def low(self) -> int:
        """First instant the table covers."""
        return self._low

    @property
    def high(self) -> int:
        """Last instant the table covers."""
        return self._high

    @property
    def starts(self) -> list[int]:
        """Instants (epoch ms) from which each offset applies; the first is the covered start."""
        return self._starts

    @property
    def values(self) -> list[int]:
        """The offsets (ms east of UTC) that apply from each of :attr:`starts`."""
        return self._values

    def cover(self, first: int, last: int) -> bool:
        """Make the table cover ``[first, last]`` (and a season beyond); True if it changed."""
        if self._starts and self._low <= first and last <= self._high:
            return False
        low = min(first, self._low) if self._starts else first
        self._cover(low, max(last + _AHEAD_MS, self._high))
        return True

    def at(self, ms: int) -> int:
        """The offset at one instant."""
        self.cover(ms, ms)
        return self._values[bisect_right(self._starts, ms) - 1]

    def _offset(self, ms: int) -> int:
        delta = datetime.fromtimestamp(ms / 1000, self._zone).utcoffset()
        return 0 if delta is None else round(delta.total_seconds() * 1000)

    def _cover(self, low: int, high: int) -> None:
        """Rebuild the change points for [low, high] (extensions are rare, so simply rebuild)."""
        starts, values = [low], [self._offset(low)]
        if self.name != "UTC":
            probe = low
            while probe < high:
                after = min(probe + _PROBE_MS, high)
                value = self._offset(after)
                if value != values[-1]:
                    starts.append(self._change(probe, after, values[-1]))
                    values.append(value)
                probe = after
        self._starts, self._values, self._low, self._high = starts, values, low, high

    def _change(self, before: int, after: int, old: int) -> int:
        # Bisect to the first millisecond with the new offset.
        while after - before > 1:
            middle = (before + after) // 2
            if self._offset(middle) == old:
                before = middle
            else:
                after = middle
        return after
