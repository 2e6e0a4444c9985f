"""The detector engine: one object that runs every detector, over a history or candle by candle.

:func:`analyze` is the batch form; :class:`SmcEngine` is the incremental form whose
:meth:`~SmcEngine.update` takes one closed candle. Both feed the same compiled loop
(:mod:`smc_agent.smc.kernel`), so a stream of candles ends in exactly the state a batch run over
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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.candles import Candles, FloatArray, IntArray
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.data.validation import check
from smc_agent.smc import kernel
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

__all__ = ["SCHEMAS", "SmcEngine", "SmcResult", "analyze"]

SCHEMAS = (SWINGS, BREAKS, ORDER_BLOCKS, FVGS, POOLS, RANGES, CALENDAR)  # kernel.T_* order
_PER_CANDLE = np.array([schema.per_candle for schema in SCHEMAS], dtype=np.int64)
_QUARTER_HOUR_MS = 900_000  # zone offsets change on quarter-hour boundaries at the finest


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
                raise ConfigError(
                    f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}", key="detectors"
                )
            enable |= DETECTORS[name]
        self._params, self._params_f, self._windows = self.config.params(parse_timeframe(timeframe), enable)
        self._zones = [ZoneInfo(name) for name in self.config.timezones()]
        self._offset_cache: dict[tuple[int, int], int] = {}
        self._state_i, self._state_f = kernel.initial_state()
        self._n = 0
        capacity = max(capacity, 16)
        self._time = np.zeros(capacity, dtype=np.int64)
        self._ohlcv = np.zeros((5, capacity))
        self._offsets = np.zeros((capacity, len(self._zones)), dtype=np.int64)
        self._series_f = np.full((capacity, L.N_SF), np.nan)
        self._series_i = np.zeros((capacity, L.N_SI), dtype=np.int64)
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
        self._reserve(self._n + n)
        start, end = self._n, self._n + n
        self._time[start:end] = candles.time
        for row, column in enumerate(candles.columns):
            self._ohlcv[row, start:end] = column
        self._offsets[start:end] = self._zone_offsets(candles.time)
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
        if not all(math.isfinite(v) for v in values):
            raise DataError(f"non-finite value in candle at {_iso(time)}: {values}", rule="values finite")
        if high < max(open, close) or low > min(open, close) or volume < 0:
            raise DataError(
                f"inconsistent candle at {_iso(time)}: open={open} high={high} low={low} close={close} "
                f"volume={volume}",
                rule="high >= max(open, close), low <= min(open, close), volume >= 0",
            )
        n = self._n
        self._reserve(n + 1)
        self._time[n] = time
        self._ohlcv[:, n] = values
        for slot, zone in enumerate(self._zones):
            self._offsets[n, slot] = self._offset(slot, zone, time)
        self._n = n + 1
        self._run(n, n + 1)

    def result(self, *, copy: bool = True) -> SmcResult:
        """A snapshot of everything known so far.

        With ``copy=False`` the result shares the engine's buffers, which is only safe when the
        engine is discarded afterwards (as :func:`analyze` does).
        """
        n = self._n
        own = np.copy if copy else np.asarray
        candles = Candles(
            own(self._time[:n]), *(own(self._ohlcv[row, :n]) for row in range(5)),
            symbol=self.symbol, timeframe=self.timeframe,
        )  # fmt: skip
        tables = {
            schema.name: ObjectTable(schema, own(ints[:count]), own(floats[:count]))
            for schema, (ints, floats), count in zip(
                SCHEMAS, self._tables, self._counts.tolist(), strict=True
            )
        }
        return SmcResult(
            candles,
            self.config,
            tables,
            own(self._series_f[:n, L.SF_ATR]),
            own(self._series_i[:n, L.SI_TREND : L.SI_TREND + L.N_SCOPES]),
            own(self._series_f[:n, L.SF_PD_TOP]),
            own(self._series_f[:n, L.SF_PD_BOTTOM]),
            own(self._series_i[:n, L.SI_SESSIONS]),
        )

    def _check_after_last(self, time: int) -> None:
        if self._n and time <= self._time[self._n - 1]:
            last = _iso(int(self._time[self._n - 1]))
            raise DataError(
                f"candle time {_iso(time)} is not after the last processed candle {last}",
                field="time",
                rule="times strictly increasing",
            )

    def _run(self, start: int, end: int) -> None:
        while start < end:
            capacity = np.array([ints.shape[0] for ints, _ in self._tables], dtype=np.int64)
            o, h, lo, c, _ = self._ohlcv
            tables = (array for pair in self._tables for array in pair)
            start = kernel.run(
                start, end, self._time, o, h, lo, c, self._offsets, self._params, self._params_f,
                self._windows, self._state_i, self._state_f, self._series_f, self._series_i,
                *tables, self._counts, capacity, _PER_CANDLE,
            )  # fmt: skip
            if start < end:
                self._grow_tables(end - start)

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

    def _reserve(self, size: int) -> None:
        capacity = self._time.shape[0]
        if size <= capacity:
            return
        capacity = max(size, 2 * capacity)
        self._time = _grown(self._time, capacity)
        self._ohlcv = _grown(self._ohlcv.T, capacity).T.copy()
        self._offsets = _grown(self._offsets, capacity)
        self._series_f = _grown(self._series_f, capacity, np.nan)
        self._series_i = _grown(self._series_i, capacity)

    def _zone_offsets(self, times: IntArray) -> IntArray:
        """UTC offsets in ms of each zone at each time (vectorised for blocks of candles).

        Offsets only change on quarter-hour boundaries, so one conversion per quarter hour
        serves every candle in it; that is the same rule the one-candle path caches by.
        """
        out = np.zeros((times.shape[0], len(self._zones)), dtype=np.int64)
        buckets = times // _QUARTER_HOUR_MS
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        which = np.cumsum(np.r_[True, buckets[1:] != buckets[:-1]]) - 1
        probes = times[starts]
        utc = pd.DatetimeIndex(pd.to_datetime(probes, unit="ms", utc=True))
        for slot, zone in enumerate(self._zones):
            if zone.key != "UTC":
                local = utc.tz_convert(zone).tz_localize(None).as_unit("ms").asi8
                out[:, slot] = (local - probes)[which]
        return out

    def _offset(self, slot: int, zone: ZoneInfo, time: int) -> int:
        key = (slot, time // _QUARTER_HOUR_MS)
        offset = self._offset_cache.get(key)
        if offset is None:
            delta = datetime.fromtimestamp(time / 1000, zone).utcoffset()
            offset = 0 if delta is None else int(delta.total_seconds() * 1000)
            if len(self._offset_cache) > 4096:
                self._offset_cache.clear()
            self._offset_cache[key] = offset
        return offset


def analyze(
    candles: Candles, config: SmcConfig | None = None, *, detectors: Iterable[str] | None = None
) -> SmcResult:
    """Run the detectors over all candles at once (the batch form of :class:`SmcEngine`)."""
    timeframe = candles.timeframe or candles.infer_timeframe()
    if not timeframe:
        raise ConfigError(
            "cannot tell the timeframe of fewer than two candles; pass it explicitly", key="timeframe"
        )
    usable = candles if candles.last_complete else candles[: len(candles) - 1]
    engine = SmcEngine(
        timeframe, config, detectors=detectors, symbol=candles.symbol, capacity=len(usable) + 16
    )
    engine.extend(usable)
    return engine.result(copy=False)


def _grown(array: np.ndarray, capacity: int, fill: float = 0) -> np.ndarray:  # type: ignore[type-arg]
    out = np.full((capacity, *array.shape[1:]), fill, dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


def _iso(ms: int) -> str:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat()
