"""Resample candles to a higher timeframe, vectorised, with the bucket boundaries exchanges use.

Intraday buckets (anything that is not a whole number of days) are aligned to the Unix epoch in
UTC, as exchanges align their own 5m, 1h or 4h candles. Daily buckets start at 00:00 UTC, or at local
midnight when ``tz`` is given (an Indian index's trading day is one IST date); weekly buckets start
on Monday 00:00 in the same zone, and months (``1M``) on the first of the calendar month there.
A local midnight skipped by a daylight-saving change starts its day at the first existing instant
after it; a repeated one at its first occurrence.

Each source candle goes to the bucket holding its open time, and must also end inside it (a 1h
candle opening at 18:00 UTC straddles the Asia/Kolkata midnight at 18:30 UTC, which is an error
rather than a silent look-ahead). Open is the first open, high the max, low the min, close the last
close and volume the sum. Buckets without source candles are not emitted: gaps stay gaps, and a
bucket with missing source candles (a first bucket the data starts inside, say) is still emitted. The last
bucket is marked incomplete (``last_complete=False``) when its period has not ended, that is when
the last source candle closes before the bucket does (or the source's own last candle is incomplete).

>>> import numpy as np
>>> from smc_agent.data.candles import Candles
>>> m = Candles.from_arrays(np.arange(4) * 60_000, [1, 2, 3, 4], [2, 5, 4, 5], [0.5, 1, 2, 3], [2, 3, 4, 4.5],
...                         [1, 1, 1, 1], timeframe="1m")
>>> h = resample(m, "3m")
>>> h.time.tolist(), h.high.tolist(), h.close.tolist(), h.last_complete
([0, 180000], [5.0, 5.0], [4.0, 4.5], False)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.core.timefmt import format_time, resolve_tz
from smc_agent.data.candles import Candles, FloatArray, IntArray
from smc_agent.data.timeframes import MONTH_MS, STANDARD_TIMEFRAMES, format_timeframe, is_months, parse_timeframe

__all__ = ["aggregate", "bucket_bounds", "group_starts", "group_sums", "resample", "straddle_error"]

_DAY = 86_400_000
_WEEK = 7 * _DAY
_MONDAY = 4 * _DAY  # 1970-01-05 00:00, the first Monday after the epoch, anchors weekly buckets


def resample(candles: Candles, timeframe: str, *, tz: str | None = None, drop_incomplete: bool = False) -> Candles:
    """Candles of ``timeframe`` (a multiple of the source timeframe) built from ``candles``.

    ``tz`` (IANA name) moves daily and weekly boundaries to local midnight; intraday buckets are
    always UTC epoch aligned. ``drop_incomplete=True`` leaves out a last bucket that has not ended.
    The source must be validated (strictly increasing times).
    """
    target = parse_timeframe(timeframe)
    source_label = candles.timeframe or candles.infer_timeframe()
    if not source_label:
        raise ConfigError("the source timeframe is unknown; set the candles' timeframe", key="timeframe")
    source = parse_timeframe(source_label)
    # A calendar month is a whole number of days, so any source that divides a day fills it.
    if not _fills(target, source):
        choices = [
            tf for tf in STANDARD_TIMEFRAMES if _fills(parse_timeframe(tf), source) and parse_timeframe(tf) > source
        ]
        raise ConfigError(f"cannot resample {source_label} candles to {timeframe}: not a whole multiple; choose one "
                          f"of {', '.join(choices) or 'none'} (or another multiple of {source_label})",
                          key="timeframe")  # fmt: skip
    label = format_timeframe(target)
    if len(candles) == 0 or target == source:
        return candles.with_meta(timeframe=label)
    zone = None if tz is None else resolve_tz(tz)
    _require_increasing(candles)
    start, end = bucket_bounds(candles.time, target, tz=zone)
    _require_fit(candles, source, end, label, zone)
    first = group_starts(start)
    complete = candles.last_complete and int(candles.time[-1]) + source >= int(end[-1])
    if not complete and drop_incomplete:
        candles, first, complete = candles[: int(first[-1])], first[:-1], True
    return aggregate(
        first,
        start[first],
        candles.open,
        candles.high,
        candles.low,
        candles.close,
        candles.volume,
        symbol=candles.symbol,
        timeframe=label,
        last_complete=complete,
    )


def _fills(target: int, source: int) -> bool:
    """Whether whole ``source`` candles fill every ``target`` bucket (a calendar month is whole days)."""
    return not (_DAY % source if is_months(target) and not is_months(source) else target % source)


def bucket_bounds(time: IntArray, target: int, *, tz: str | None = None) -> tuple[IntArray, IntArray]:
    """Start and end (epoch ms UTC) of the ``target``-ms bucket that holds each open time in ``time``.

    This is the one bucket rule: :func:`resample` uses it for whole arrays and the streaming
    :class:`~smc_agent.analysis.aggregate.CandleAggregator` for one candle at a time, so the two
    cannot disagree about where a bucket starts or ends. Intraday targets are epoch aligned in UTC
    (``tz`` is ignored); days and weeks start at midnight (weeks on Monday) in ``tz`` (default UTC).
    ``time`` may be in any order.

    >>> bucket_bounds(np.array([0, 3_599_999, 3_600_000]), 3_600_000)
    (array([      0,       0, 3600000]), array([3600000, 3600000, 7200000]))
    >>> start, end = bucket_bounds(np.array([1_709_577_000_000]), 86_400_000, tz="Asia/Kolkata")
    >>> format_time(int(start[0]), "Asia/Kolkata"), format_time(int(end[0]), "Asia/Kolkata")
    ('2024-03-05 00:00:00 IST', '2024-03-06 00:00:00 IST')
    """
    months = is_months(target)
    zone = None if tz is None or (target % _DAY and not months) else resolve_tz(tz)
    wall = time if zone is None else _wall_clock(time, zone)
    if months:
        start, end = _month_bounds(wall, target // MONTH_MS)
    else:
        anchor = _MONDAY if target % _WEEK == 0 else 0
        start = (wall - anchor) // target * target + anchor
        end = start + target
    if zone is None:
        return start, end
    first = group_starts(start)  # local midnights, converted back to UTC once per run
    counts = np.diff(np.append(first, len(time)))
    return np.repeat(_from_wall_clock(start[first], zone), counts), np.repeat(
        _from_wall_clock(end[first], zone), counts
    )


def _month_bounds(wall: IntArray, months: int) -> tuple[IntArray, IntArray]:
    """Start and end of the ``months``-month calendar bucket of each time (epoch-aligned: Jan 1970)."""
    index = wall.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64) // months * months
    start = index.astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64)
    end = (index + months).astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64)
    return start, end


def group_starts(keys: IntArray) -> IntArray:
    """Index of the first row of each run of equal ``keys`` (keys must not decrease).

    >>> group_starts(np.array([5, 5, 6, 9, 9, 9])).tolist()
    [0, 2, 3]
    """
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))).astype(np.int64)


def group_sums(values: FloatArray, first: IntArray) -> FloatArray:
    """Sum of each group of rows starting at ``first``, as :func:`aggregate` sums volume.

    NumPy adds a group as its first value plus a pairwise sum of the rest, which is not the
    running sum a loop would give; the streaming aggregator calls this on each finished bucket so
    that its volumes equal :func:`resample`'s to the last bit.

    >>> group_sums(np.array([0.1, 0.2, 0.3, 1.0]), np.array([0, 3])).tolist(), 0.1 + 0.2 + 0.3
    ([0.6, 1.0], 0.6000000000000001)
    """
    return np.add.reduceat(values, first)


def aggregate(
    first: IntArray,
    time: IntArray,
    open: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
    *,
    symbol: str = "",
    timeframe: str = "",
    last_complete: bool = True,
) -> Candles:
    """One candle per group of rows starting at ``first`` (see :func:`group_starts`), opening at
    ``time``: first open, highest high, lowest low, last close, summed volume. Used for resampling
    and, with open = high = low = close = price, for ticks."""
    if first.size == 0:
        empty = np.zeros(0)
        return Candles.from_arrays(first, empty, empty, empty, empty, empty, symbol=symbol, timeframe=timeframe)
    last = np.append(first[1:], len(open)) - 1
    return Candles.from_arrays(
        time,
        open[first],
        np.maximum.reduceat(high, first),
        np.minimum.reduceat(low, first),
        close[last],
        group_sums(volume, first),
        symbol=symbol,
        timeframe=timeframe,
        last_complete=last_complete,
    )


def _wall_clock(time: IntArray, tz: str) -> IntArray:
    """Epoch ms UTC to the same instants' local wall-clock time in ``tz``, as naive epoch ms."""
    utc = pd.DatetimeIndex(time.astype("datetime64[ms]")).tz_localize("UTC")
    return np.asarray(utc.tz_convert(tz).tz_localize(None).as_unit("ms").asi8, dtype=np.int64)


def _from_wall_clock(wall: IntArray, tz: str) -> IntArray:
    """Local wall-clock midnights back to epoch ms UTC (earliest instant when repeated or skipped)."""
    local = pd.DatetimeIndex(wall.astype("datetime64[ms]"))
    placed = local.tz_localize(tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    return np.asarray(placed.as_unit("ms").asi8, dtype=np.int64)


def _require_increasing(candles: Candles) -> None:
    bad = np.flatnonzero(np.diff(candles.time) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise DataError(
            f"time {format_time(int(candles.time[i]))} does not follow the previous candle; "
            "validate (or fix) the candles before resampling (rule: times strictly increasing)",
            row=i + 1,
            field="time",
            rule="times strictly increasing",
        )


def _require_fit(candles: Candles, source: int, ends_at: IntArray, label: str, tz: str | None) -> None:
    over = np.flatnonzero(candles.time + source > ends_at)
    if over.size:
        i = int(over[0])
        raise straddle_error(int(candles.time[i]), int(ends_at[i]), label, tz, row=i + 1)


def straddle_error(open_ms: int, end_ms: int, label: str, tz: str | None, *, row: int | None = None) -> DataError:
    """The error for a source candle opening at ``open_ms`` that ends after its ``label`` bucket
    closes at ``end_ms``: building that bucket would take in prices from after its close.

    >>> straddle_error(64_800_000, 66_600_000, "1d", "Asia/Kolkata").message[:44]
    'the candle opening 1970-01-01 23:30:00 IST e'
    """
    return DataError(
        f"the candle opening {format_time(open_ms, tz)} ends after its {label} bucket "
        f"closes at {format_time(end_ms, tz)}; use a source timeframe that divides the buckets "
        "(rule: candles fit inside buckets)",
        row=row,
        field="time",
        rule="candles fit inside buckets",
    )
