"""Candle rules, checked in one vectorised pass, and an explicit opt-in repair for ordering.

Detectors assume clean candles: times strictly increasing, every value finite, every price above
zero, the high above and the low below the body, no negative volume. A file that breaks a rule is refused with the first
offending row (by position), named by file, data row, column and rule, rather than producing quiet
nonsense later. Gaps (a step longer than the timeframe) are normal in real data (weekends, thin
markets, exchange sessions), so they are reported and never filled.

Row numbers: ``rows[i]`` is the 1-based data row of candle ``i`` in its file (the loader keeps
them through sorting); without ``rows`` the position in the candles plus one is used.

>>> import numpy as np
>>> from smc_agent.data.candles import Candles
>>> c = Candles.from_arrays(np.array([0, 60_000, 240_000]), [1, 1, 1], [2, 2, 2], [0.5, 0.5, 0.5], [1, 1, 1],
...                         timeframe="1m")
>>> report = validate(c)
>>> report.ok, report.gap_count, report.gaps()[0].missing
(True, 1, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.core.timefmt import format_time
from smc_agent.data.candles import Candles, IntArray

__all__ = ["FixReport", "Gap", "ValidationReport", "check", "fix", "validate"]

_FIELDS = ("open", "high", "low", "close", "volume")
_NO_INTS: IntArray = np.zeros(0, dtype=np.int64)


def _is_nonfinite(value: float) -> bool:
    return not np.isfinite(value)


def _is_nonpositive(value: float) -> bool:
    return value <= 0


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing candles: ``start`` is the open time of the first missing one, ``end`` the open time of
    the candle that resumes the series (epoch ms), ``missing`` how many candles fit in between."""

    start: int
    end: int
    missing: int


@dataclass(frozen=True, slots=True, eq=False)
class ValidationReport:
    """What :func:`validate` found. ``error`` is the first broken rule (None when all hold)."""

    rows: int
    timeframe: str
    error: DataError | None = None
    gap_start: IntArray = field(default_factory=lambda: _NO_INTS)
    gap_end: IntArray = field(default_factory=lambda: _NO_INTS)
    gap_missing: IntArray = field(default_factory=lambda: _NO_INTS)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def gap_count(self) -> int:
        return int(self.gap_start.shape[0])

    @property
    def missing_candles(self) -> int:
        return int(self.gap_missing.sum())

    def gaps(self, limit: int | None = None) -> list[Gap]:
        """The gaps in time order (the first ``limit`` of them)."""
        stop = self.gap_count if limit is None else min(limit, self.gap_count)
        return [Gap(int(self.gap_start[i]), int(self.gap_end[i]), int(self.gap_missing[i])) for i in range(stop)]

    @property
    def largest_gap(self) -> Gap | None:
        if not self.gap_count:
            return None
        i = int(np.argmax(self.gap_missing))
        return Gap(int(self.gap_start[i]), int(self.gap_end[i]), int(self.gap_missing[i]))


@dataclass(frozen=True, slots=True, eq=False)
class FixReport:
    """What :func:`fix` did: ``moved`` candles changed position when sorted, ``dropped`` exact
    duplicates were removed (their file rows in ``dropped_rows``); ``rows`` are the file rows of
    the candles that remain, in their new order."""

    moved: int
    dropped: int
    rows: IntArray
    dropped_rows: IntArray

    def summary(self) -> str:
        return f"sorted by time ({self.moved} rows moved), dropped {self.dropped} exact duplicate rows"


def validate(
    candles: Candles,
    *,
    path: str | None = None,
    rows: IntArray | None = None,
    columns: Mapping[str, str] | None = None,
    positive_prices: bool = False,
) -> ValidationReport:
    """Check every rule and find the gaps; never raises for bad data (see :func:`check`).

    ``columns`` maps field names to the file's column names so the error uses the file's spelling.
    ``positive_prices=True`` also refuses a price at or below zero: the file readers ask for it,
    since no market they read quotes such a price and one is a broken row; the detectors do not,
    since their arithmetic holds for any finite numbers (hand-built test candles start at zero).
    """
    names = {name: name for name in ("time", *_FIELDS)} | dict(columns or {})
    error = _first_violation(candles, rows, path, names, positive_prices)
    return ValidationReport(len(candles), candles.timeframe, error, *_gaps(candles))


def check(
    candles: Candles,
    *,
    path: str | None = None,
    rows: IntArray | None = None,
    columns: Mapping[str, str] | None = None,
    positive_prices: bool = False,
) -> ValidationReport:
    """Like :func:`validate`, but raise the first broken rule as a DataError."""
    report = validate(candles, path=path, rows=rows, columns=columns, positive_prices=positive_prices)
    if report.error is not None:
        raise report.error
    return report


def fix(candles: Candles, *, rows: IntArray | None = None, path: str | None = None) -> tuple[Candles, FixReport]:
    """Sort by time (stable) and drop rows that repeat the previous row exactly; nothing else.

    Prices are never changed. Two rows with the same time but different values cannot be repaired
    without guessing which is right, so they raise a DataError naming both rows.
    """
    n = len(candles)
    rows = np.arange(1, n + 1, dtype=np.int64) if rows is None else rows
    order = np.argsort(candles.time, kind="stable")
    moved = int(np.count_nonzero(order != np.arange(n)))
    time = candles.time[order]
    values = [column[order] for column in candles.columns]
    same_time = np.zeros(n, dtype=bool)
    same_time[1:] = time[1:] == time[:-1]
    same_values = same_time.copy()
    for column in values:
        same_values[1:] &= (column[1:] == column[:-1]) | (np.isnan(column[1:]) & np.isnan(column[:-1]))
    conflict = same_time & ~same_values
    if conflict.any():
        i = int(np.argmax(conflict))
        raise DataError(
            f"time {format_time(int(time[i]))} also appears at row {rows[order[i - 1]]} with different "
            "values; fix cannot choose between them (rule: unique time)",
            path=path,
            row=int(rows[order[i]]),
            field="time",
            rule="unique time",
        )
    keep = ~same_values
    fixed = Candles.from_arrays(
        time[keep],
        *(column[keep] for column in values),
        symbol=candles.symbol,
        timeframe=candles.timeframe,
        last_complete=candles.last_complete,
    )
    report = FixReport(moved, int(np.count_nonzero(same_values)), rows[order][keep], rows[order][same_values])
    return fixed, report


def _first_violation(
    c: Candles, rows: IntArray | None, path: str | None, names: Mapping[str, str], positive_prices: bool
) -> DataError | None:
    """The error for the earliest row that breaks a rule (ties go to the rule listed first).

    Every mask is a boolean comparison, never an int64 or float temporary, so checking a million
    candles costs a few MB (the detector engine runs this on every block it is given).
    """
    n = len(c)
    finite = np.ones(n, dtype=bool)
    for column in c.columns:
        finite &= np.isfinite(column)
    not_positive = np.zeros(n, dtype=bool)
    for column in (c.open, c.high, c.low, c.close) if positive_prices else ():
        not_positive |= column <= 0
    unordered = np.zeros(n, dtype=bool)
    np.less_equal(c.time[1:], c.time[:-1], out=unordered[1:])

    def row(i: int) -> int:
        return int(rows[i]) if rows is not None else i + 1

    def first_bad(i: int, bad: Callable[[float], bool]) -> str:
        return next(name for name, column in zip(_FIELDS, c.columns, strict=True) if bad(float(column[i])))

    def describe(field: str, i: int) -> str:
        return f"{names[field]} {float(getattr(c, field)[i])!r}"

    def out_of_order(i: int) -> str:
        when, before = format_time(int(c.time[i])), f"row {row(i - 1)}"
        hint = "; fix (--fix) sorts rows and drops exact duplicates"
        if c.time[i] == c.time[i - 1]:
            return f"time {when} repeats the time of {before}{hint}"
        return f"time {when} is earlier than {before} ({format_time(int(c.time[i - 1]))}){hint}"

    rules: list[tuple[npt.NDArray[np.bool_], str, str, Callable[[int], str]]] = [
        (~finite, "", "finite values", lambda i: "value is NaN or infinite"),
        (not_positive, "", "prices > 0", lambda i: f"{describe(first_bad(i, _is_nonpositive), i)} is not above zero"),
        (unordered, "time", "times strictly increasing", out_of_order),
        (
            c.high < c.low,
            "high",
            "high >= low",
            lambda i: f"{describe('high', i)} is below {describe('low', i)}",
        ),
        (
            (c.high < c.open) | (c.high < c.close),
            "high",
            "high >= max(open, close)",
            lambda i: f"{describe('high', i)} is below the body",
        ),
        (
            (c.low > c.open) | (c.low > c.close),
            "low",
            "low <= min(open, close)",
            lambda i: f"{describe('low', i)} is above the body",
        ),
        (c.volume < 0, "volume", "volume >= 0", lambda i: f"{describe('volume', i)} is negative"),
    ]
    first = [int(np.argmax(mask)) if mask.any() else n for mask, *_ in rules]
    k = int(np.argmin(first))
    if first[k] == n:
        return None
    i = first[k]
    _, field, rule, message = rules[k]
    if not field:  # the non-finite rule or the price rule: name the first bad column of that row
        field = first_bad(i, _is_nonfinite if k == 0 else _is_nonpositive)
    return DataError(f"{message(i)} (rule: {rule})", path=path, row=row(i), field=names[field], rule=rule)


def _gaps(c: Candles) -> tuple[IntArray, IntArray, IntArray]:
    """Steps longer than the timeframe, as (first missing open time, resuming open time, count)."""
    try:
        tf = c.timeframe_ms if c.timeframe else 0
    except ConfigError:  # an odd inferred spacing (e.g. "1500ms") has no gaps to speak of
        tf = 0
    if tf <= 0 or len(c) < 2:
        return _NO_INTS, _NO_INTS, _NO_INTS
    after = np.flatnonzero(np.diff(c.time) > tf)
    start = c.time[after] + tf
    end = c.time[after + 1]
    missing = -((start - end) // tf)  # ceil((end - start) / tf): open times that would fit
    return start, end, missing
