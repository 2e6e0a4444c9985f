"""The detector engine: one object that runs every detector, over a history or candle by candle.

:func:`analyze` is the batch form; :class:`SmcEngine` is the incremental form whose
:meth:`~SmcEngine.update` takes one closed candle. Both feed the same compiled loop
(:mod:`smc_agent.smc.fused`), so a stream of candles ends in exactly the state a batch run over
the same candles produces.

>>> from smc_agent.data.candles import Candles
>>> import numpy as np
>>> c = Candles.from_arrays(np.arange(4) * 60_000, [1, 2, 3, 2.5], [1.2, 2.2, 3.2, 2.6],
...                         [0.9, 1.9, 2.9, 2.1], [1.1, 2.1, 3.1, 2.45], timeframe="1m")
>>> result = analyze(c, detectors=["fvg"])
>>> [(r["formed_index"], r["confirmed_index"], r["bottom"], r["top"]) for r in result.fvgs.rows()]
[(1, 2, 1.2, 2.9)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles, FloatArray, IntArray
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.data.validation import check
from smc_agent.smc import fused
from smc_agent.smc import layout as L
from smc_agent.smc.calendar import CALENDAR
from smc_agent.smc.config import DETECTORS, SmcConfig
from smc_agent.smc.fvg import FVGS
from smc_agent.smc.liquidity import POOLS
from smc_agent.smc.order_blocks import ORDER_BLOCKS
from smc_agent.smc.ranges import RANGES
from smc_agent.smc.structure import BREAKS
from smc_agent.smc.swings import SWINGS
from smc_agent.smc.tables import ObjectTable
from smc_agent.smc.tz_offsets import ZoneOffsets

__all__ = ["SCHEMAS", "SmcEngine", "SmcResult", "analyze"]

SCHEMAS = (SWINGS, BREAKS, ORDER_BLOCKS, FVGS, POOLS, RANGES, CALENDAR)  # fused.T_* order
# The kernel takes its tables as a flat argument list, which a type checker cannot follow.
_run_kernel: Callable[..., int] = fused.run
_TABLE_INDEX = {schema.name: k for k, schema in enumerate(SCHEMAS)}
_PER_CANDLE = np.array([schema.per_candle for schema in SCHEMAS], dtype=np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class SmcResult:
    """Everything the detectors know after the last candle: object tables and per-candle series."""

    candles: Candles
    config: SmcConfig
    tables: dict[str, ObjectTable]
    atr: FloatArray
    trend: IntArray  # shape (n, 2): trend per scope (internal, swing), -1/0/+1
    pd_top: FloatArray
    pd_bottom: FloatArray
    session_mask: IntArray

    swings = property(lambda self: self.tables["swings"])
    breaks = property(lambda self: self.tables["breaks"])
    order_blocks = property(lambda self: self.tables["order_blocks"])
    fvgs = property(lambda self: self.tables["fvgs"])
    pools = property(lambda self: self.tables["pools"])
    ranges = property(lambda self: self.tables["ranges"])
    calendar = property(lambda self: self.tables["calendar"])

    def as_of(self, k: int) -> SmcResult:
        """What was known after the first ``k`` candles had closed (see :mod:`.tables`)."""
        return SmcResult(
            self.candles[:k],
            self.config,
            {name: table.as_of(k) for name, table in self.tables.items()},
            self.atr[:k],
            self.trend[:k],
            self.pd_top[:k],
            self.pd_bottom[:k],
            self.session_mask[:k],
        )

    def differences(self, other: SmcResult) -> list[str]:
        """Names of the tables and series that differ (empty when the results are identical)."""
        diff = [name for name, table in self.tables.items() if not table.equals(other.tables[name])]
        for name in ("atr", "pd_top", "pd_bottom"):
            if not np.array_equal(getattr(self, name), getattr(other, name), equal_nan=True):
                diff.append(name)
        for name in ("trend", "session_mask"):
            if not np.array_equal(getattr(self, name), getattr(other, name)):
                diff.append(name)
        return diff


class SmcEngine:
    """Incremental detectors for one symbol and timeframe.

    ``detectors`` limits the work to some detectors (and what they depend on); by default all run.
    Candles must arrive closed and in time order; a candle that breaks a validation rule raises
    :class:`DataError` and leaves the engine unchanged.
    """

    def __init__(
        self,
        timeframe: str,
        config: SmcConfig | None = None,
        *,
        detectors: Iterable[str] | None = None,
        symbol: str = "",
        capacity: int = 4096,
    ) -> None:
        self.config = config or SmcConfig()
        self.symbol = symbol
        self.timeframe = timeframe
        enable = 0
        for name in DETECTORS if detectors is None else detectors:
            if name not in DETECTORS:
                raise ConfigError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}", key="detectors")
            enable |= DETECTORS[name]
        self._params, self._params_f, self._windows = self.config.params(parse_timeframe(timeframe), enable)
        self._zones = [ZoneOffsets(name) for name in self.config.timezones()]
        self._state_i, self._state_f = fused.initial_state()
        self._n = 0
        self._view: tuple[int, SmcResult] | None = None  # the last shared-buffer result, by candle count
        capacity = max(capacity, 16)
        self._time = np.zeros(capacity, dtype=np.int64)
        self._ohlcv = [np.zeros(capacity) for _ in range(5)]
        # The kernel writes every series cell of every candle, so buffers start uninitialised;
        # trends and session bits fit in 32 bits.
        self._series_f = np.empty((capacity, L.N_SF))
        self._series_i = np.empty((capacity, L.N_SI), dtype=np.int32)
        self._zone_starts = np.empty((0, 0), dtype=np.int64)
        self._zone_values = np.empty((0, 0), dtype=np.int32)
        self._covered = (0, -1)  # times every zone table covers (empty at first)
        self._args: tuple[Any, ...] | None = None
        self._tables = [schema.empty(max(64, capacity // 8)) for schema in SCHEMAS]
        self._counts = np.zeros(len(SCHEMAS), dtype=np.int64)

    def __len__(self) -> int:
        return self._n

    def extend(self, candles: Candles) -> None:
        """Process a block of closed candles (batch analysis is one call of this)."""
        n = len(candles)
        if n == 0:
            return
        self._check_after_last(int(candles.time[0]))
        check(candles)
        start, end = self._n, self._n + n
        if start == 0 and self._time.shape[0] <= n and _adoptable(candles):
            # A fresh engine reads the caller's arrays in place (the kernel never writes them);
            # growing later copies them, so the caller's candles are never modified.
            self._time, self._ohlcv = candles.time, list(candles.columns)
            self._reserve_series(n)
            self._args = None
        else:
            self._reserve(end)
            self._time[start:end] = candles.time
            for buffer, column in zip(self._ohlcv, candles.columns, strict=True):
                buffer[start:end] = column
        self._cover_zones(int(candles.time[0]), int(candles.time[-1]))
        self._n = end
        self._run(start, end)

    def update(
        self,
        time: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float = 0.0,
    ) -> None:
        """Process one closed candle (open time in epoch milliseconds)."""
        self._check_after_last(time)
        values = (open, high, low, close, volume)
        # One sum is not finite when any value is NaN or infinite; comparisons catch the rest.
        if not (
            math.isfinite(open + high + low + close + volume)
            and low <= min(open, close)
            and high >= max(open, close)
            and volume >= 0
        ):
            # Rare: let the batch validator word the error, so both paths report a rule the same way.
            check(Candles.from_arrays([time], [open], [high], [low], [close], [volume]))
        n = self._n
        self._reserve(n + 1)
        self._time[n] = time
        for buffer, value in zip(self._ohlcv, values, strict=True):
            buffer[n] = value
        self._cover_zones(time, time)
        self._n = n + 1
        self._run(n, n + 1)

    def row_count(self, table: str) -> int:
        """How many rows a table has now (cheap: for callers that react to new rows)."""
        return int(self._counts[_TABLE_INDEX[table]])

    def result(self, *, copy: bool = True) -> SmcResult:
        """A snapshot of everything known so far.

        With ``copy=False`` the result shares the engine's buffers: it is valid until the next
        candle is processed (use it within one update, or when the engine is discarded, as
        :func:`analyze` does).
        """
        n = self._n
        if not copy and self._view is not None and self._view[0] == n:
            return self._view[1]  # nothing changed since: the strategy, bias and targets share one view
        own = np.copy if copy else np.asarray
        o, h, lo, c, v = (own(column[:n]) for column in self._ohlcv)
        candles = Candles(own(self._time[:n]), o, h, lo, c, v, symbol=self.symbol, timeframe=self.timeframe)
        tables = {
            schema.name: ObjectTable(schema, own(ints[:count]), own(floats[:count]))
            for schema, (ints, floats), count in zip(SCHEMAS, self._tables, self._counts.tolist(), strict=True)
        }
        result = SmcResult(
            candles,
            self.config,
            tables,
            own(self._series_f[:n, L.SF_ATR]),
            own(self._series_i[:n, L.SI_TREND : L.SI_TREND + L.N_SCOPES]),
            own(self._series_f[:n, L.SF_PD_TOP]),
            own(self._series_f[:n, L.SF_PD_BOTTOM]),
            own(self._series_i[:n, L.SI_SESSIONS]),
        )
        if not copy:
            self._view = (n, result)
        return result

    def _check_after_last(self, time: int) -> None:
        if self._n and time <= self._time[self._n - 1]:
            last = iso_utc(int(self._time[self._n - 1]))
            raise DataError(
                f"candle time {iso_utc(time)} is not after the last processed candle {last}",
                field="time",
                rule="times strictly increasing",
            )

    def _run(self, start: int, end: int) -> None:
        while start < end:
            start = _run_kernel(start, end, *(self._args or self._kernel_args()))
            if start < end:
                self._grow_tables(end - start)

    def _kernel_args(self) -> tuple[Any, ...]:
        """The kernel's arguments after (start, end); rebuilt only when a buffer is replaced."""
        o, h, lo, c, _ = self._ohlcv  # volume is not used by any detector
        capacity = np.array([ints.shape[0] for ints, _ in self._tables], dtype=np.int64)
        self._args = (
            self._time, o, h, lo, c, self._zone_starts, self._zone_values, self._params, self._params_f,
            self._windows, self._state_i, self._state_f, self._series_f, self._series_i,
            *(array for pair in self._tables for array in pair), self._counts, capacity, _PER_CANDLE,
        )  # fmt: skip
        return self._args

    def _grow_tables(self, pending: int) -> None:
        grown = []
        for schema, (ints, floats), count in zip(SCHEMAS, self._tables, self._counts, strict=True):
            capacity = ints.shape[0]
            if count + schema.per_candle > capacity:
                # Double, but not far beyond what the remaining candles could possibly need.
                size = max(min(2 * capacity, count + schema.per_candle * pending), capacity + 1024)
                new_ints, new_floats = schema.empty(size)
                new_ints[:count] = ints[:count]
                new_floats[:count] = floats[:count]
                ints, floats = new_ints, new_floats
            grown.append((ints, floats))
        self._tables = grown
        self._args = None

    def _reserve(self, size: int) -> None:
        capacity = self._time.shape[0]
        if size > capacity:
            capacity = max(size, 2 * capacity)
            self._time = _grown(self._time, capacity)
            self._ohlcv = [_grown(column, capacity) for column in self._ohlcv]
            self._args = None
        self._reserve_series(capacity)

    def _reserve_series(self, capacity: int) -> None:
        if capacity > self._series_f.shape[0]:
            self._series_f = _grown(self._series_f, capacity)
            self._series_i = _grown(self._series_i, capacity)
            self._args = None

    def _cover_zones(self, first: int, last: int) -> None:
        """Make every zone's change points cover the times the kernel is about to see."""
        if self._covered[0] <= first and last <= self._covered[1]:
            return
        changed = [zone.cover(first, last) for zone in self._zones]
        self._covered = (max(z.low for z in self._zones), min(z.high for z in self._zones))
        if any(changed) or self._zone_starts.size == 0:
            width = max(len(zone.starts) for zone in self._zones)
            # Padding with the largest int64 keeps the kernel's binary search away from it.
            starts = np.full((len(self._zones), width), np.iinfo(np.int64).max, dtype=np.int64)
            values = np.zeros((len(self._zones), width), dtype=np.int32)
            for slot, zone in enumerate(self._zones):
                starts[slot, : len(zone.starts)] = zone.starts
                values[slot, : len(zone.values)] = zone.values
            self._zone_starts, self._zone_values = starts, values
            self._args = None


def analyze(candles: Candles, config: SmcConfig | None = None, *, detectors: Iterable[str] | None = None) -> SmcResult:
    """Run the detectors over all candles at once (the batch form of :class:`SmcEngine`)."""
    timeframe = candles.timeframe or candles.infer_timeframe()
    if not timeframe:
        raise ConfigError("cannot tell the timeframe of fewer than two candles; pass it explicitly", key="timeframe")
    usable = candles if candles.last_complete else candles[: len(candles) - 1]
    engine = SmcEngine(timeframe, config, detectors=detectors, symbol=candles.symbol, capacity=len(usable))
    engine.extend(usable)
    return engine.result(copy=False)


def _adoptable(candles: Candles) -> bool:
    return all(column.flags.c_contiguous for column in (candles.time, *candles.columns))


def _grown(array: np.ndarray, capacity: int) -> np.ndarray:
    out = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    out[: array.shape[0]] = array
    return out
