"""Higher-timeframe candles built from a live feed as they close, and never before.

A 15m entry feed needs 1h, 4h and 1d candles for multi-timeframe analysis, and a higher-timeframe
candle may be used only once it has closed: a detector that sees the 4h candle at 10:15 sees
prices from up to 11:59, which is look-ahead. :class:`CandleAggregator` takes one closed source
candle at a time and hands out a target candle at the first source candle that proves it complete:

* the candle whose close reaches the bucket end (15m 00:45 closes an hour at 01:00), or
* the first candle of a later bucket, when data stopped early (a weekend, a halt, a gap): the bucket
  ended before that candle, but a stream learns so only when the candle arrives.

Buckets follow :func:`~smc_agent.data.resample.bucket_bounds`, the rule :func:`~smc_agent.data.resample.resample`
uses, and each emitted bar equals resample's bar for that bucket, to the last bit of every float.

>>> agg = CandleAggregator("15m", "1h")
>>> agg.update(0, 1.0, 2.0, 0.5, 1.5, 10.0), agg.update(2_700_000, 1.5, 3.0, 1.0, 2.5, 5.0)
([], [Bar(time=0, open=1.0, high=3.0, low=0.5, close=2.5, volume=15.0)])
>>> agg.update(3_600_000, 2.5, 2.6, 2.4, 2.6, 1.0), agg.partial() is not None
([], True)
>>> agg.update(10_800_000, 2.6, 2.7, 2.5, 2.7, 1.0)  # 03:00: the 01:00 hour ended in a gap
[Bar(time=3600000, open=2.5, high=2.6, low=2.4, close=2.6, volume=1.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.core.timefmt import format_time, resolve_tz
from smc_agent.data.resample import bucket_bounds, group_sums, straddle_error
from smc_agent.data.timeframes import format_timeframe, parse_timeframe

__all__ = ["Bar", "CandleAggregator"]

_BEFORE_ALL = -(1 << 62)  # earlier than any candle time: "no candle yet" and "no bucket filling"
_FIRST = np.zeros(1, dtype=np.int64)  # one group, starting at row 0, for group_sums


@dataclass(frozen=True, slots=True)
class Bar:
    """One target-timeframe candle: ``time`` is the bucket start (epoch ms UTC), as in Candles.

    A frozen, slotted dataclass rather than a NamedTuple, so a bar is not mistaken for (or equal
    to) a plain tuple. Prices are whatever the feed passed in (plain floats for a live feed).
    """

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class CandleAggregator:
    """Streams ``source_timeframe`` candles into closed ``target_timeframe`` candles.

    ``tz`` (IANA name) moves day and week boundaries to local midnight, exactly as in
    :func:`~smc_agent.data.resample.resample`. The target must be a higher, whole multiple of the
    source (ConfigError naming ``target_timeframe``). Nothing here reads a clock: a bucket is known
    to be over only from the candles fed in. Per candle this is a few comparisons on plain floats;
    NumPy is called only when a bucket starts or is handed out.
    """

    __slots__ = (
        "_close",
        "_end",
        "_high",
        "_label",
        "_last",
        "_low",
        "_open",
        "_source",
        "_start",
        "_target",
        "_tz",
        "_volumes",
    )

    def __init__(self, source_timeframe: str, target_timeframe: str, *, tz: str | None = None) -> None:
        self._source = _timeframe(source_timeframe, "source_timeframe")
        self._target = _timeframe(target_timeframe, "target_timeframe")
        if self._target <= self._source or self._target % self._source:
            raise ConfigError(
                f"cannot aggregate {source_timeframe} candles to {target_timeframe}: the target timeframe "
                "must be a whole multiple of the source timeframe, and higher",
                key="target_timeframe",
            )
        self._label = format_timeframe(self._target)
        self._tz = None if tz is None else resolve_tz(tz)
        self._last = _BEFORE_ALL
        self._start = self._end = _BEFORE_ALL
        self._open = self._high = self._low = self._close = 0.0
        self._volumes: list[float] = []  # summed by group_sums when the bar is handed out

    @property
    def timeframe(self) -> str:
        """The target timeframe, normalised (``"60m"`` becomes ``"1h"``)."""
        return self._label

    def update(self, time_ms: int, open: float, high: float, low: float, close: float, volume: float) -> list[Bar]:
        """Add one closed source candle (open time ``time_ms``; times strictly increasing) and return
        the target bars it proves complete, oldest first: none, one, or two (the bucket that ended in
        a gap before this candle, then this candle's own bucket if this candle closes it).

        Raises DataError for a time that does not follow the previous one, or a candle that ends
        after its bucket does; the aggregator is unchanged by a rejected candle.
        """
        if time_ms <= self._last:
            raise self._out_of_order(time_ms)
        closes_at = time_ms + self._source
        end = self._end
        if time_ms < end:  # the bucket that is filling
            if closes_at > end:
                raise straddle_error(time_ms, end, self._label, self._tz)
            self._last = time_ms
            if high > self._high:
                self._high = high
            if low < self._low:
                self._low = low
            self._close = close
            self._volumes.append(volume)
            return [self._take()] if closes_at == end else []
        start, end = self._bounds(time_ms)
        if closes_at > end:
            raise straddle_error(time_ms, end, self._label, self._tz)
        done = [self._take()] if self._volumes else []  # it ended in a gap; known only now
        self._last = time_ms
        self._start, self._end = start, end
        self._open, self._high, self._low, self._close = open, high, low, close
        self._volumes = [volume]
        if closes_at == end:
            done.append(self._take())
        return done

    def partial(self) -> Bar | None:
        """The bucket still filling, or None. For display only: detectors must not see it."""
        return self._bar() if self._volumes else None

    def _bar(self) -> Bar:
        volume = float(group_sums(np.array(self._volumes, dtype=np.float64), _FIRST)[0])
        return Bar(self._start, self._open, self._high, self._low, self._close, volume)

    def _take(self) -> Bar:
        """The filling bucket as a bar; afterwards no bucket is filling."""
        bar = self._bar()
        self._volumes = []
        self._end = _BEFORE_ALL
        return bar

    def _bounds(self, time_ms: int) -> tuple[int, int]:
        start, end = bucket_bounds(np.array([time_ms], dtype=np.int64), self._target, tz=self._tz)
        return int(start[0]), int(end[0])

    def _out_of_order(self, time_ms: int) -> DataError:
        return DataError(
            f"the candle opening {format_time(time_ms, self._tz)} does not follow the previous one "
            f"({format_time(self._last, self._tz)}); feed closed candles once each, in time order "
            "(rule: times strictly increasing)",
            field="time",
            rule="times strictly increasing",
        )


def _timeframe(text: str, key: str) -> int:
    """A timeframe in ms, or a ConfigError that names the argument."""
    try:
        return parse_timeframe(text)
    except ConfigError as error:
        raise ConfigError(error.message, key=key) from None
